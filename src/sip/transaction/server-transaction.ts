import { countRetransmission, sipChannels } from '../diagnostics.js';
import { buildResponse, newTag, type ExtraHeaders } from '../message/build-response.js';
import type { SipRequest } from '../message/sip-message.js';
import type { InboundContext } from '../transport/inbound-context.js';
import { TransactionTimers, type TimerSettings } from './timers.js';

export type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';
export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export interface ServerTransactionEvents {
  /** The transaction ended; the layer forgets it. */
  terminated(): void;
  /** Timer H fired: no ACK arrived for a final non-2xx response (§17.2.1). */
  timeout?(): void;
}

export interface InviteServerTransactionEvents extends ServerTransactionEvents {
  /**
   * The TU let go of the transaction in "Accepted" (`acknowledged`): the caller keeps absorbing the INVITE's
   * retransmissions until Timer L as a record (`completed-responses.ts`), and the transaction object runs no
   * timer from then on. Without this event the object itself stays until Timer L.
   */
  letGo?(): void;
}

export interface NonInviteServerTransactionEvents extends ServerTransactionEvents {
  /**
   * The transaction entered "Completed" over an unreliable transport: the caller keeps its final response and
   * where it goes for Timer J (`completed-responses.ts`) and passes it again for each retransmitted request.
   * The transaction object runs no timer from then on; a failure of the response's send still ends it.
   */
  completed(response: Buffer, send: InboundContext['send'], route: InboundContext['route']): void;
}

export interface ServerTransaction {
  /**
   * The request, until the final response is sent: the transaction then keeps only that response's bytes for
   * retransmissions (Timers G/H/J/L last up to 32 s, and a finished call must not keep its parsed messages).
   */
  readonly request: SipRequest | undefined;
  readonly state: InviteServerState | NonInviteServerState;
  /** The To tag every response of this transaction carries (one per UAS dialog, §12.1.1). */
  readonly toTag: string;
  /** Sends a response from the TU through the state machine. */
  respond(status: number, reason: string, headers?: ExtraHeaders, body?: Buffer): void;
  /**
   * A request the layer matched to this transaction: a retransmission, or the ACK of an INVITE. Returns
   * `'to-tu'` for an ACK the TU must see (RFC 6026: the ACK of a 2xx that reuses the INVITE's branch).
   */
  receive(request: SipRequest): 'absorbed' | 'to-tu';
  /**
   * The TU retransmits its 2xx no more (§13.3.1.4: the ACK arrived, or the call is over). In "Accepted" the
   * transaction then lets go of the 2xx's bytes: until Timer L (64*T1) it only absorbs retransmitted INVITEs,
   * which RFC 6026 §7.1 answers with nothing, and 32 s of answered calls would otherwise keep every 2xx sent —
   * with the 8 KiB buffer-pool slab each was written into — and every transaction object: the layer keeps a
   * record of the key instead (`InviteServerTransactionEvents.letGo`).
   */
  acknowledged(): void;
  /** Ends the transaction at once (shutdown). */
  terminate(): void;
}

/**
 * The part both server transactions share: the To tag of their responses; the request, kept until the final
 * response and then only that response's bytes (Timers G/H/J/L last up to 32 s, and a finished call must not
 * keep its parsed messages: nothing here holds `ctx` or the request beyond `held`); the last response sent
 * again for a retransmitted request; §17.2.4, "If the transport layer indicates a failure while sending a
 * response … the server transaction SHOULD inform the TU that a failure has occurred, and SHOULD transition to
 * the terminated state."
 */
class ServerCore<S extends string, T extends string> {
  state: S | 'terminated';
  readonly timers = new TransactionTimers<T>();
  readonly toTag: string;
  readonly reliable: boolean;
  held: SipRequest | undefined;
  lastResponse: Buffer | undefined;
  readonly sendBytes: InboundContext['send'];
  readonly route: InboundContext['route'];
  private readonly terminated: () => void;
  private readonly letGo: (() => void) | undefined;

