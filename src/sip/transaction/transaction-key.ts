import type { Via } from '../headers/via.js';
import { topViaOf } from '../message/header-access.js';
import { headerParam, type SipMessage } from '../message/sip-message.js';

/** §8.1.1.7: "The branch ID inserted by an element compliant with this specification MUST always begin with the characters "z9hG4bK"." */
export const MAGIC_COOKIE = 'z9hG4bK';

/**
 * The sent-by (host[:port]) of a via-parm, lower-cased, the default port made explicit per transport (§18.2.1:
 * "the default port value is transport specific": 5061 for TLS, else 5060).
 */
export function sentBy(via: Via): string {
  const port = via.port ?? (via.transport === 'TLS' ? 5061 : 5060);
  return `${via.host.toLowerCase()}:${port}`;
}

/**
 * The server transaction a request belongs to (§17.2.3): with an RFC 3261 branch, the branch, the sent-by
 * of the top Via and the method, ACK counting as INVITE ("the method of the request matches the one that
 * created the transaction, except for ACK, where the method of the request that created the transaction is
 * INVITE"). Without the magic cookie, the RFC 2543 rules: Request-URI, From tag, Call-ID, CSeq number, top
 * Via and method. (The To tag is left out of the fallback so that the ACK of a non-2xx, which carries the
 * To tag of our response, still matches its INVITE.)
 */
export function serverTransactionKey(request: SipMessage & { kind: 'request' }): string {
  const method = request.method === 'ACK' ? 'INVITE' : request.method;
  const branch = headerParam(request.topVia, 'branch');
  if (branch?.startsWith(MAGIC_COOKIE)) {
    // The parser has read the top Via already: a message without one does not get this far.
    const via = topViaOf(request);
    return `${branch}|${via ? sentBy(via) : request.topVia}|${method}`;
  }
  return [
    '2543',
    request.uri,
    request.fromTag ?? '',
    request.callId,
    request.cseq.seq,
    request.topVia,
    method,
  ].join('|');
}

/**
 * The client transaction a response belongs to (§17.1.3): "the response matches … if the response has the
 * same value of the branch parameter in the top Via header field as the branch parameter in the top Via
 * header field of the request that created the transaction" and "the method parameter in the CSeq header
 * field matches the method of the request that created the transaction".
 */
export function clientTransactionKey(message: SipMessage): string | undefined {
  const branch = headerParam(message.topVia, 'branch');
  return branch ? `${branch}|${message.cseq.method}` : undefined;
}
