/*
 * RFC 3261 §25.1:
 *   Via               =  ( "Via" / "v" ) HCOLON via-parm *(COMMA via-parm)
 *   via-parm          =  sent-protocol LWS sent-by *( SEMI via-params )
 *   via-params        =  via-ttl / via-maddr / via-received / via-branch / via-extension
 *   sent-protocol     =  protocol-name SLASH protocol-version SLASH transport
 *   protocol-name     =  "SIP" / token
 *   protocol-version  =  token
 *   transport         =  "UDP" / "TCP" / "TLS" / "SCTP" / other-transport
 *   sent-by           =  host [ COLON port ]
 * RFC 3581 §3:
 *   response-port     =  "rport" [EQUAL 1*DIGIT]
 */
import { SipParseError } from '../errors.js';
import { codesOf, isSipTwoAt, skipWsAt, tokenEndAt } from './byte-scan.js';
import { paramValue, readParamsAt, type HeaderParam } from './params.js';
import { sliceWord } from './words.js';

export interface Via {
  readonly protocol: string;
  readonly version: string;
  /** Upper-cased transport (UDP, TCP, TLS, SCTP, WS, or any other token, RFC 4475 §3.1.1.10). */
  readonly transport: string;
  /** sent-by host; an IPv6 reference keeps its brackets. */
  readonly host: string;
  readonly port: number | undefined;
  readonly params: readonly HeaderParam[];
  readonly branch: string | undefined;
  readonly received: string | undefined;
  /** RFC 3581: undefined when absent, '' when present without a value. */
  readonly rport: string | undefined;
}

/** [A-Za-z0-9.-]: the characters of a hostname or an IPv4 address, by code. */
const HOST_CODES = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.')
  HOST_CODES[c.charCodeAt(0)] = 1;

function bad(text: string, from: number, to: number, why: string): SipParseError {
  return new SipParseError('SIP_PARSE_VIA', `Via: ${why} in "${text.slice(from, Math.min(to, from + 80))}"`);
}

function noSentProtocol(text: string, from: number, to: number): SipParseError {
  return bad(text, from, to, 'expected SIP/2.0/<transport> <host>[:<port>]');
}

/**
 * Index past `[ \t]* "/" [ \t]*` at `i` (sent-protocol's SLASH, with the tabs and spaces deployed UAs put), or
 * -1 when there is no "/".
 */
function slash(b: Uint8Array, i: number, to: number): number {
  i = skipWsAt(b, i, to);
  if (i >= to || b[i] !== 0x2f) return -1;
  return skipWsAt(b, i + 1, to);
}

/**
 * Index past the sent-by host at `i` (before `to`): an IPv6reference ("[" 1*(HEXDIG / ":" / ".") "]", RFC 5118's
 * forms included) or a hostname / IPv4address (1*(alphanum / "-" / ".")); -1 when there is none.
 */
function hostEnd(b: Uint8Array, i: number, to: number): number {
  let j = i;
  if (b[i] === 0x5b) {
    j++;
    while (j < to && isIpv6Char(b[j]!)) j++;
    if (j === i + 1 || j >= to || b[j] !== 0x5d) return -1;
    return j + 1;
  }
  while (j < to && HOST_CODES[b[j]!] === 1) j++;
  return j === i ? -1 : j;
}

/** Whether `b` holds "SIP/2.0/" (upper case) at `i`, before `to`. */
function isSipTwoSlash(b: Uint8Array, i: number, to: number): boolean {
  return isSipTwoAt(b, i, to) && to - i >= 8 && b[i + 7] === 0x2f;
}

