/**
 * The SIP message parser as it was before the one-pass parser (commit cffe70f): split the head into lines with a
 * regular expression, one regular expression per header line, the eager headers parsed in full by the
 * regular-expression header parsers. Kept here, unchanged in behaviour, as the oracle of
 * parser-differential.test.ts: the new parser must accept exactly what this one accepts, refuse what it refuses
 * with the same error code, and read the same values.
 */
import { isAscii } from 'node:buffer';
import { SipParseError, type SipErrorCode } from '../../../src/sip/errors.js';
import { canonicalHeaderName } from '../../../src/sip/message/header-names.js';
import { parseUri } from '../../../src/sip/uri/parse-uri.js';
import { isSipUri, type Uri } from '../../../src/sip/uri/uri-types.js';

export interface RefParam {
  name: string;
  value: string | undefined;
}
export interface RefVia {
  protocol: string;
  version: string;
  transport: string;
  host: string;
  port: number | undefined;
  params: RefParam[];
  branch: string | undefined;
  received: string | undefined;
  rport: string | undefined;
}
export interface RefAddress {
  displayName: string | undefined;
  uriText: string;
  uri: Uri;
  params: RefParam[];
  bracketed: boolean;
  tag: string | undefined;
}
export interface RefMessage {
  startLine: Record<string, string | number>;
  headers: { name: string; value: string }[];
  body: Buffer;
  raw: Buffer;
  callId: string;
  cseq: { seq: number; method: string };
  fromTag: string | undefined;
  toTag: string | undefined;
  topVia: string;
  vias: RefVia[];
  from: RefAddress;
  to: RefAddress;
}

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const TOKEN_CHAR = /[A-Za-z0-9\-.!%*_+`'~]/;
const HEADER_LINE = /^([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:[ \t]*(.*)$/s;
const SIP_VERSION = /^SIP\/(\d+)\.(\d+)$/i;
const URI_FAST_PATH =
  /^sips?:(?:[A-Za-z0-9\-_.!~*'()&=+$,;+]+@)?[A-Za-z0-9\-.]+(?::\d{1,5})?(?:;[A-Za-z0-9\-_.!~*'()&=+$]+)*$/i;
const SINGLETONS = ['Call-ID', 'CSeq', 'From', 'To', 'Max-Forwards', 'Content-Type', 'Expires'];
const GEN_VALUE = /^(?:[A-Za-z0-9\-.!%*_+`'~]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/;
const SENT_PROTOCOL =
  /^[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*\/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*\/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:[ \t]*:[ \t]*(\d{1,5}))?/;
const CSEQ = /^(\d{1,10})[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)$/;
const CALL_ID = /^[\x21-\x7e]+$/;

const fail = (code: SipErrorCode, why: string) => new SipParseError(code, why);

function skipWs(text: string, i: number): number {
  while (text[i] === ' ' || text[i] === '\t') i++;
  return i;
}

function quotedStringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j + 1;
  }
  return -1;
}

function readToken(text: string, i: number): number {
  while (i < text.length && TOKEN_CHAR.test(text[i]!)) i++;
  return i;
}

const isParamEnd = (c: string | undefined) =>
  c === ';' || c === ',' || c === ' ' || c === '\t' || c === '\r' || c === '\n';

function refParams(text: string, i: number, code: SipErrorCode): { params: RefParam[]; end: number } {
  const params: RefParam[] = [];
  for (;;) {
    i = skipWs(text, i);
    if (i >= text.length || text[i] === ',') return { params, end: i };
    if (text[i] !== ';') throw fail(code, 'expected ;');
    i = skipWs(text, i + 1);
    const nameEnd = readToken(text, i);
    if (nameEnd === i) throw fail(code, 'empty parameter');
    const name = text.slice(i, nameEnd);
    i = skipWs(text, nameEnd);
    let value: string | undefined;
    if (text[i] === '=') {
      i = skipWs(text, i + 1);
      if (text[i] === '"') {
        const end = quotedStringEnd(text, i);
        if (end === -1) throw fail(code, 'unterminated quoted string');
        value = text.slice(i, end);
        i = end;
      } else {
        let end = i;
        while (end < text.length && !isParamEnd(text[end])) end++;
        value = text.slice(i, end);
        if (!GEN_VALUE.test(value)) throw fail(code, 'malformed value');
        i = end;
      }
    }
    params.push({ name, value });
  }
}

export function refGenValue(value: string): boolean {
  return GEN_VALUE.test(value);
}

function paramValue(params: RefParam[], name: string): string | undefined {
  for (const p of params) if (p.name.toLowerCase() === name) return p.value ?? '';
  return undefined;
}

