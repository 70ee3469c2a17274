import { isAscii } from 'node:buffer';
import { randomHex } from '../random-token.js';
import { parseHeaders, splitHeaderLines, findHeadEnd } from './parse-message.js';
import { headerParam, type SipHeader, type SipRequest } from './sip-message.js';

export type ExtraHeaders = Readonly<Record<string, string | readonly string[]>>;

/** A fresh To tag (§19.3: at least 32 bits of randomness). */
export function newTag(): string {
  return randomHex(6);
}

/**
 * Serializes a response to `request` per RFC 3261 §8.2.6.2: "the From field … MUST equal the From header
 * field of the request", Call-ID, CSeq and Via copied in order, and "if a request contained a To tag …, the To
 * header field in the response MUST equal that of the request"; otherwise the UAS adds one (not to 100).
 */
export function buildResponse(
  request: Pick<SipRequest, 'headers' | 'toTag'>,
  status: number,
  reason: string,
  extra: ExtraHeaders = {},
  body?: Buffer,
  toTag?: string,
): Buffer {
  return serializeResponse(request.headers, request.toTag !== undefined, status, reason, extra, body, toTag);
}

function serializeResponse(
  headers: readonly SipHeader[],
  hasToTag: boolean,
  status: number,
  reason: string,
  extra: ExtraHeaders,
  body?: Buffer,
  toTag?: string,
): Buffer {
  let head = `SIP/2.0 ${status} ${reason}\r\n`;
  for (const h of headers) {
    if (h.name === 'Via' || h.name === 'From' || h.name === 'Call-ID' || h.name === 'CSeq') {
      head += `${h.name}: ${h.value}\r\n`;
    } else if (h.name === 'To') {
      head += `To: ${hasToTag || status === 100 ? h.value : `${h.value};tag=${toTag ?? newTag()}`}\r\n`;
    }
  }
  for (const name of Object.keys(extra)) {
    const value = extra[name];
    if (typeof value === 'string') head += `${name}: ${value}\r\n`;
    else if (value !== undefined) for (const v of value) head += `${name}: ${v}\r\n`;
  }
  head += `Server: voxgate\r\nContent-Length: ${body?.length ?? 0}\r\n\r\n`;
  return wireBytes(head, body);
}

/**
 * The head and body in one buffer: the head's UTF-8 written straight into it and the body copied after, instead
 * of a buffer for the head and a second one for `Buffer.concat` (one allocation and one copy fewer per message
 * with a body; small ones come from Node's buffer pool either way).
 */
function wireBytes(head: string, body: Buffer | undefined): Buffer {
  if (!body || body.length === 0) return Buffer.from(head, 'utf8');
  const headLength = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headLength + body.length);
  out.write(head, 0, headLength, 'utf8');
  body.copy(out, headLength);
  return out;
}

/**
 * A stateless error response to bytes that did not parse as a request: the headers that could be read are
 * copied as §8.2.6.2 asks; without a readable Via there is nowhere to send it, so undefined (drop).
 */
export function buildErrorResponseForRaw(
  raw: Buffer,
  status: number,
  reason: string,
  adjust: (headers: SipHeader[]) => SipHeader[] = (headers) => headers,
): Buffer | undefined {
  const bounds = findHeadEnd(raw);
  // Header text is UTF-8 (§25): read as such unless it is all ASCII, so that it is written back as it came.
  const head = raw.subarray(0, bounds ? bounds.headEnd : raw.length);
  const text = head.toString(isAscii(head) ? 'latin1' : 'utf8').replace(/^[\r\n]+/, '');
  const readable: SipHeader[] = [];
  for (const line of splitHeaderLines(text).slice(1)) {
    try {
      readable.push(...parseHeaders([line]));
    } catch {
      // an unreadable line is left out of the response
    }
  }
  if (!readable.some((h) => h.name === 'Via')) return undefined;
  const to = readable.find((h) => h.name === 'To')?.value;
  return serializeResponse(
    adjust(readable),
    to !== undefined && headerParam(to, 'tag') !== undefined,
    status,
    reason,
    {},
  );
}

/** Serializes a request; Content-Length is computed from the body. */
export function buildRequest(
  method: string,
  uri: string,
  headers: readonly SipHeader[],
  body?: Buffer,
): Buffer {
  let head = `${method} ${uri} SIP/2.0\r\n`;
  for (const h of headers) if (h.name !== 'Content-Length') head += `${h.name}: ${h.value}\r\n`;
  head += `Content-Length: ${body?.length ?? 0}\r\n\r\n`;
  return wireBytes(head, body);
}
