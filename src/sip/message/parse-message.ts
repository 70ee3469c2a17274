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
import { isAscii } from 'node:buffer';
import { SipParseError } from '../errors.js';
import { codesOf } from '../headers/byte-scan.js';
import { isCallId, isCallIdAt, parseCallId } from '../headers/call-id.js';
import { parseContentLength, singleContentLength } from '../headers/content-length.js';
import { parseCSeq, parseCSeqAt } from '../headers/cseq.js';
import { parseFrom, type FromTo } from '../headers/from.js';
import { fromToTagAt, NOT_PLAIN, plainFromToTag, TAG, TAG_FOUND, TAG_NONE } from '../headers/from-to-tag.js';
import { readToken } from '../headers/params.js';
import { parseTo } from '../headers/to.js';
import { checkVia, checkViaAt } from '../headers/via.js';
import { newHeader, REQUEST_URI, rememberParse } from './header-cache.js';
import { canonicalHeaderName, knownHeaderName } from './header-names.js';
import {
  FLAGS,
  FOLDED,
  LINE_END,
  LINE_START,
  NAME_END,
  NO_NAME,
  scanHead,
  STRIDE,
  VALUE_END,
  VALUE_START,
} from './scan-head.js';
import { markPristine, PRISTINE } from './serialize-message.js';
import { isStatusLine, parseRequestLine, parseStatusLine } from './start-line.js';
import {
  topLevelComma,
  type SipHeader,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from './sip-message.js';

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
  const out: string[] = [];
  for (let i = 0; i <= head.length;) {
    let lf = head.indexOf('\n', i);
    if (lf === -1) lf = head.length;
    const line = head.slice(i, lf > i && head.charCodeAt(lf - 1) === 0x0d ? lf - 1 : lf);
    const c = line.charCodeAt(0);
    if ((c === 0x20 || c === 0x09) && out.length > 0)
      out[out.length - 1] = unfold(out[out.length - 1]!, line);
    else out.push(line);
    i = lf + 1;
  }
  return out;
}

/**
 * §7.3.1: a line and its continuation line as one, "each such LWS replaced by a single SP" (the whitespace
 * around the line break trimmed as text: what precedes it from the line, all of it from the continuation).
 */
function unfold(line: string, continuation: string): string {
  return `${line.trimEnd()} ${continuation.trim()}`;
}

/** A logical line that spans continuation lines (its text from the head, line breaks included), unfolded. */
function unfoldSpan(span: string): string {
  return splitHeaderLines(span)[0]!;
}

function malformedLine(line: string): SipParseError {
  return new SipParseError('SIP_PARSE_HEADER', `malformed header line "${line.slice(0, 60)}"`);
}

/** `header-name *(SP / HTAB) ":" value` of one unfolded line as text, the value trimmed. */
function headerOfLine(line: string): SipHeader {
  const nameEnd = readToken(line, 0);
  let i = nameEnd;
  while (line.charCodeAt(i) === 0x20 || line.charCodeAt(i) === 0x09) i++;
  if (nameEnd === 0 || line.charCodeAt(i) !== 0x3a) throw malformedLine(line);
  return newHeader(canonicalHeaderName(line.slice(0, nameEnd)), line.slice(i + 1).trim());
}

export function parseHeaders(lines: readonly string[]): SipHeader[] {
  return lines.map(headerOfLine);
}

/** The empty body of a message without one (a zero-length Buffer cannot be written to). */
const NO_BODY = Buffer.alloc(0);

/**
 * Parses one SIP message in one forward scan over its bytes (scanHead): start line, header lines with their
 * folding, compact names and the empty line that ends the head, as offsets. The head becomes one latin1 string,
 * each header a name and a value cut from it. Eagerly decoded, by small scanners: the start line, CSeq, Call-ID,
 * the From and To tags and Content-Length; the first Via header is checked in full (every via-parm, nothing
 * built: its via-parms are built on first access) — what
 * every message is checked and routed by; every other header stays text until asked for (header-access.ts).
 * The message keeps its bytes in `raw`, so serializing it unchanged returns them. Throws SipParseError only.
 */