function isIpv6Char(c: number): boolean {
  return (c >= 0x30 && c <= 0x3a) || c === 0x2e || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** The transport in upper case (a shared string for the usual ones). */
function transportOf(text: string, start: number, end: number): string {
  const word = sliceWord(text, start, end);
  return word === 'UDP' || word === 'TCP' || word === 'TLS' || word === 'WS' || word === 'WSS'
    ? word
    : word.toUpperCase();
}

/**
 * Parses every via-parm of one Via header value — `value`, or the part `[from, to)` of it (the header's value
 * within a message's text) — scanning it once from left to right. Throws SipParseError SIP_PARSE_VIA.
 */
export function parseVia(value: string, from = 0, to = value.length): Via[] {
  const out: Via[] = [];
  walkVia(codesOf(value), value, from, to, out);
  return out;
}

/**
 * What parseVia accepts and refuses, without building anything: the number of via-parms of the Via value
 * `value[from, to)`, or SipParseError SIP_PARSE_VIA where parseVia throws it.
 */
export function checkVia(value: string, from = 0, to = value.length): number {
  return walkVia(codesOf(value), value, from, to, undefined);
}

/**
 * checkVia over `b`, the codes of `text` index for index (the message's bytes where its head is all ASCII): the
 * message parser checks the first Via header of a message with it, and parseVia builds the via-parms when they
 * are first asked for.
 */
export function checkViaAt(b: Uint8Array, text: string, from: number, to: number): number {
  return walkVia(b, text, from, to, undefined);
}

/**
 * The one scanner of parseVia and checkVia: the via-parms of `text[from, to)`, read over its codes `b`, into
 * `out` when given (its strings cut from `text`).
 */
function walkVia(b: Uint8Array, text: string, from: number, to: number, out: Via[] | undefined): number {
  let count = 0;
  let i = from;
  for (;;) {
    // sent-protocol = protocol-name SLASH protocol-version SLASH transport
    const p = skipWsAt(b, i, to);
    // "SIP/2.0/" as nearly every UA writes it is read at once: the same ends as read token by token.
    const sipTwo = isSipTwoSlash(b, p, to);
    const pEnd = sipTwo ? p + 3 : tokenEndAt(b, p, to);
    const ver = sipTwo ? p + 4 : pEnd === p ? -1 : slash(b, pEnd, to);
    const verEnd = sipTwo ? p + 7 : ver === -1 ? -1 : tokenEndAt(b, ver, to);
    const t = sipTwo ? skipWsAt(b, p + 8, to) : verEnd === ver ? -1 : slash(b, verEnd, to);
    const tEnd = t === -1 ? -1 : tokenEndAt(b, t, to);
    // via-parm = sent-protocol LWS sent-by: the LWS is at least one space or tab.
    const h = tEnd === t ? -1 : skipWsAt(b, tEnd, to);
    const hEnd = h === tEnd || h >= to ? -1 : hostEnd(b, h, to);
    if (hEnd === -1) throw noSentProtocol(text, from, to);
    // sent-by = host [ COLON port ]; port = 1*DIGIT, read as at most 5 digits.
    let end = hEnd;
    let port: number | undefined;
    let d = skipWsAt(b, hEnd, to);
    if (d < to && b[d] === 0x3a) {
      d = skipWsAt(b, d + 1, to);
      const digits = d;
      let n = 0;
      while (d < to && d < digits + 5) {
        const c = b[d]!;
        if (c < 0x30 || c > 0x39) break;
        n = n * 10 + (c - 0x30);
        d++;
      }
      if (d > digits) {
        port = n;
        end = d;
      }
    }
    if (port !== undefined && port > 65535) throw bad(text, from, to, 'port out of range');
    count++;
    let paramsEnd: number;
    if (out === undefined) {
      paramsEnd = readParamsAt(b, text, end, 'SIP_PARSE_VIA', undefined, from, to);
    } else {
      const params: HeaderParam[] = [];
      paramsEnd = readParamsAt(b, text, end, 'SIP_PARSE_VIA', params, from, to);
      out.push({
        protocol: sliceWord(text, p, pEnd),
        version: sliceWord(text, ver, verEnd),
        transport: transportOf(text, t, tEnd),
        host: text.slice(h, hEnd),
        port,
        params,
        branch: paramValue(params, 'branch'),
        received: paramValue(params, 'received'),
        rport: paramValue(params, 'rport'),
      });
    }
    if (paramsEnd >= to) return count;
    i = paramsEnd + 1; // past the comma
    if (skipWsAt(b, i, to) >= to) throw bad(text, from, to, 'empty via-parm after ","');
  }
}

/** The topmost via-parm of a Via header value. */
export function parseTopVia(value: string): Via {
  return parseVia(value)[0]!;
}
