import { hash } from 'node:crypto';
import {
  buildResponse,
  header,
  sipChannels,
  topViaOf,
  type InboundContext,
  type SipRequest,
} from '../sip/index.js';
import { STATELESS_METHODS } from './request-router.js';
import type { Reply } from './sip-authenticator.js';

/**
 * Whether the gateway answers `request` as a stateless UAS (RFC 3261 §8.2.7), without a server transaction: an
 * OPTIONS ping outside a dialog (no side effect), and a REGISTER without credentials, which can only be
 * challenged (401), refused while its source is banned (403) or rejected as malformed — §8.2.7: "The stateless
 * UAS role is needed primarily to handle unauthenticated requests for which a challenge response is issued. If
 * unauthenticated requests were handled statefully, then malicious floods of unauthenticated requests could
 * create massive amounts of transaction state". A REGISTER with credentials stays stateful: "This rules out
 * stateless registrars" — a retransmission of it must get the same 200, not a replay refusal of its nonce.
 */
export function answeredStatelessly(request: SipRequest): boolean {
  if (request.toTag !== undefined) return false;
  if (STATELESS_METHODS.has(request.method)) return true;
  return request.method === 'REGISTER' && header(request, 'Authorization') === undefined;
}

/**
 * RFC 3261 §8.2.7: "To header tags MUST be generated for responses in a stateless manner - in a manner that
 * will generate the same tag for the same request consistently": a hash of what identifies the request (its
 * Call-ID, From tag, CSeq and top Via branch), so a retransmission gets the same tag.
 */
export function statelessTag(request: SipRequest): string {
  const branch = topViaOf(request)?.branch ?? '';
  // One one-shot digest (no Hash object per response): the same hex as createHash('sha1').update(…).digest.
  return hash(
    'sha1',
    `${request.callId}\n${request.fromTag ?? ''}\n${request.cseq.seq}\n${branch}`,
    'hex',
  ).slice(0, 16);
}

/** The reply of a stateless UAS to `request`: each response built with the request's stateless To tag. */
export function statelessReply(request: SipRequest, inbound: Pick<InboundContext, 'send'>): Reply {
  return (status, reason, headers) => {
    if (sipChannels.responseOut.hasSubscribers)
      sipChannels.responseOut.publish({ method: request.method, status });
    inbound.send(buildResponse(request, status, reason, headers, undefined, statelessTag(request)));
  };
}
