/*
 * RFC 3261 §25.1, the part of SIP-URI a plain address uses:
 *   SIP-URI          =  "sip:" [ userinfo ] hostport uri-parameters [ headers ]
 *   userinfo         =  ( user / telephone-subscriber ) [ ":" password ] "@"
 *   user             =  1*( unreserved / escaped / user-unreserved )
 *   user-unreserved  =  "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
 *   hostport         =  host [ ":" port ]
 *   hostname         =  *( domainlabel "." ) toplabel [ "." ]
 *   domainlabel      =  alphanum / alphanum *( alphanum / "-" ) alphanum
 *   uri-parameters   =  *( ";" uri-parameter)
 *   other-param      =  pname [ "=" pvalue ]
 *   paramchar        =  param-unreserved / unreserved / escaped
 *   param-unreserved =  "[" / "]" / "/" / ":" / "&" / "+" / "$"
 *   escaped          =  "%" HEXDIG HEXDIG
 */
import { UNRESERVED } from '../uri/char-classes.js';

function byteTable(chars: string): Uint8Array {
  const table = new Uint8Array(256);
  for (const c of chars) table[c.charCodeAt(0)] = 1;
  return table;
}

/** Characters of a user part, without "?" (a plain address has none) and without "%" (checked as escaped). */
const USER_BYTES = byteTable(`${UNRESERVED}&=+$,;/`);
/** paramchar without "%" (checked as escaped). */
const PARAM_BYTES = byteTable(`${UNRESERVED}[]/:&+$`);

function isAlphanum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/** Index past the run of `table` codes and escapes from `i` (no further than `end`), or -1 at a "%" that is not one. */
function escapedRunAt(b: Uint8Array, i: number, end: number, table: Uint8Array): number {
  while (i < end) {
    const c = b[i]!;
    if (c === 0x25) {
      if (i + 3 > end || !isHex(b[i + 1]!) || !isHex(b[i + 2]!)) return -1;
      i += 3;
    } else if (table[c] === 1) i++;
    else return i;
  }
  return i;
}

/** Index past a hostname or IPv4address (both `*( label "." ) label [ "." ]`) from `i`, or -1. */
function hostnameEndAt(b: Uint8Array, i: number, end: number): number {
  for (;;) {
    // label = alphanum / alphanum *( alphanum / "-" ) alphanum
    if (i >= end || !isAlphanum(b[i]!)) return -1;
    let last = b[i++]!;
    while (i < end) {
      const c = b[i]!;
      if (c !== 0x2d && !isAlphanum(c)) break;
      last = c;
      i++;
    }
    if (last === 0x2d) return -1;
    if (i >= end || b[i] !== 0x2e) return i;
    i++; // past "."
    if (i >= end || !isAlphanum(b[i]!)) return i;
  }
}

/**
 * isPlainSipUri (plain-sip-uri.ts) over codes: whether `b[start, end)` is a plain sip or sips URI —
 * `sip:[user@]host[:port][;params]` with a hostname or IPv4 address, no password, no `?headers`, no IPv6
 * reference — that is well-formed. Every URI it accepts, parseUri accepts too (the same verdicts as
 * isPlainSipUri: test/sip/eager-byte-scanners.test.ts).
 */
export function isPlainSipUriAt(b: Uint8Array, start: number, end: number): boolean {
  return plainSipUriEnd(b, start, end) === end;
}

/**
 * Where the plain sip or sips URI at `start` ends (before `end`): the index of the first code that is not part of
 * it, or -1 when what precedes that code is not a plain URI (isPlainSipUriAt of `b[start, index)`). No code of a
 * plain URI is ">", so in `<…>` the URI is plain when this index is that of the first ">".
 */
export function plainSipUriEnd(b: Uint8Array, start: number, end: number): number {
  let i = start;
  if (end - start < 4) return -1;
  if ((b[i]! | 0x20) !== 0x73 || (b[i + 1]! | 0x20) !== 0x69 || (b[i + 2]! | 0x20) !== 0x70) return -1;
  i += 3;
  if ((b[i]! | 0x20) === 0x73) i++;
  if (i >= end || b[i] !== 0x3a) return -1;
  i++;
  // userinfo: parseSipUri ends it at the first "@" of the rest. The user's characters are read from the start;
  // when they end elsewhere than at an "@", there is no userinfo — or an "@" further on, which no character of a
  // host, port or parameter is, so that reading them from the start refuses it.
  const user = escapedRunAt(b, i, end, USER_BYTES);
  if (user === -1) return -1;
  if (user < end && b[user] === 0x40) {
    if (user === i) return -1;
    i = user + 1;
  }
  i = hostnameEndAt(b, i, end);
  if (i === -1) return -1;
  if (i < end && b[i] === 0x3a) {
    // port = 1*DIGIT, at most 5 digits and at most 65535, followed by the parameters or the end.
    let port = 0;
    const digits = ++i;
    while (i < end) {
      const c = b[i]!;
      if (c < 0x30 || c > 0x39) break;
      port = port * 10 + (c - 0x30);
      i++;
    }
    if (i === digits || i - digits > 5 || port > 65535) return -1;
  }
  // uri-parameters = *( ";" pname [ "=" pvalue ] ), pname = 1*paramchar, pvalue = *paramchar
  while (i < end && b[i] === 0x3b) {
    const name = i + 1;
    i = escapedRunAt(b, name, end, PARAM_BYTES);
    if (i <= name) return -1;
    if (i < end && b[i] === 0x3d) {
      i = escapedRunAt(b, i + 1, end, PARAM_BYTES);
      if (i === -1) return -1;
    }
  }
  return i;
}