  constructor(request: SipRequest, ctx: InboundContext, events: InviteServerTransactionEvents, initial: S) {
    this.state = initial;
    this.toTag = request.toTag ?? newTag();
    this.held = request;
    this.sendBytes = ctx.send;
    this.route = ctx.route;
    this.reliable = ctx.reliable;
    this.terminated = events.terminated;
    this.letGo = events.letGo;
  }

  readonly terminate = (): void => {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timers.stopAll();
    this.terminated();
  };

  readonly acknowledged = (): void => {
    if (this.state !== 'accepted' || !this.lastResponse) return;
    this.lastResponse = undefined;
    if (!this.letGo) return;
    this.timers.stopAll();
    this.letGo();
  };

  /** Sends `bytes` as the transaction's response, the one a retransmitted request gets again. */
  send(bytes: Buffer): void {
    this.lastResponse = bytes;
    this.sendBytes(bytes, this.failed);
  }

  /** Sends the TU's response to the held request, with the transaction's To tag (and counted as sent). */
  respondToHeld(
    held: SipRequest,
    status: number,
    reason: string,
    headers?: ExtraHeaders,
    body?: Buffer,
  ): void {
    if (sipChannels.responseOut.hasSubscribers)
      sipChannels.responseOut.publish({ method: held.method, status });
    this.send(buildResponse(held, status, reason, headers, body, this.toTag));
  }

  /** Sends the last response again. */
  resend(): void {
    if (this.lastResponse) this.sendBytes(this.lastResponse, this.failed);
  }

  /**
   * A retransmitted request: in "Proceeding" and "Completed" the last response "MUST be passed to the transport
   * layer for retransmission" (§17.2.1, §17.2.2); otherwise it is discarded.
   */
  absorb(): 'absorbed' {
    countRetransmission('request-absorbed');
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) {
      countRetransmission('response-sent');
      this.resend();
    }
    return 'absorbed';
  }

  private readonly failed = (): void => this.terminate();
}

/** The transaction the layer holds: the core's request, To tag and state, the machine's respond and receive. */
function serverTransaction<S extends InviteServerState | NonInviteServerState, T extends string>(
  core: ServerCore<S, T>,
  machine: Pick<ServerTransaction, 'respond' | 'receive'>,
): ServerTransaction {
  return {
    get request() {
      return core.held;
    },
    toTag: core.toTag,
    get state() {
      return core.state;
    },
    respond: machine.respond,
    receive: machine.receive,
    acknowledged: core.acknowledged,
    terminate: core.terminate,
  };
}

/**
 * The INVITE server transaction, RFC 3261 §17.2.1 as updated by RFC 6026 §7.1 (the Accepted state).
 */
