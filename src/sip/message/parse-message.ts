/*
 * RFC 3261 §25.1:
 *   SIP-message    =  Request / Response
 *   Request        =  Request-Line *( message-header ) CRLF [ message-body ]
 *   Request-Line   =  Method SP Request-URI SP SIP-Version CRLF
 *   Response       =  Status-Line *( message-header ) CRLF [ message-body ]
 *   Status-Line    =  SIP-Version SP Status-Code SP Reason-Phrase CRLF
 *   SIP-Version    =  "SIP" "/" 1*DIGIT "." 1*DIGIT
 *   message-header =  header-name HCOLON header-value CRLF   (with LWS folding, §7.3.1)
 */
import { SipParseError } from '../errors.js';
import { parseCallId } from '../headers/call-id.js';
import { singleContentLength } from '../headers/content-length.js';
import { parseCSeq } from '../headers/cseq.js';
import { parseFrom } from '../headers/from.js';
import { parseTo } from '../headers/to.js';
import { parseVia } from '../headers/via.js';
import { parseUri } from '../uri/parse-uri.js';
import { isSipUri } from '../uri/uri-types.js';
import { newHeader, rememberParse } from './header-cache.js';
import { canonicalHeaderName } from './header-names.js';
import { markPristine } from './serialize-message.js';
import {
  topLevelComma,
  type SipHeader,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from './sip-message.js';

/** RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const HEADER_LINE = /^([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:[ \t]*(.*)$/s;
const SIP_VERSION = /^SIP\/(\d+)\.(\d+)$/i;
/**
 * A plain `sip:user@host[:port][;params]` Request-URI — no `?headers`, escapes, brackets or quotes — needs no
 * full parse here: the parse only looks for URI headers, and the UAS checks the rest (§8.2.2.1, 416).
 */
const URI_FAST_PATH =
  /^sips?:(?:[A-Za-z0-9\-_.!~*'()&=+$,;+]+@)?[A-Za-z0-9\-.]+(?::\d{1,5})?(?:;[A-Za-z0-9\-_.!~*'()&=+$]+)*$/i;
/** Headers that may appear once only (§20: not a comma list); a second one is a 400 (RFC 4475 §3.3.11). */
const SINGLETONS = ['Call-ID', 'CSeq', 'From', 'To', 'Max-Forwards', 'Content-Type', 'Expires'] as const;

export interface ParseOptions {
  /**
   * Stream transports frame by Content-Length (§18.3), so they hand over exactly one message; on datagrams a
   * missing Content-Length means "the rest of the datagram" and bytes after the body are discarded.
   */
  readonly datagram: boolean;
}

/** Splits head (start line and headers) from the rest; tolerates bare LF line ends as §7.5 asks parsers to. */
export function findHeadEnd(buf: Buffer, from = 0): { headEnd: number; bodyStart: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n', from, 'latin1');
  const lf = buf.indexOf('\n\n', from, 'latin1');
  if (crlf !== -1 && (lf === -1 || crlf + 1 <= lf)) return { headEnd: crlf, bodyStart: crlf + 4 };
  if (lf !== -1) return { headEnd: lf, bodyStart: lf + 2 };
  return undefined;
}

/** Header lines of a head with folding undone (§7.3.1: continuation lines start with SP or HT). */
export function splitHeaderLines(head: string): string[] {
  const lines = head.split(/\r?\n/);
  const out: string[] = [];
  for (const line of lines) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && out.length > 0) {
      out[out.length - 1] = `${out[out.length - 1]!.trimEnd()} ${line.trim()}`;
    } else {
      out.push(line);
    }
  }
  return out;
}

export function parseHeaders(lines: readonly string[]): SipHeader[] {
  return lines.map((line) => {
    const m = HEADER_LINE.exec(line);
    if (!m?.[1]) throw new SipParseError('SIP_PARSE_HEADER', `malformed header line "${line.slice(0, 60)}"`);
    return newHeader(canonicalHeaderName(m[1]), (m[2] ?? '').trim());
  });
}