export function parseMessage(buf: Buffer, options: ParseOptions): SipMessage {
  let start = 0;
  // §7.5: "implementations processing SIP messages over stream-oriented transports MUST ignore any CRLF
  // appearing before the start-line".
  while (buf[start] === 0x0d || buf[start] === 0x0a) start++;
  if (start >= buf.length) throw new SipParseError('SIP_PARSE_EMPTY', 'no message');
  const scan = scanHead(buf, start);
  // From the buffer's start (past the CRLFs skipped too): a character of the text is at its byte's offset.
  const text = buf.toString('latin1', 0, scan.headEnd);
  const head: Head = {
    buf,
    text,
    // §7.3.1 / §25: header text is UTF-8. A head of ASCII only (nearly every one) is read as latin1 text, one
    // character per byte, its values cut at the scan's byte offsets; a head with other bytes has its values
    // decoded as UTF-8, line by line (readHeaders), so that a display name or a reason phrase is the text the
    // sender wrote and is written back as the same bytes. A datagram-sized message all ASCII (the usual: an SDP
    // body is ASCII too) is told so without cutting its head out of the buffer first.
    ascii: (buf.length <= SMALL && isAscii(buf)) || isAscii(buf.subarray(start, scan.headEnd)),
    start,
    offsets: scan.offsets,
    lines: scan.lines,
    bodyStart: scan.bodyStart,
  };
  // The start line: in the text, or (folded, which only a malformed one is) unfolded on its own.
  // Read over its codes: the buffer's bytes (one per character of the latin1 text), or the unfolded line's.
  const folded = (scan.offsets[FLAGS]! & FOLDED) !== 0;
  const line = folded ? lineText(head, 0) : text;
  const codes = folded ? codesOf(line) : buf;
  const from = folded ? 0 : scan.offsets[LINE_START]!;
  const to = folded ? line.length : scan.offsets[LINE_END]!;
  const isResponse = isStatusLine(codes, from, to);
  try {
    return isResponse
      ? parseResponse(head, utf8StatusLine(head, folded, parseStatusLine(codes, line, from, to)), options)
      : parseRequest(head, parseRequestLine(codes, line, from, to), options);
  } catch (err) {
    // §18.1.2 / §16.7: a response that cannot be parsed is discarded, never answered.
    if (isResponse && err instanceof SipParseError && err.code !== 'SIP_PARSE_RESPONSE')
      throw new SipParseError('SIP_PARSE_RESPONSE', `${err.code}: ${err.message}`);
    throw err;
  }
}

/** A message this long or shorter is checked for ASCII as a whole before its head alone is. */
const SMALL = 2048;

/**
 * A scanned head: the buffer, its text up to the head's end (from the buffer's start: the offsets of scanHead
 * are offsets into it), where the message starts, and scanHead's lines.
 */
interface Head {
  readonly buf: Buffer;
  readonly text: string;
  /** Whether the head is all ASCII: `text` is then its exact text; otherwise values are decoded as UTF-8. */
  readonly ascii: boolean;
  readonly start: number;
  readonly offsets: Int32Array;
  readonly lines: number;
  readonly bodyStart: number;
}

/** The text of logical line `k`, unfolded (decoded as UTF-8 in a head that is not all ASCII). */
function lineText(head: Head, k: number): string {
  const at = k * STRIDE;
  const { offsets, text } = head;
  const span = text.slice(offsets[at + LINE_START]!, offsets[at + LINE_END]!);
  const line = head.ascii ? span : utf8(span);
  return (offsets[at + FLAGS]! & FOLDED) === 0 ? line : unfoldSpan(line);
}

