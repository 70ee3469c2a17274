/*
 * RFC 3261 §25.1:
 *   Request-Line   =  Method SP Request-URI SP SIP-Version CRLF
 *   Status-Line    =  SIP-Version SP Status-Code SP Reason-Phrase CRLF
 *   SIP-Version    =  "SIP" "/" 1*DIGIT "." 1*DIGIT
 *   Status-Code    =  extension-code / …;  extension-code  =  3DIGIT
 *   Method         =  INVITEm / … / extension-method;  extension-method  =  token
 */
import { SipParseError } from '../errors.js';
import { parseUri } from '../uri/parse-uri.js';
import { isSipUri } from '../uri/uri-types.js';
import { isSipTwoAt, wordAt } from '../headers/byte-scan.js';
import type { SipRequest, SipResponse } from './sip-message.js';

/** token characters (§25.1), by code. */
const TOKEN = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~") {
  TOKEN[c.charCodeAt(0)] = 1;
}
/** The characters of a plain Request-URI's user part, host and parameters. */
const USER = codes("-_.!~*'()&=+$,;");
const HOST = codes('-.');
const PARAM = codes("-_.!~*'()&=+$");
const DIGITS = new Uint8Array(256).fill(1, 0x30, 0x3a);

function codes(marks: string): Uint8Array {
  const table = new Uint8Array(256);
  for (const c of `ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789${marks}`) {
    table[c.charCodeAt(0)] = 1;
  }
  return table;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/*
 * The start line is read over its codes `b` (the message's bytes: a latin1 text has one character per byte,
 * so that `b` and the text `line` agree index for index; or codesOf of an unfolded line), its words cut from
 * `line`.
 */

/** Whether `b` has "sip" in any case at `i`. */
function sipAt(b: Uint8Array, i: number): boolean {
  return (b[i]! | 0x20) === 0x73 && (b[i + 1]! | 0x20) === 0x69 && (b[i + 2]! | 0x20) === 0x70;
}

/** Whether the line `b[from, to)` starts with "SIP/" in any case: the start line of a response. */
export function isStatusLine(b: Uint8Array, from: number, to: number): boolean {
  return to - from >= 4 && sipAt(b, from) && b[from + 3] === 0x2f;
}

function runOf(b: Uint8Array, i: number, to: number, table: Uint8Array): number {
  while (i < to && table[b[i]!] === 1) i++;
  return i;
}

/** The first SP in `line[i, to)`, or -1 (found by the string's indexOf, not a loop over codes). */
function spaceAt(line: string, i: number, to: number): number {
  const sp = line.indexOf(' ', i);
  return sp < to ? sp : -1;
}

/**
 * Whether the Request-URI `b[from, to)` is a plain `sip:user@host[:port][;params]` — no `?headers`, escapes,
 * brackets or quotes — which needs no full parse here: the parse only looks for URI headers, and the UAS checks
 * the rest (§8.2.2.1, 416). The user part is what precedes the one "@"; the port 1 to 5 digits.
 */
function isPlainRequestUri(b: Uint8Array, line: string, from: number, to: number): boolean {
  if (to - from < 4 || !sipAt(b, from)) return false;
  let i = from + 3;
  if ((b[i]! | 0x20) === 0x73) i++;
  if (i >= to || b[i] !== 0x3a) return false;
  i++;
  const at = line.indexOf('@', i);
  if (at !== -1 && at < to) {
    if (at === i || runOf(b, i, to, USER) !== at) return false;
    i = at + 1;
  }
  const host = i;
  i = runOf(b, i, to, HOST);
  if (i === host) return false;
  if (i < to && b[i] === 0x3a) {
    const digits = ++i;
    i = runOf(b, i, to, DIGITS);
    if (i === digits || i - digits > 5) return false;
  }
  while (i < to) {
    if (b[i] !== 0x3b) return false;
    const name = ++i;
    i = runOf(b, i, to, PARAM);
    if (i === name) return false;
  }
  return true;
}

function badLine(why: string): SipParseError {
  return new SipParseError('SIP_PARSE_START_LINE', why);
}

/** Whether `b[from, to)` is "SIP/2.0" exactly (upper case). */
function isSipTwo(b: Uint8Array, from: number, to: number): boolean {
  return to - from === 7 && isSipTwoAt(b, from, to);
}

/** Whether `b[from, to)` is "SIP" "/" 1*DIGIT "." 1*DIGIT, the name in any case. */
function isSipVersion(b: Uint8Array, from: number, to: number): boolean {
  if (!isStatusLine(b, from, to)) return false;
  const major = from + 4;
  const dot = runOf(b, major, to, DIGITS);
  return dot > major && dot < to && b[dot] === 0x2e && dot + 1 < to && runOf(b, dot + 1, to, DIGITS) === to;
}

/** The Request-Line `line[from, to)`, read over its codes `b`. */
export function parseRequestLine(
  b: Uint8Array,
  line: string,
  from: number,
  to: number,
): Pick<SipRequest, 'method' | 'uri' | 'version'> {
  // §25.1: Request-Line = Method SP Request-URI SP SIP-Version CRLF — single spaces, no LWS (RFC 4475
  // §3.1.2.9 lwsruri, §3.1.2.10 lwsstart, §3.1.2.11 trws).
  // The method's token characters: a space right after them is the line's first (no token character is one).
  const methodEnd = runOf(b, from, to, TOKEN);
  const sp1 = methodEnd < to && b[methodEnd] === 0x20 ? methodEnd : spaceAt(line, from, to);
  const sp2 = sp1 === -1 ? -1 : spaceAt(line, sp1 + 1, to);
  // "SIP/2.0" as nearly every request has it: no space in it, and the version checks below hold for it.
  const sipTwo = sp2 !== -1 && isSipTwo(b, sp2 + 1, to);
  const sp3 = sp2 === -1 || sipTwo ? -1 : spaceAt(line, sp2 + 1, to);
  if (sp1 <= from || sp2 <= sp1 + 1 || sp2 === to - 1 || sp3 !== -1) {
    throw badLine(`malformed request line "${line.slice(from, Math.min(to, from + 80))}"`);
  }
  const method = wordAt(b, line, from, sp1);
  if (methodEnd !== sp1) throw badLine(`invalid method "${method}"`);
  if (!sipTwo) {
    // §8.2.2 / §21.5.7: a request of another SIP version is answered 505 (RFC 4475 §3.1.2.15, badvers).
    if (!isSipVersion(b, sp2 + 1, to)) throw badLine(`invalid SIP-Version "${line.slice(sp2 + 1, to)}"`);
    if (to - sp2 - 1 !== 7 || b[sp2 + 5] !== 0x32 || b[sp2 + 7] !== 0x30) {
      throw new SipParseError('SIP_PARSE_VERSION', `unsupported version ${line.slice(sp2 + 1, to)}`);
    }
  }
  const version = sipTwo ? 'SIP/2.0' : wordAt(b, line, sp2 + 1, to);
  const uri = line.slice(sp1 + 1, sp2);
  if (b[sp1 + 1] === 0x3c) throw badLine(`Request-URI in <> "${uri.slice(0, 80)}"`);
  const parsed = isPlainRequestUri(b, line, sp1 + 1, sp2) ? undefined : parseUri(uri);
  // §19.1.1 Table 1: headers are "not allowed" in a SIP Request-URI (RFC 4475 §3.1.2.11, escruri).
  if (parsed && isSipUri(parsed) && parsed.headers.length > 0) {
    throw badLine(`headers in a SIP Request-URI "${uri.slice(0, 80)}"`);
  }
  return { method, uri, version };
}

/** The Status-Line `line[from, to)`, read over its codes `b`. */
export function parseStatusLine(
  b: Uint8Array,
  line: string,
  from: number,
  to: number,
): Pick<SipResponse, 'status' | 'reason' | 'version'> {
  // §25.1: Status-Code = 3DIGIT; §21: classes 1xx-6xx only (RFC 4475 §3.1.2.18, bigcode).
  const c = from + 8;
  const c0 = b[c]!;
  if (
    to - from < 12 ||
    !isStatusLine(b, from, to) ||
    b[from + 4] !== 0x32 ||
    b[from + 5] !== 0x2e ||
    b[from + 6] !== 0x30 ||
    b[from + 7] !== 0x20 ||
    c0 < 0x31 ||
    c0 > 0x36 ||
    !isDigit(b[c + 1]!) ||
    !isDigit(b[c + 2]!) ||
    b[c + 3] !== 0x20
  ) {
    throw new SipParseError(
      'SIP_PARSE_RESPONSE',
      `malformed status line "${line.slice(from, Math.min(to, from + 80))}"`,
    );
  }
  const status = (c0 - 0x30) * 100 + (b[c + 1]! - 0x30) * 10 + (b[c + 2]! - 0x30);
  return { status, reason: line.slice(from + 12, to), version: wordAt(b, line, from, from + 7) };
}