export function createInviteServerTransaction(
  request: SipRequest,
  ctx: InboundContext,
  timers: TimerSettings,
  events: InviteServerTransactionEvents,
): ServerTransaction {
  const core = new ServerCore<InviteServerState, 'G' | 'H' | 'I' | 'L' | 'TRYING'>(
    request,
    ctx,
    events,
    'proceeding',
  );
  const { timers: t, reliable } = core;
  let g = timers.t1;
  // §17.2.1: "If there is a chance that the TU will not generate a provisional or final response within 200 ms,
  // then it SHOULD generate a 100 (Trying) response" — the transaction does so when the TU has not.
  t.start('TRYING', 200, () => {
    if (core.state === 'proceeding' && !core.lastResponse && core.held)
      core.send(buildResponse(core.held, 100, 'Trying'));
  });

  return serverTransaction(core, {
    respond(status, reason, headers, body) {
      if (core.state === 'proceeding' && core.held) {
        t.stop('TRYING');
        core.respondToHeld(core.held, status, reason, headers, body);
        if (status >= 200) core.held = undefined;
        if (status >= 200 && status < 300) {
          // RFC 6026 §7.1: "If, while in the "Proceeding" state, the TU passes a 2xx response to the server
          // transaction, the server transaction MUST pass this response to the transport layer for
          // transmission. … The server transaction MUST then transition to the "Accepted" state." Timer L = 64*T1.
          core.state = 'accepted';
          t.start('L', 64 * timers.t1, core.terminate);
        } else if (status >= 300) {
          // §17.2.1: "the state machine MUST enter the "Completed" state … For unreliable transports, timer G
          // is set to fire in T1 seconds … timer H MUST be set to fire in 64*T1 seconds for all transports."
          core.state = 'completed';
          const retransmit = () => {
            countRetransmission('response-sent');
            core.resend();
            g = Math.min(2 * g, timers.t2);
            t.start('G', g, retransmit);
          };
          if (!reliable) t.start('G', g, retransmit);
          t.start('H', 64 * timers.t1, () => {
            events.timeout?.();
            core.terminate();
          });
        }
      } else if (core.state === 'accepted' && status >= 200 && status < 300 && core.lastResponse) {
        // RFC 6026 §7.1: 2xx retransmissions from the TU are passed to the transport in "Accepted". A
        // retransmission is the same response: its bytes are sent again (the request is no longer kept). It is
        // counted as a retransmission, not as one more response sent.
        countRetransmission('response-sent');
        core.resend();
      }
    },
    receive(incoming) {
      if (incoming.method === 'ACK') {
        // §17.2.1: "If an ACK is received while the server transaction is in the "Completed" state, the server
        // transaction MUST transition to the "Confirmed" state … timer I is set to fire in T4 seconds for
        // unreliable transports, and zero seconds for reliable transports."
        if (core.state === 'completed') {
          core.state = 'confirmed';
          t.stop('G');
          t.stop('H');
          t.start('I', reliable ? 0 : timers.t4, core.terminate);
        }
        // RFC 6026 §7.1 (figure 5): in "Accepted" an ACK is passed "to TU" — the ACK of the 2xx, whose
        // retransmissions the TU stops, even when the UAC reused the INVITE's branch for it.
        return core.state === 'accepted' ? 'to-tu' : 'absorbed';
      }
      // §17.2.1: "If a request retransmission is received while in the "Proceeding" state, the most recent
      // provisional response that was received from the TU MUST be passed to the transport layer for
      // retransmission." In "Completed", the final response is retransmitted. RFC 6026: absorbed in "Accepted".
      return core.absorb();
    },
  });
}

/**
 * The non-INVITE server transaction, RFC 3261 §17.2.2. Over a reliable transport Timer J is 0; over an
 * unreliable one the caller keeps the Completed state and its Timer J (`events.completed`).
 */
export function createNonInviteServerTransaction(
  request: SipRequest,
  ctx: InboundContext,
  events: NonInviteServerTransactionEvents,
): ServerTransaction {
  const core = new ServerCore<NonInviteServerState, 'J'>(request, ctx, events, 'trying');
  return serverTransaction(core, {
    respond(status, reason, headers, body) {
      if (core.state === 'completed' || core.state === 'terminated' || !core.held) return;
      core.respondToHeld(core.held, status, reason, headers, body);
      if (status < 200) {
        core.state = 'proceeding';
        return;
      }
      core.held = undefined;
      // §17.2.2: "When the server transaction enters the "Completed" state, it MUST set Timer J to fire in
      // 64*T1 seconds for unreliable transports, and zero seconds for reliable transports." Over an unreliable
      // transport the caller keeps the response for Timer J (`events.completed`): a record, not this object.
      core.state = 'completed';
      if (core.reliable) core.timers.start('J', 0, core.terminate);
      else if (core.lastResponse) events.completed(core.lastResponse, core.sendBytes, core.route);
    },
    // §17.2.2: in "Trying", "any further request retransmissions are discarded"; in "Proceeding" and
    // "Completed" the last response "MUST be passed to the transport layer for retransmission".
    receive: () => core.absorb(),
  });
}
