import { buildRequest } from '../message/build-response.js';
import { newHeader } from '../message/header-cache.js';
import { canonicalHeaderName } from '../message/header-names.js';
import { parseMessage } from '../message/parse-message.js';
import {
  header,
  headerParam,
  topLevelComma,
  type SipHeader,
  type SipRequest,
} from '../message/sip-message.js';

/** A request to send: its bytes, and the request those bytes parse as, for the client transaction and the TU. */
export interface OutgoingRequest {
  readonly bytes: Buffer;
  readonly request: SipRequest;
}

const NO_BODY = Buffer.alloc(0);

/**
 * A header value the parser would read back as the same string: printable ASCII, no surrounding whitespace, no
 * line break (the parser trims values, unfolds lines and reads the head as latin1, so anything else could come
 * back different).
 */
const VERBATIM = /^(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?$/;
/** A request-line token (method) or Request-URI: printable ASCII without spaces. */
const TOKEN = /^[\x21-\x7e]+$/;

function verbatim(headers: readonly SipHeader[]): boolean {
  for (const h of headers) {
    if (!VERBATIM.test(h.value) || canonicalHeaderName(h.name) !== h.name) return false;
  }
  return true;
}

/**
 * Serializes a request (`buildRequest`) and gives the `SipRequest` its bytes parse as, made from the headers
 * themselves instead of parsing the bytes back: a client transaction needs the request (its top Via branch and
 * CSeq method are its key, §17.1.3; CANCEL and the ACK of a non-2xx are built from it, §9.1, §17.1.1.3), and
 * parsing our own INVITE again cost as much as parsing the INVITE that caused it. The request is the parsed one
 * (headers with Content-Length, the top via-parm, the From and To tags, Call-ID and CSeq) whenever a header
 * could read back differently — a value with non-ASCII bytes, surrounding whitespace or a line break, a name
 * not in canonical form — or Call-ID, CSeq, From, To or Via is missing or malformed: then the bytes are parsed,
 * as before.
 */
export function outgoingRequest(
  method: string,
  uri: string,
  headers: readonly SipHeader[],
  body: Buffer = NO_BODY,
): OutgoingRequest {
  const bytes = buildRequest(method, uri, headers, body);
  return { bytes, request: requestOf(method, uri, headers, body) ?? parsedRequest(bytes) };
}

function parsedRequest(bytes: Buffer): SipRequest {
  const request = parseMessage(bytes, { datagram: false });
  if (request.kind !== 'request') throw new TypeError('a built request parses as a request');
  return request;
}

/** The request as the parser would read it, or undefined when that cannot be told without parsing. */
function requestOf(
  method: string,
  uri: string,
  given: readonly SipHeader[],
  body: Buffer,
): SipRequest | undefined {
  if (!TOKEN.test(method) || !TOKEN.test(uri) || !verbatim(given)) return undefined;
  const headers: SipHeader[] = [];
  for (const h of given) if (h.name !== 'Content-Length') headers.push(newHeader(h.name, h.value));
  headers.push(newHeader('Content-Length', String(body.length)));
  const message = { headers };
  const callId = header(message, 'Call-ID');
  const cseq = /^(\d{1,10}) ([!%'*+\-.0-9A-Z_`a-z~]+)$/.exec(header(message, 'CSeq') ?? '');
  const from = header(message, 'From');
  const to = header(message, 'To');
  const via = header(message, 'Via');
  // §8.1.1.5: the CSeq method matches the request's; the parser refuses a request where it does not.
  if (!callId || !cseq || cseq[2] !== method || !from || !to || !via) return undefined;
  const seq = Number(cseq[1]);
  if (seq >= 2 ** 31) return undefined;
  const viaEnd = topLevelComma(via);
  return {
    kind: 'request',
    method,
    uri,
    version: 'SIP/2.0',
    body,
    headers,
    callId,
    cseq: { seq, method },
    fromTag: headerParam(from, 'tag'),
    toTag: headerParam(to, 'tag'),
    topVia: viaEnd === -1 ? via : via.slice(0, viaEnd).trim(),
  };
}