/** latin1 text (one character per byte) read again as the UTF-8 it holds. */
function utf8(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

/**
 * §25.1: Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT / SP / HTAB). The status
 * line read from the head's latin1 text, decoded as UTF-8 in a head that is not all ASCII; a folded one came
 * from lineText, already decoded.
 */
function utf8StatusLine<T extends { readonly reason: string }>(head: Head, folded: boolean, line: T): T {
  return head.ascii || folded ? line : { ...line, reason: utf8(line.reason) };
}

/**
 * The value of header line `k` (not folded) of a head that is not all ASCII: its bytes past the colon, decoded
 * as UTF-8 and trimmed as text.
 */
function utf8Value(head: Head, k: number): string {
  const { buf, offsets } = head;
  const at = k * STRIDE;
  let i = offsets[at + NAME_END]!;
  while (buf[i] === 0x20 || buf[i] === 0x09) i++;
  return buf.toString('utf8', i + 1, offsets[at + LINE_END]).trim();
}

function parseRequest(
  head: Head,
  { method, uri, version }: Pick<SipRequest, 'method' | 'uri' | 'version'>,
  options: ParseOptions,
): SipRequest {
  const h = readHeaders(head, options);
  // §8.2.2.3 / RFC 4475 §3.1.2.16: the CSeq method must match the request method.
  if (h.cseq.method !== method) {
    throw new SipParseError('SIP_PARSE_CSEQ', `CSeq method ${h.cseq.method} does not match ${method}`);
  }
  // The slots that parsing and reading fill later are made here, so that every parsed request has one shape and
  // filling them adds no property (a property added to an object literal takes a new hidden class and an array).
  const message: SipRequest & { [PRISTINE]: undefined; [REQUEST_URI]: undefined } = {
    kind: 'request',
    method,
    uri,
    version,
    body: h.body,
    raw: h.raw,
    headers: h.headers,
    callId: h.callId,
    cseq: h.cseq,
    fromTag: h.fromTag,
    toTag: h.toTag,
    topVia: h.topVia,
    [PRISTINE]: undefined,
    [REQUEST_URI]: undefined,
  };
  markPristine(message);
  return message;
}

function parseResponse(
  head: Head,
  { status, reason, version }: Pick<SipResponse, 'status' | 'reason' | 'version'>,
  options: ParseOptions,
): SipResponse {
  const h = readHeaders(head, options);
  const message: SipResponse & { [PRISTINE]: undefined } = {
    kind: 'response',
    status,
    reason,
    version,
    body: h.body,
    raw: h.raw,
    headers: h.headers,
    callId: h.callId,
    cseq: h.cseq,
    fromTag: h.fromTag,
    toTag: h.toTag,
    topVia: h.topVia,
    [PRISTINE]: undefined,
  };
  markPristine(message);
  return message;
}

type Common = Pick<
  SipMessage,
  'body' | 'raw' | 'headers' | 'callId' | 'cseq' | 'fromTag' | 'toTag' | 'topVia'
> & { readonly raw: Buffer };

/**
 * The header lines of a scanned head as SipHeaders, the body, and the eagerly decoded headers, checked in the
 * order the message is read: each line, Content-Length and the body, the mandatory headers, the ones allowed
 * once, then Via, From, To, Call-ID and CSeq.
 */
function readHeaders(head: Head, { datagram }: ParseOptions): Common {
  const { buf, text, start, offsets, lines } = head;
  const headers: SipHeader[] = [];
  let via: SipHeader | undefined;
  let cseq: SipHeader | undefined;
  let callId: SipHeader | undefined;
  let from: SipHeader | undefined;
  let to: SipHeader | undefined;
  // The line of each: their values are read where they are in the text.
  let viaLine = 0;
  let cseqLine = 0;
  let callIdLine = 0;
  let fromLine = 0;
  let toLine = 0;
  let callIds = 0;
  let cseqs = 0;
  let froms = 0;
  let tos = 0;
  let maxForwards = 0;
  let contentTypes = 0;
  let expires = 0;
  let contentLengths = 0;
  let contentLength = '';
  for (let k = 1; k < lines; k++) {
    const at = k * STRIDE;
    const flags = offsets[at + FLAGS]!;
    const lineStart = offsets[at + LINE_START]!;
    let header: SipHeader;
    if ((flags & FOLDED) !== 0) {
      header = headerOfLine(lineText(head, k));
    } else if (lineStart === offsets[at + LINE_END]) {
      continue; // an empty line within the head (LF CRLF): nothing
    } else if ((flags & NO_NAME) !== 0) {
      throw malformedLine(lineText(head, k));
    } else {
      const nameEnd = offsets[at + NAME_END]!;
      const name =
        knownHeaderName(buf, lineStart, nameEnd) ?? canonicalHeaderName(text.slice(lineStart, nameEnd));
      const valueStart = offsets[at + VALUE_START]!;
      const value = !head.ascii
        ? utf8Value(head, k)
        : valueStart === -1
          ? ''
          : text.slice(valueStart, offsets[at + VALUE_END]!);
      header = newHeader(name, value);
    }
    headers.push(header);
    switch (header.name) {
      case 'Via':
        if (via === undefined) {
          via = header;
          viaLine = k;
        }
        break;
      case 'CSeq':
        if (cseqs++ === 0) {
          cseq = header;
          cseqLine = k;
        }
        break;
      case 'Call-ID':
        if (callIds++ === 0) {
          callId = header;
          callIdLine = k;
        }
        break;
      case 'From':
        if (froms++ === 0) {
          from = header;
          fromLine = k;
        }
        break;
      case 'To':
        if (tos++ === 0) {
          to = header;
          toLine = k;
        }
        break;
      case 'Max-Forwards':
        maxForwards++;
        break;
      case 'Content-Type':
        contentTypes++;
        break;
      case 'Expires':
        expires++;
        break;
      case 'Content-Length':
        if (contentLengths++ === 0) contentLength = header.value;
        break;
    }
  }
  const body = readBody(head, headers, contentLengths, contentLength, datagram);
  const end = head.bodyStart + body.length;
  const raw = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
  // §8.1.1: "A valid SIP request formulated by a UAC MUST, at a minimum, contain the following header fields:
  // To, From, CSeq, Call-ID, Max-Forwards, and Via" (Max-Forwards is tolerated missing, RFC 4475 §3.4).
  if (!via) throw missing('Via');
  if (!cseq) throw missing('CSeq');
  if (!callId) throw missing('Call-ID');
  if (!from) throw missing('From');
  if (!to) throw missing('To');
  // §20: these are not comma lists; a second one is a 400 (RFC 4475 §3.3.11). (Each told apart, in this order,
  // only when one of them is there more than once.)
  if ((callIds | cseqs | froms | tos | maxForwards | contentTypes | expires) > 1) {
    once('Call-ID', callIds);
    once('CSeq', cseqs);
    once('From', froms);
    once('To', tos);
    once('Max-Forwards', maxForwards);
    once('Content-Type', contentTypes);
    once('Expires', expires);
  }
  // The top Via header is checked in full here (every via-parm), its via-parms built when first asked for. Each
  // eager header is read over the message's bytes where its value is in the text as it is (an ASCII head, the
  // line not folded), else over its value.
  const vias = inText(head, viaLine)
    ? checkViaAt(buf, text, valueFrom(head, viaLine), valueTo(head, viaLine))
    : checkVia(via.value);
  const fromTag = eagerTag(head, fromLine, from, parseFrom);
  const toTag = eagerTag(head, toLine, to, parseTo);
  if (
    !(inText(head, callIdLine)
      ? isCallIdAt(buf, valueFrom(head, callIdLine), valueTo(head, callIdLine))
      : isCallId(callId.value, 0, callId.value.length))
  )
    parseCallId(callId.value);
  const topViaEnd = vias > 1 ? topLevelComma(via.value) : -1;
  return {
    body,
    raw,
    headers,
    // What outlives the message is copied out of its text (detachString).
    callId: detachString(callId.value),
    cseq: inText(head, cseqLine)
      ? parseCSeqAt(buf, text, valueFrom(head, cseqLine), valueTo(head, cseqLine))
      : parseCSeq(cseq.value),
    fromTag: fromTag === undefined ? undefined : detachString(fromTag),
    toTag: toTag === undefined ? undefined : detachString(toTag),
    topVia: topViaEnd === -1 ? via.value : via.value.slice(0, topViaEnd).trim(),
  };
}

/**
 * Whether the value of header line `k` is in the head's text as it is, at the offsets of its bytes — an ASCII
 * head (a byte is then its character), the line not folded, the value not empty — so that it can be read over
 * the message's bytes; otherwise it is read from its own value string.
 */
function inText(head: Head, k: number): boolean {
  const at = k * STRIDE;
  return head.ascii && (head.offsets[at + FLAGS]! & FOLDED) === 0 && head.offsets[at + VALUE_START] !== -1;
}

function valueFrom(head: Head, k: number): number {
  return head.offsets[k * STRIDE + VALUE_START]!;
}

function valueTo(head: Head, k: number): number {
  return head.offsets[k * STRIDE + VALUE_END]!;
}

function missing(name: string): SipParseError {
  return new SipParseError('SIP_PARSE_MISSING_HEADER', `missing mandatory header ${name} (§8.1.1)`);
}

function once(name: string, count: number): void {
  if (count > 1) throw new SipParseError('SIP_PARSE_HEADER', `${name} appears ${count} times`);
}

/**
 * A From or To header's tag, read without building the address when it is a plain one (fromToTagAt over the
 * message's bytes, plainFromToTag over its value); otherwise parsed in full — which refuses a malformed one —
 * and that parse kept for fromOf/toOf.
 */
function eagerTag(
  head: Head,
  k: number,
  header: SipHeader,
  parse: (value: string) => FromTo,
): string | undefined {
  if (inText(head, k)) {
    const found = fromToTagAt(head.buf, valueFrom(head, k), valueTo(head, k));
    if (found === TAG_FOUND) return head.text.slice(TAG[0], TAG[1]);
    if (found === TAG_NONE) return undefined;
  } else {
    const tag = plainFromToTag(header.value);
    if (tag !== NOT_PLAIN) return tag;
  }
  const parsed = parse(header.value);
  rememberParse(header, parsed);
  return parsed.tag;
}

function readBody(
  head: Head,
  headers: readonly SipHeader[],
  contentLengths: number,
  contentLength: string,
  datagram: boolean,
): Buffer {
  const { buf, bodyStart } = head;
  const length =
    contentLengths === 0
      ? undefined
      : contentLengths === 1
        ? parseContentLength(contentLength)
        : singleContentLength(headers.filter((h) => h.name === 'Content-Length').map((h) => h.value));
  const available = buf.length - bodyStart;
  if (length === undefined) {
    // §18.3: "In the case of message-oriented transports … the Content-Length header field MAY be omitted".
    if (!datagram)
      throw new SipParseError('SIP_PARSE_CONTENT_LENGTH', 'Content-Length is required on streams (§18.3)');
    return available === 0 ? NO_BODY : buf.subarray(bodyStart);
  }
  // §18.3: "If a message is received over UDP with a Content-Length larger than the body, it is treated as an
  // error" (RFC 4475 §3.1.2.7, clerr); bytes beyond it are discarded (§3.1.1.8, dblreq).
  if (length > available) {
    throw new SipParseError(
      'SIP_PARSE_CONTENT_LENGTH',
      `Content-Length ${length} exceeds the ${available} body bytes`,
    );
  }
  return length === 0 ? NO_BODY : buf.subarray(bodyStart, bodyStart + length);
}
/**
 * A copy of `s` that holds no reference to the text it was cut from. V8 makes a substring of 13 characters or
 * more a view of its parent (a sliced string), so a Call-ID kept by a call table, a live call or an event
 * stream would keep the message's whole header text alive with it (measured: docs/performance.md, Memory).
 * What outlives the message is copied, without leaving JavaScript: `s + " "` is a string of two parts (a cons
 * string) that `slice` first flattens into a new string of its own — a copy of `s` and one character — and
 * then cuts the copy from; the copy's parent is that new string, not the message's text (pinned by
 * test/sip/detached-fields.test.ts).
 */
export function detachString(s: string): string {
  return s.length < 13 ? s : (s + ' ').slice(0, -1);
}
