/**
 * Text from the API made safe for one terminal line: control characters (C0, DEL, C1: line breaks, escape
 * sequences a SIP header or a problem's detail might carry) are shown as `\xNN` instead of acting.
 */
export function printable(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    out += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? `\\x${code.toString(16).padStart(2, '0')}` : char;
  }
  return out;
}
