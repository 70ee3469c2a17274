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
import { sliceWord } from '../headers/words.js';
import type { SipRequest, SipResponse } from './sip-message.js';

/** token characters (§25.1), by char code. */
const TOKEN = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~") {
  TOKEN[c.charCodeAt(0)] = 1;
}
/** The characters of a plain Request-URI's user part, host and parameters. */
const USER = codes("-_.!~*'()&=+$,;");
const HOST = codes('-.');
const PARAM = codes("-_.!~*'()&=+$");
const DIGITS = new Uint8Array(128).fill(1, 0x30, 0x3a);

function codes(marks: string): Uint8Array {
  const table = new Uint8Array(128);
  for (const c of `ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789${marks}`) {
    table[c.charCodeAt(0)] = 1;
  }
  return table;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Whether `s` has "sip" in any case at `i`. */
function sipAt(s: string, i: number): boolean {
  return (
    (s.charCodeAt(i) | 0x20) === 0x73 &&
    (s.charCodeAt(i + 1) | 0x20) === 0x69 &&
    (s.charCodeAt(i + 2) | 0x20) === 0x70
  );
}

/** Whether the line `s[from, to)` starts with "SIP/" in any case: the start line of a response. */
export function isStatusLine(s: string, from = 0, to = s.length): boolean {
  return to - from >= 4 && sipAt(s, from) && s.charCodeAt(from + 3) === 0x2f;
}

function runOf(s: string, i: number, to: number, table: Uint8Array): number {
  while (i < to && table[s.charCodeAt(i)] === 1) i++;
  return i;
}

/**
 * Whether the Request-URI `s[from, to)` is a plain `sip:user@host[:port][;params]` — no `?headers`, escapes,
 * brackets or quotes — which needs no full parse here: the parse only looks for URI headers, and the UAS checks
 * the rest (§8.2.2.1, 416). The user part is what precedes the one "@"; the port 1 to 5 digits.
 */
function isPlainRequestUri(s: string, from: number, to: number): boolean {
  if (to - from < 4 || !sipAt(s, from)) return false;
  let i = from + 3;
  if ((s.charCodeAt(i) | 0x20) === 0x73) i++;
  if (i >= to || s.charCodeAt(i) !== 0x3a) return false;
  i++;
  const at = s.indexOf('@', i);
  if (at !== -1 && at < to) {
    if (at === i || runOf(s, i, to, USER) !== at) return false;
    i = at + 1;
  }
  const host = i;
  i = runOf(s, i, to, HOST);
  if (i === host) return false;
  if (i < to && s.charCodeAt(i) === 0x3a) {
    const digits = ++i;
    i = runOf(s, i, to, DIGITS);
    if (i === digits || i - digits > 5) return false;
  }
  while (i < to) {
    if (s.charCodeAt(i) !== 0x3b) return false;
    const name = ++i;
    i = runOf(s, i, to, PARAM);
    if (i === name) return false;
  }
  return true;
}

function badLine(why: string): SipParseError {
  return new SipParseError('SIP_PARSE_START_LINE', why);
}

/** Whether `s[from, to)` is "SIP" "/" 1*DIGIT "." 1*DIGIT, the name in any case. */
function isSipVersion(s: string, from: number, to: number): boolean {
  if (!isStatusLine(s, from, to)) return false;
  const major = from + 4;
  const dot = runOf(s, major, to, DIGITS);
  return (
    dot > major &&
    dot < to &&
    s.charCodeAt(dot) === 0x2e &&
    dot + 1 < to &&
    runOf(s, dot + 1, to, DIGITS) === to
  );
}

/** The Request-Line `line`, or its part `[from, to)` (the start line within a message's text). */
export function parseRequestLine(
  line: string,
  from = 0,
  to = line.length,
): Pick<SipRequest, 'method' | 'uri' | 'version'> {
  // §25.1: Request-Line = Method SP Request-URI SP SIP-Version CRLF — single spaces, no LWS (RFC 4475
  // §3.1.2.9 lwsruri, §3.1.2.10 lwsstart, §3.1.2.11 trws).
  let sp1 = line.indexOf(' ', from);
  if (sp1 >= to) sp1 = -1;
  let sp2 = sp1 === -1 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp2 >= to) sp2 = -1;
  const sp3 = sp2 === -1 ? -1 : line.indexOf(' ', sp2 + 1);
  if (sp1 <= from || sp2 <= sp1 + 1 || sp2 === to - 1 || (sp3 !== -1 && sp3 < to)) {
    throw badLine(`malformed request line "${line.slice(from, Math.min(to, from + 80))}"`);
  }
  const method = sliceWord(line, from, sp1);
  if (runOf(line, from, sp1, TOKEN) !== sp1) throw badLine(`invalid method "${method}"`);
  const version = sliceWord(line, sp2 + 1, to);
  if (!isSipVersion(line, sp2 + 1, to)) throw badLine(`invalid SIP-Version "${version}"`);
  // §8.2.2 / §21.5.7: a request of another SIP version is answered 505 (RFC 4475 §3.1.2.15, badvers).
  if (version.length !== 7 || version.charCodeAt(4) !== 0x32 || version.charCodeAt(6) !== 0x30) {
    throw new SipParseError('SIP_PARSE_VERSION', `unsupported version ${version}`);
  }
  const uri = line.slice(sp1 + 1, sp2);
  if (uri.charCodeAt(0) === 0x3c) throw badLine(`Request-URI in <> "${uri.slice(0, 80)}"`);
  const parsed = isPlainRequestUri(line, sp1 + 1, sp2) ? undefined : parseUri(uri);
  // §19.1.1 Table 1: headers are "not allowed" in a SIP Request-URI (RFC 4475 §3.1.2.11, escruri).
  if (parsed && isSipUri(parsed) && parsed.headers.length > 0) {
    throw badLine(`headers in a SIP Request-URI "${uri.slice(0, 80)}"`);
  }
  return { method, uri, version };
}

/** The Status-Line `line`, or its part `[from, to)` (the start line within a message's text). */
export function parseStatusLine(
  line: string,
  from = 0,
  to = line.length,
): Pick<SipResponse, 'status' | 'reason' | 'version'> {
  // §25.1: Status-Code = 3DIGIT; §21: classes 1xx-6xx only (RFC 4475 §3.1.2.18, bigcode).
  const c = from + 8;
  const c0 = line.charCodeAt(c);
  if (
    to - from < 12 ||
    !isStatusLine(line, from, to) ||
    line.charCodeAt(from + 4) !== 0x32 ||
    line.charCodeAt(from + 5) !== 0x2e ||
    line.charCodeAt(from + 6) !== 0x30 ||
    line.charCodeAt(from + 7) !== 0x20 ||
    c0 < 0x31 ||
    c0 > 0x36 ||
    !isDigit(line.charCodeAt(c + 1)) ||
    !isDigit(line.charCodeAt(c + 2)) ||
    line.charCodeAt(c + 3) !== 0x20
  ) {
    throw new SipParseError(
      'SIP_PARSE_RESPONSE',
      `malformed status line "${line.slice(from, Math.min(to, from + 80))}"`,
    );
  }
  const status = (c0 - 0x30) * 100 + (line.charCodeAt(c + 1) - 0x30) * 10 + (line.charCodeAt(c + 2) - 0x30);
  return { status, reason: line.slice(from + 12, to), version: sliceWord(line, from, from + 7) };
}
