import { validateRequest, type SipRequest, type UasPolicy } from '../sip/index.js';
import type { Registrar, Reply, RequestSource } from './registrar.js';

/**
 * Requests answered without transaction state (RFC 3261 §8.2.7, stateless UAS): an OPTIONS ping has no side
 * effect, so a retransmission may simply be answered again. Keeping Timer J state (32 s on UDP) for every
 * keepalive ping of every phone would cost memory for nothing; REGISTER and calls stay stateful.
 */
export const STATELESS_METHODS: ReadonlySet<string> = new Set(['OPTIONS']);

/** What the gateway accepts as a UAS (RFC 3261 §8.2 checks); the methods grow with the B2BUA. */
export function gatewayPolicy(allowedMethods: readonly string[]): UasPolicy {
  return {
    allowedMethods,
    supportedExtensions: ['path', 'outbound', 'gruu'],
    acceptedContentTypes: ['application/sdp'],
    uriSchemes: ['sip', 'sips', 'tel'],
    responseContentType: 'application/sdp',
    enforceMaxForwards: true,
  };
}

/**
 * The gateway's request handling: while draining, every new request gets 503 with Retry-After (§21.5.4) so
 * that clients and load balancers move to another instance; otherwise the §8.2 checks, then OPTIONS is
 * answered 200 (§11.2), REGISTER goes to the registrar, and the rest gets 501 until the B2BUA lands.
 */
export function createRequestRouter(deps: {
  registrar?: Registrar;
  isDraining: () => boolean;
  onError?: (err: unknown, request: SipRequest) => void;
}): (request: SipRequest, reply: Reply, source: RequestSource) => void {
  const allowed = deps.registrar ? ['OPTIONS', 'REGISTER'] : ['OPTIONS'];
  const policy = gatewayPolicy(allowed);
  const allow = allowed.join(', ');
  return (request, reply, source) => {
    if (request.method === 'ACK') return; // §17.2.1: an ACK is never answered.
    if (deps.isDraining()) {
      reply(503, 'Service Unavailable', { 'Retry-After': '5' });
      return;
    }
    if (!allowed.includes(request.method)) {
      // §21.5.2: "The server does not support the functionality required to fulfill the request."
      reply(501, 'Not Implemented', { Allow: allow });
      return;
    }
    const rejection = validateRequest(request, policy);
    if (rejection) {
      reply(rejection.status, rejection.reason, rejection.headers);
      return;
    }
    if (request.method === 'REGISTER' && deps.registrar) {
      deps.registrar.handleRegister(request, reply, source).catch((err: unknown) => {
        deps.onError?.(err, request);
        reply(500, 'Server Internal Error');
      });
      return;
    }
    // §11.2: "Allow, Accept, Accept-Encoding, Accept-Language, and Supported header fields SHOULD be present".
    reply(200, 'OK', {
      Allow: allow,
      Accept: 'application/sdp',
      'Accept-Encoding': 'identity',
      'Accept-Language': 'en',
      Supported: policy.supportedExtensions.join(', '),
    });
  };
}
