import {
  validateRequest,
  type InboundContext,
  type ServerTransaction,
  type SipRequest,
  type UasPolicy,
} from '../sip/index.js';
import { isBackendUnavailable } from '../store/index.js';
import type { B2bua } from './b2bua.js';
import type { Registrar, Reply, RequestSource } from './registrar.js';

/**
 * Requests answered without transaction state (RFC 3261 §8.2.7, stateless UAS): an OPTIONS ping has no side
 * effect, so a retransmission may simply be answered again. Keeping Timer J state (32 s on UDP) for every
 * keepalive ping of every phone would cost memory for nothing; calls stay stateful, and so does a REGISTER with
 * credentials (one without is challenged statelessly: `stateless-reply.ts`).
 */
export const STATELESS_METHODS: ReadonlySet<string> = new Set(['OPTIONS']);

/**
 * Methods of a call the B2BUA handles. REFER (RFC 3515) in a call's dialog is a transfer the B2BUA carries out
 * itself (`call/transfer.ts`); outside a dialog it is refused like any request that needs one (481).
 */
export const CALL_METHODS = [
  'INVITE',
  'ACK',
  'CANCEL',
  'BYE',
  'UPDATE',
  'INFO',
  'PRACK',
  'NOTIFY',
  'MESSAGE',
  'REFER',
];

/** Requests relayed inside a call's dialog; anything else with a To tag goes through the §8.2 checks (405). */
const IN_DIALOG: ReadonlySet<string> = new Set([...CALL_METHODS, 'OPTIONS']);

/** What the gateway accepts as a UAS (RFC 3261 §8.2 checks). */
export function gatewayPolicy(allowedMethods: readonly string[]): UasPolicy {
  return {
    allowedMethods,
    // 100rel: a caller's Require/Supported 100rel is carried to the callee leg and its reliable provisional
    // responses relayed PRACK for PRACK (RFC 3262, b2bua-call.ts); a callee without it answers 420 itself.
    // replaces: an INVITE with Replaces (RFC 3891) takes a party's place in a call it names (b2bua.ts).
    supportedExtensions: ['path', 'outbound', 'gruu', '100rel', 'replaces'],
    acceptedContentTypes: ['application/sdp', 'application/dtmf-relay', 'application/dtmf', 'text/plain'],
    uriSchemes: ['sip', 'sips', 'tel'],
    responseContentType: 'application/sdp',
    enforceMaxForwards: true,
  };
}

export type RequestRouter = (
  request: SipRequest,
  reply: Reply,
  source: RequestSource,
  tx?: ServerTransaction,
  inbound?: InboundContext,
) => void;

/**
 * The gateway's request handling. In-dialog requests (with a To tag) go to their call, even while draining:
 * calls in progress must be able to end. While draining, every new request gets 503 with Retry-After
 * (§21.5.4) so that clients and load balancers move to another instance; otherwise the §8.2 checks, then
 * OPTIONS is answered 200 (§11.2), REGISTER goes to the registrar, INVITE to the B2BUA.
 */
export function createRequestRouter(deps: {
  registrar?: Registrar;
  b2bua?: B2bua;
  isDraining: () => boolean;
  onError?: (err: unknown, request: SipRequest) => void;
}): RequestRouter {
  const allowed = ['OPTIONS', ...(deps.registrar ? ['REGISTER'] : []), ...(deps.b2bua ? CALL_METHODS : [])];
  const policy = gatewayPolicy(allowed);
  const allow = allowed.join(', ');
  const failed = (request: SipRequest, reply: Reply) => (err: unknown) => {
    deps.onError?.(err, request);
    // §21.5.4: a backend that cannot serve now (the store or Redis) is a 503 with Retry-After, not a defect.
    if (isBackendUnavailable(err)) reply(503, 'Service Unavailable', { 'Retry-After': '5' });
    else reply(500, 'Server Internal Error');
  };
  return (request, reply, source, tx, inbound) => {
    if (request.method === 'ACK') {
      // §17.2.1: an ACK is never answered; the ACK of a 2xx belongs to the call's dialog.
      deps.b2bua?.ack(request);
      return;
    }
    if (request.toTag !== undefined && tx && deps.b2bua && IN_DIALOG.has(request.method)) {
      if (deps.b2bua.inDialog(request, tx)) return;
      // §12.2.2: "If the UAS receives a request with a To tag that does not match an existing dialog … it
      // SHOULD respond 481 (Call/Transaction Does Not Exist)".
      reply(481, 'Call/Transaction Does Not Exist');
      return;
    }
    if (deps.isDraining()) {
      reply(503, 'Service Unavailable', { 'Retry-After': '5' });
      return;
    }
    const rejection = validateRequest(request, policy);
    if (rejection) {
      reply(rejection.status, rejection.reason, rejection.headers);
      return;
    }
    if (request.method === 'REGISTER' && deps.registrar) {
      deps.registrar.handleRegister(request, reply, source).catch(failed(request, reply));
      return;
    }
    if (request.method === 'INVITE' && deps.b2bua && tx && inbound) {
      deps.b2bua.invite(request, tx, inbound).catch(failed(request, reply));
      return;
    }
    if (request.method === 'REFER') {
      // RFC 3515 §2.4.2: a REFER may be declined; outside a call's dialog the gateway has no party to transfer.
      reply(403, 'Forbidden', { Warning: '399 voxgate "REFER is carried out only inside a call"' });
      return;
    }
    if (request.method !== 'OPTIONS') {
      // BYE, UPDATE, INFO … outside a dialog.
      reply(481, 'Call/Transaction Does Not Exist');
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