export function refVia(value: string): RefVia[] {
  const out: RefVia[] = [];
  let i = 0;
  for (;;) {
    const m = SENT_PROTOCOL.exec(value.slice(i));
    if (!m) throw fail('SIP_PARSE_VIA', 'sent-protocol');
    const port = m[5] === undefined ? undefined : Number(m[5]);
    if (port !== undefined && port > 65535) throw fail('SIP_PARSE_VIA', 'port');
    const { params, end } = refParams(value, i + m[0].length, 'SIP_PARSE_VIA');
    out.push({
      protocol: m[1]!,
      version: m[2]!,
      transport: m[3]!.toUpperCase(),
      host: m[4]!,
      port,
      params,
      branch: paramValue(params, 'branch'),
      received: paramValue(params, 'received'),
      rport: paramValue(params, 'rport'),
    });
    if (end >= value.length) return out;
    i = end + 1;
    if (/^[ \t]*$/.test(value.slice(i))) throw fail('SIP_PARSE_VIA', 'empty via-parm');
  }
}

export function refAddress(header: string, value: string): RefAddress {
  const bad = () => fail('SIP_PARSE_ADDRESS', header);
  let i = skipWs(value, 0);
  let displayName: string | undefined;
  if (value[i] === '"') {
    const end = quotedStringEnd(value, i);
    if (end === -1) throw bad();
    displayName = value.slice(i + 1, end - 1).replace(/\\(.)/gs, '$1');
    i = skipWs(value, end);
    if (value[i] !== '<') throw bad();
  } else {
    let j = i;
    const words: string[] = [];
    for (;;) {
      const end = readToken(value, j);
      if (end === j) break;
      words.push(value.slice(j, end));
      j = skipWs(value, end);
    }
    if (value[j] === '<') {
      displayName = words.length > 0 ? words.join(' ') : undefined;
      i = j;
    }
  }
  let uriText: string;
  const bracketed = value[i] === '<';
  if (bracketed) {
    const gt = value.indexOf('>', i);
    if (gt === -1) throw bad();
    uriText = value.slice(i + 1, gt);
    if (/\s/.test(uriText)) throw bad();
    i = gt + 1;
  } else {
    let end = i;
    while (end < value.length && !isParamEnd(value[end])) end++;
    uriText = value.slice(i, end);
    if (uriText.includes('?')) throw bad();
    i = end;
  }
  const uri = parseUri(uriText);
  const { params, end } = refParams(value, i, 'SIP_PARSE_ADDRESS');
  if (end !== value.length) throw bad();
  return { displayName, uriText, uri, params, bracketed, tag: paramValue(params, 'tag') };
}

export function refCSeq(value: string): { seq: number; method: string } {
  const m = CSEQ.exec(value);
  if (!m?.[1] || !m[2] || Number(m[1]) >= 2 ** 31) throw fail('SIP_PARSE_CSEQ', 'cseq');
  return { seq: Number(m[1]), method: m[2] };
}

export function refCallId(value: string): string {
  if (!CALL_ID.test(value)) throw fail('SIP_PARSE_CALL_ID', 'call-id');
  return value;
}

export function refContentLength(value: string): number {
  if (!/^\d{1,10}$/.test(value)) throw fail('SIP_PARSE_CONTENT_LENGTH', 'content-length');
  return Number(value);
}

function findHeadEnd(buf: Buffer, from: number): { headEnd: number; bodyStart: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n', from, 'latin1');
  const lf = buf.indexOf('\n\n', from, 'latin1');
  if (crlf !== -1 && (lf === -1 || crlf + 1 <= lf)) return { headEnd: crlf, bodyStart: crlf + 4 };
  if (lf !== -1) return { headEnd: lf, bodyStart: lf + 2 };
  return undefined;
}

function splitHeaderLines(head: string): string[] {
  const out: string[] = [];
  for (const line of head.split(/\r?\n/)) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && out.length > 0) {
      out[out.length - 1] = `${out[out.length - 1]!.trimEnd()} ${line.trim()}`;
    } else {
      out.push(line);
    }
  }
  return out;
}

function requestLine(line: string): Record<string, string> {
  const parts = line.split(' ');
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) throw fail('SIP_PARSE_START_LINE', 'line');
  const [method, uri, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) throw fail('SIP_PARSE_START_LINE', 'method');
  const v = SIP_VERSION.exec(version);
  if (!v) throw fail('SIP_PARSE_START_LINE', 'version');
  if (v[1] !== '2' || v[2] !== '0') throw fail('SIP_PARSE_VERSION', 'version');
  if (uri.startsWith('<')) throw fail('SIP_PARSE_START_LINE', '<>');
  const parsed = URI_FAST_PATH.test(uri) ? undefined : parseUri(uri);
  if (parsed && isSipUri(parsed) && parsed.headers.length > 0) throw fail('SIP_PARSE_START_LINE', 'headers');
  return { method, uri, version };
}