/**
 * Parses one SIP message. Eager: start line, top Via, CSeq, Call-ID, From/To (for their tags) and
 * Content-Length; every other header stays text until asked for (header-access.ts). The message keeps its
 * bytes in `raw`, so serializing it unchanged returns them. Throws SipParseError only.
 */
export function parseMessage(buf: Buffer, options: ParseOptions): SipMessage {
  let start = 0;
  // §7.5: "implementations processing SIP messages over stream-oriented transports MUST ignore any CRLF
  // appearing before the start-line".
  while (buf[start] === 0x0d || buf[start] === 0x0a) start++;
  if (start >= buf.length) throw new SipParseError('SIP_PARSE_EMPTY', 'no message');
  const bounds = findHeadEnd(buf, start);
  const headText = buf.toString('latin1', start, bounds ? bounds.headEnd : buf.length).replace(/\r?\n$/, '');
  const [startLine = '', ...headerLines] = splitHeaderLines(headText);
  const isResponse = /^SIP\//i.test(startLine);
  try {
    const request = isResponse ? undefined : parseRequestLine(startLine);
    const response = isResponse ? parseStatusLine(startLine) : undefined;
    const headers = parseHeaders(headerLines.filter((l) => l.length > 0));
    const bodyStart = bounds ? bounds.bodyStart : buf.length;
    const body = readBody(buf, bodyStart, headers, options);
    const end = bodyStart + body.length;
    const raw = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    const base = common(headers);
    let message: SipMessage;
    if (request) {
      // §8.2.2.3 / RFC 4475 §3.1.2.16: the CSeq method must match the request method.
      if (base.cseq.method !== request.method) {
        throw new SipParseError(
          'SIP_PARSE_CSEQ',
          `CSeq method ${base.cseq.method} does not match ${request.method}`,
        );
      }
      message = { kind: 'request', ...request, body, raw, ...base } satisfies SipRequest;
    } else {
      message = { kind: 'response', ...response!, body, raw, ...base } satisfies SipResponse;
    }
    markPristine(message);
    return message;
  } catch (err) {
    // §18.1.2 / §16.7: a response that cannot be parsed is discarded, never answered.
    if (isResponse && err instanceof SipParseError && err.code !== 'SIP_PARSE_RESPONSE')
      throw new SipParseError('SIP_PARSE_RESPONSE', `${err.code}: ${err.message}`);
    throw err;
  }
}

function parseRequestLine(line: string): Pick<SipRequest, 'method' | 'uri' | 'version'> {
  // §25.1: Request-Line = Method SP Request-URI SP SIP-Version CRLF — single spaces, no LWS (RFC 4475
  // §3.1.2.9 lwsruri, §3.1.2.10 lwsstart, §3.1.2.11 trws).
  const parts = line.split(' ');
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) {
    throw new SipParseError('SIP_PARSE_START_LINE', `malformed request line "${line.slice(0, 80)}"`);
  }
  const [method, uri, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) throw new SipParseError('SIP_PARSE_START_LINE', `invalid method "${method}"`);
  const v = SIP_VERSION.exec(version);
  if (!v) throw new SipParseError('SIP_PARSE_START_LINE', `invalid SIP-Version "${version}"`);
  // §8.2.2 / §21.5.7: a request of another SIP version is answered 505 (RFC 4475 §3.1.2.15, badvers).
  if (v[1] !== '2' || v[2] !== '0') {
    throw new SipParseError('SIP_PARSE_VERSION', `unsupported version ${version}`);
  }
  if (uri.startsWith('<')) {
    throw new SipParseError('SIP_PARSE_START_LINE', `Request-URI in <> "${uri.slice(0, 80)}"`);
  }
  const parsed = URI_FAST_PATH.test(uri) ? undefined : parseUri(uri);
  // §19.1.1 Table 1: headers are "not allowed" in a SIP Request-URI (RFC 4475 §3.1.2.11, escruri).
  if (parsed && isSipUri(parsed) && parsed.headers.length > 0) {
    throw new SipParseError('SIP_PARSE_START_LINE', `headers in a SIP Request-URI "${uri.slice(0, 80)}"`);
  }
  return { method, uri, version };
}

