/*
 * RFC 3261 §25.1, the character classes of a URI, as tables by char code:
 *   unreserved       =  alphanum / mark
 *   mark             =  "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
 *   escaped          =  "%" HEXDIG HEXDIG
 *   hostname         =  *( domainlabel "." ) toplabel [ "." ]
 *   domainlabel      =  alphanum / alphanum *( alphanum / "-" ) alphanum
 *   toplabel         =  ALPHA / ALPHA *( alphanum / "-" ) alphanum
 *   IPv4address      =  1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
 * (a toplabel is read as a domainlabel: an IPv4address is then a hostname too, and both are one rule here).
 */

/** unreserved = alphanum / mark (§25.1). */
export const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()";

/** A table of the char codes of `chars` (ASCII): 1 for each, 0 for every other code below 128. */
export function charTable(chars: string): Uint8Array {
  const table = new Uint8Array(128);
  for (const c of chars) table[c.charCodeAt(0)] = 1;
  return table;
}

/** user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/" */
export const USER_CHARS = charTable(`${UNRESERVED}&=+$,;?/`);
/** password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," ) */
export const PASSWORD_CHARS = charTable(`${UNRESERVED}&=+$,`);
/** paramchar = param-unreserved / unreserved / escaped; param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$" */
export const PARAM_CHARS = charTable(`${UNRESERVED}[]/:&+$`);
/** hname = 1*( hnv-unreserved / unreserved / escaped ), hvalue the same with * for 1*; hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$" */
export const HNV_CHARS = charTable(`${UNRESERVED}[]/?:+$`);
/** uric = reserved / unreserved / escaped (RFC 2396, absoluteURI's opaque part). */
export const URIC_CHARS = charTable(`${UNRESERVED};/?:@&=+$,`);

export function isAlphanum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
}

export function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/**
 * Index past the run of `table` characters and escapes in `s` from `i` (no further than `end`), or -1 at a
 * "%" that does not start an escape.
 */
export function escapedRun(s: string, i: number, end: number, table: Uint8Array): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      if (i + 3 > end || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return -1;
      i += 3;
    } else if (table[c] === 1) i++;
    else return i;
  }
  return i;
}

/** Whether `s[start, end)` is all `table` characters and escapes; `nonEmpty` asks for at least one. */
export function isEscapedRun(
  s: string,
  start: number,
  end: number,
  table: Uint8Array,
  nonEmpty: boolean,
): boolean {
  return (!nonEmpty || end > start) && escapedRun(s, start, end, table) === end;
}

/** Index past a hostname or IPv4address (both `*( label "." ) label [ "." ]`) in `s` from `i`, or -1. */
export function hostnameEnd(s: string, i: number, end: number): number {
  for (;;) {
    // label = alphanum / alphanum *( alphanum / "-" ) alphanum
    if (i >= end || !isAlphanum(s.charCodeAt(i))) return -1;
    let last = s.charCodeAt(i++);
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c !== 0x2d && !isAlphanum(c)) break;
      last = c;
      i++;
    }
    if (last === 0x2d) return -1;
    if (i >= end || s.charCodeAt(i) !== 0x2e) return i;
    i++; // past "."
    if (i >= end || !isAlphanum(s.charCodeAt(i))) return i;
  }
}