function statusLine(line: string): Record<string, string | number> {
  const m = /^(SIP\/2\.0) ([1-6]\d\d) (.*)$/is.exec(line);
  if (!m?.[1] || !m[2]) throw fail('SIP_PARSE_RESPONSE', 'status line');
  return { status: Number(m[2]), reason: m[3] ?? '', version: m[1] };
}

/** Parses like the former parseMessage; throws SipParseError with the code it threw. */
export function referenceParse(buf: Buffer, datagram: boolean): RefMessage {
  let start = 0;
  while (buf[start] === 0x0d || buf[start] === 0x0a) start++;
  if (start >= buf.length) throw fail('SIP_PARSE_EMPTY', 'empty');
  const bounds = findHeadEnd(buf, start);
  // Since the one-pass parser reads a head that is not all ASCII as UTF-8 (parse-message.ts), so does the oracle.
  const headBytes = buf.subarray(start, bounds ? bounds.headEnd : buf.length);
  const headText = headBytes.toString(isAscii(headBytes) ? 'latin1' : 'utf8').replace(/\r?\n$/, '');
  const [first = '', ...headerLines] = splitHeaderLines(headText);
  const isResponse = /^SIP\//i.test(first);
  try {
    const startLine = isResponse ? statusLine(first) : requestLine(first);
    const headers = headerLines
      .filter((l) => l.length > 0)
      .map((line) => {
        const m = HEADER_LINE.exec(line);
        if (!m?.[1]) throw fail('SIP_PARSE_HEADER', 'line');
        return { name: canonicalHeaderName(m[1]), value: (m[2] ?? '').trim() };
      });
    const bodyStart = bounds ? bounds.bodyStart : buf.length;
    const lengths = headers.filter((h) => h.name === 'Content-Length').map((h) => h.value);
    if (lengths.some((v) => v !== lengths[0])) throw fail('SIP_PARSE_CONTENT_LENGTH', 'conflict');
    const length = lengths.length === 0 ? undefined : refContentLength(lengths[0]!);
    if (length === undefined && !datagram) throw fail('SIP_PARSE_CONTENT_LENGTH', 'required');
    if (length !== undefined && length > buf.length - bodyStart)
      throw fail('SIP_PARSE_CONTENT_LENGTH', 'big');
    const body = buf.subarray(bodyStart, length === undefined ? buf.length : bodyStart + length);
    const raw = buf.subarray(start, bodyStart + body.length);
    const one = (name: string) => {
      const h = headers.find((x) => x.name === name);
      if (!h) throw fail('SIP_PARSE_MISSING_HEADER', name);
      return h.value;
    };
    const [via, cseq, callId, from, to] = ['Via', 'CSeq', 'Call-ID', 'From', 'To'].map(one) as string[];
    for (const name of SINGLETONS) {
      if (headers.filter((h) => h.name === name).length > 1) throw fail('SIP_PARSE_HEADER', name);
    }
    const vias = refVia(via!);
    const fromAddr = refAddress('From', from!);
    const toAddr = refAddress('To', to!);
    const id = refCallId(callId!);
    const cseqParsed = refCSeq(cseq!);
    if (!isResponse && cseqParsed.method !== startLine.method) throw fail('SIP_PARSE_CSEQ', 'mismatch');
    let topVia = via!;
    if (vias.length > 1) {
      let depth = 0;
      let quoted = false;
      for (let i = 0; i < via!.length; i++) {
        const c = via![i];
        if (quoted) {
          if (c === '\\') i++;
          else if (c === '"') quoted = false;
        } else if (c === '"') quoted = true;
        else if (c === '<') depth++;
        else if (c === '>') depth = Math.max(0, depth - 1);
        else if (c === ',' && depth === 0) {
          topVia = via!.slice(0, i).trim();
          break;
        }
      }
    }
    return {
      startLine,
      headers,
      body,
      raw,
      callId: id,
      cseq: cseqParsed,
      fromTag: fromAddr.tag,
      toTag: toAddr.tag,
      topVia,
      vias,
      from: fromAddr,
      to: toAddr,
    };
  } catch (err) {
    if (isResponse && err instanceof SipParseError && err.code !== 'SIP_PARSE_RESPONSE')
      throw fail('SIP_PARSE_RESPONSE', err.code);
    throw err;
  }
}
