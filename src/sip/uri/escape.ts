/*
 * RFC 3261 §25.1 (from RFC 2396):
 *   escaped = "%" HEXDIG HEXDIG
 * §19.1.4: "Comparison of the userinfo of SIP and SIPS URIs is case-sensitive. This includes userinfo
 * containing passwords or formatted as telephone-subscribers" … "characters other than those in the
 * 'reserved' set (see RFC 2396) are equivalent to their '"%" HEX HEX' encoding."
 */

const HEX = /^[0-9A-Fa-f]{2}$/;

/** Whether every `%` in `text` starts a valid escape (`%` HEXDIG HEXDIG). */
export function isWellEscaped(text: string): boolean {
  for (let i = text.indexOf('%'); i !== -1; i = text.indexOf('%', i + 1)) {
    if (!HEX.test(text.slice(i + 1, i + 3))) return false;
  }
  return true;
}

/**
 * Undoes %HH escapes into bytes and decodes them as UTF-8 (RFC 3261 §25.1 text is UTF-8). A `%00` stays a
 * NUL character: the value is not cut there (RFC 4475 §3.1.1.4, escnull).
 */
export function unescapeUri(text: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && HEX.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else bytes.push(...Buffer.from(text[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}
