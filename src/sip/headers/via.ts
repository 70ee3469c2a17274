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
import { paramValue, readParams, readToken, skipWs, type HeaderParam } from './params.js';
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

/** [A-Za-z0-9.-]: the characters of a hostname or an IPv4 address, by char code. */
const HOST_CODES = new Uint8Array(128);
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
function slash(text: string, i: number, to: number): number {
  i = skipWs(text, i, to);
  if (i >= to || text.charCodeAt(i) !== 0x2f) return -1;
  return skipWs(text, i + 1, to);
}

/**
 * Index past the sent-by host at `i`: an IPv6reference ("[" 1*(HEXDIG / ":" / ".") "]", RFC 5118's forms
 * included) or a hostname / IPv4address (1*(alphanum / "-" / ".")); -1 when there is none.
 */
function hostEnd(text: string, i: number, to: number): number {
  let j = i;
  if (text.charCodeAt(i) === 0x5b) {
    j++;
    while (j < to && isIpv6Char(text.charCodeAt(j))) j++;
    if (j === i + 1 || j >= to || text.charCodeAt(j) !== 0x5d) return -1;
    return j + 1;
  }
  while (j < to && HOST_CODES[text.charCodeAt(j)] === 1) j++;
  return j === i ? -1 : j;
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
  walkVia(value, from, to, out);
  return out;
}

/**
 * What parseVia accepts and refuses, without building anything: the number of via-parms of the Via value
 * `value[from, to)`, or SipParseError SIP_PARSE_VIA where parseVia throws it. The message parser checks every
 * Via header of a message with it, and parseVia builds the via-parms when they are first asked for.
 */
export function checkVia(value: string, from = 0, to = value.length): number {
  return walkVia(value, from, to, undefined);
}

/** The one scanner of parseVia and checkVia: the via-parms of `value[from, to)`, into `out` when given. */
function walkVia(value: string, from: number, to: number, out: Via[] | undefined): number {
  let count = 0;
  let i = from;
  for (;;) {
    // sent-protocol = protocol-name SLASH protocol-version SLASH transport
    const p = skipWs(value, i, to);
    const pEnd = readToken(value, p, to);
    const ver = pEnd === p ? -1 : slash(value, pEnd, to);
    const verEnd = ver === -1 ? -1 : readToken(value, ver, to);
    const t = verEnd === ver ? -1 : slash(value, verEnd, to);
    const tEnd = t === -1 ? -1 : readToken(value, t, to);
    // via-parm = sent-protocol LWS sent-by: the LWS is at least one space or tab.
    const h = tEnd === t ? -1 : skipWs(value, tEnd, to);
    const hEnd = h === tEnd || h >= to ? -1 : hostEnd(value, h, to);
    if (hEnd === -1) throw noSentProtocol(value, from, to);
    // sent-by = host [ COLON port ]; port = 1*DIGIT, read as at most 5 digits.
    let end = hEnd;
    let port: number | undefined;
    let d = skipWs(value, hEnd, to);
    if (d < to && value.charCodeAt(d) === 0x3a) {
      d = skipWs(value, d + 1, to);
      const digits = d;
      let n = 0;
      for (
        let c = value.charCodeAt(d);
        d < to && c >= 0x30 && c <= 0x39 && d < digits + 5;
        c = value.charCodeAt(d)
      ) {
        n = n * 10 + (c - 0x30);
        d++;
      }
      if (d > digits) {
        port = n;
        end = d;
      }
    }
    if (port !== undefined && port > 65535) throw bad(value, from, to, 'port out of range');
    count++;
    let paramsEnd: number;
    if (out === undefined) {
      paramsEnd = readParams(value, end, 'SIP_PARSE_VIA', undefined, from, to);
    } else {
      const params: HeaderParam[] = [];
      paramsEnd = readParams(value, end, 'SIP_PARSE_VIA', params, from, to);
      out.push({
        protocol: sliceWord(value, p, pEnd),
        version: sliceWord(value, ver, verEnd),
        transport: transportOf(value, t, tEnd),
        host: value.slice(h, hEnd),
        port,
        params,
        branch: paramValue(params, 'branch'),
        received: paramValue(params, 'received'),
        rport: paramValue(params, 'rport'),
      });
    }
    if (paramsEnd >= to) return count;
    i = paramsEnd + 1; // past the comma
    if (skipWs(value, i, to) >= to) throw bad(value, from, to, 'empty via-parm after ","');
  }
}

/** The topmost via-parm of a Via header value. */
export function parseTopVia(value: string): Via {
  return parseVia(value)[0]!;
}