function parseStatusLine(line: string): Pick<SipResponse, 'status' | 'reason' | 'version'> {
  // §25.1: Status-Code = 3DIGIT; §21: classes 1xx-6xx only (RFC 4475 §3.1.2.18, bigcode).
  const m = /^(SIP\/2\.0) ([1-6]\d\d) (.*)$/is.exec(line);
  if (!m?.[1] || !m[2])
    throw new SipParseError('SIP_PARSE_RESPONSE', `malformed status line "${line.slice(0, 80)}"`);
  return { status: Number(m[2]), reason: m[3] ?? '', version: m[1] };
}

function readBody(buf: Buffer, bodyStart: number, headers: SipHeader[], { datagram }: ParseOptions): Buffer {
  const length = singleContentLength(headers.filter((h) => h.name === 'Content-Length').map((h) => h.value));
  const available = buf.length - bodyStart;
  if (length === undefined) {
    // §18.3: "In the case of message-oriented transports … the Content-Length header field MAY be omitted".
    if (!datagram)
      throw new SipParseError('SIP_PARSE_CONTENT_LENGTH', 'Content-Length is required on streams (§18.3)');
    return buf.subarray(bodyStart);
  }
  // §18.3: "If a message is received over UDP with a Content-Length larger than the body, it is treated as an
  // error" (RFC 4475 §3.1.2.7, clerr); bytes beyond it are discarded (§3.1.1.8, dblreq).
  if (length > available) {
    throw new SipParseError(
      'SIP_PARSE_CONTENT_LENGTH',
      `Content-Length ${length} exceeds the ${available} body bytes`,
    );
  }
  return buf.subarray(bodyStart, bodyStart + length);
}

function firstHeader(headers: readonly SipHeader[], name: string): SipHeader {
  const h = headers.find((x) => x.name === name);
  // §8.1.1: "A valid SIP request formulated by a UAC MUST, at a minimum, contain the following header fields:
  // To, From, CSeq, Call-ID, Max-Forwards, and Via" (Max-Forwards is tolerated missing, RFC 4475 §3.4).
  if (!h) throw new SipParseError('SIP_PARSE_MISSING_HEADER', `missing mandatory header ${name} (§8.1.1)`);
  return h;
}

/**
 * A copy of `s` that holds no reference to the text it was cut from. V8 makes a substring of 13 characters or
 * more a view of its parent (a sliced string), so a Call-ID kept by a call table, a live call or an event
 * stream would keep the message's whole header text alive with it (measured: docs/performance.md, Memory).
 * What outlives the message is copied; the header text is latin1, so the copy is exact.
 */
export function detachString(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'latin1').toString('latin1');
}

function common(headers: SipHeader[]) {
  const via = firstHeader(headers, 'Via');
  const cseq = firstHeader(headers, 'CSeq');
  const callId = firstHeader(headers, 'Call-ID');
  const from = firstHeader(headers, 'From');
  const to = firstHeader(headers, 'To');
  for (const name of SINGLETONS) {
    let count = 0;
    for (const h of headers) if (h.name === name) count++;
    if (count > 1) throw new SipParseError('SIP_PARSE_HEADER', `${name} appears ${count} times`);
  }
  const vias = parseVia(via.value);
  rememberParse(via, vias);
  const fromParsed = parseFrom(from.value);
  rememberParse(from, fromParsed);
  const toParsed = parseTo(to.value);
  rememberParse(to, toParsed);
  const topViaEnd = vias.length > 1 ? topLevelComma(via.value) : -1;
  return {
    headers,
    callId: detachString(parseCallId(callId.value)),
    cseq: parseCSeq(cseq.value),
    fromTag: fromParsed.tag,
    toTag: toParsed.tag,
    topVia: topViaEnd === -1 ? via.value : via.value.slice(0, topViaEnd).trim(),
  };
}
