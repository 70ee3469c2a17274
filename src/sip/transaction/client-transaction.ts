import { buildRequest, buildResponse } from '../message/build-response.js';
import { parseMessage } from '../message/parse-message.js';
import { header, type SipHeader, type SipRequest, type SipResponse } from '../message/sip-message.js';
import type { SendFailure, SendFailureHandler } from '../transport/send-failure.js';
import { TransactionTimers, type TimerSettings } from './timers.js';
import { countRetransmission } from '../diagnostics.js';

export type InviteClientState = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';
export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/** How a client transaction hands bytes to the transport: a failure is reported later, never thrown. */
export type TransactionSend = (bytes: Buffer, onFailure: SendFailureHandler) => void;

export interface ClientTransactionEvents {
  /**
   * A response for the TU (retransmissions absorbed, except 2xx to an INVITE: RFC 6026). A transport failure
   * comes here too, as a locally made 503 (§8.1.3.1).
   */
  response(response: SipResponse): void;
  /** Timer B or F fired: the TU treats this as a 408 (§8.1.3.1). */
  timeout(): void;
  terminated(): void;
  /**
   * A non-INVITE transaction over an unreliable transport reached "Completed" (§17.1.2.2) and the caller keeps
   * that state instead of the object: a record of the transaction's key that absorbs the final response's
   * retransmissions until Timer K (`completed-responses.ts`). The object stays in "Completed" with no timer and
   * `terminated` is not called. Without this callback the object waits out Timer K itself.
   */
  completed?(): void;
}

export interface ClientTransaction {
  readonly request: SipRequest;
  readonly state: InviteClientState | NonInviteClientState;
  receive(response: SipResponse): void;
  terminate(): void;
}

/**
 * An ACK or CANCEL sent hop by hop with the request it goes with: the request's top Via alone, its Request-URI,
 * From, Call-ID, CSeq number and Route header fields, and the To given.
 */
function hopByHopRequest(method: 'ACK' | 'CANCEL', request: SipRequest, to: string): Buffer {
  const headers: SipHeader[] = [
    { name: 'Via', value: request.topVia },
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: header(request, 'From') ?? '' },
    { name: 'To', value: to },
    { name: 'Call-ID', value: request.callId },
    { name: 'CSeq', value: `${request.cseq.seq} ${method}` },
    ...request.headers.filter((h) => h.name === 'Route'),
  ];
  return buildRequest(method, request.uri, headers);
}

/**
 * §17.1.1.3: the ACK for a non-2xx final response "MUST contain a single Via header field, and this MUST be
 * equal to the top Via header field of the original request", the same Request-URI, Call-ID, From and CSeq
 * number (method ACK), the To of the response, and the Route header fields of the request.
 */
export function buildNon2xxAck(request: SipRequest, response: SipResponse): Buffer {
  return hopByHopRequest('ACK', request, header(response, 'To') ?? '');
}

/**
 * §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header fields in the CANCEL request
 * MUST be identical to those in the request being cancelled, including tags. A CANCEL constructed by a client
 * MUST have only a single Via header field value matching the top Via value in the request being cancelled."
 * "If the request being cancelled contains a Route header field, the CANCEL request MUST include that Route
 * header field's values."
 */
export function buildCancel(request: SipRequest): Buffer {
  return hopByHopRequest('CANCEL', request, header(request, 'To') ?? '');
}

/**
 * §8.1.3.1: "If a fatal transport error is reported by the transport layer (generally, due to fatal ICMP errors
 * in UDP or connection failures in TCP), the condition MUST be treated as a 503 (Service Unavailable) status
 * code." The 503 is made here, from the request, so that the TU handles it like any 503 (a B2BUA fails over).
 */
export function transportFailureResponse(request: SipRequest, failure: SendFailure): SipResponse {
  const response = parseMessage(
    buildResponse(request, 503, 'Service Unavailable', {
      Warning: `399 voxgate "Transport failure: ${failure.reason}"`,
    }),
    { datagram: false },
  );
  if (response.kind !== 'response') throw new TypeError('a built response parses as a response');
  madeHere.add(response);
  return response;
}

/** The 503s transportFailureResponse made: no peer sent them. */
const madeHere = new WeakSet<SipResponse>();

/**
 * Whether `response` is the 503 a client transaction made for a transport failure (§8.1.3.1) rather than one a
 * peer sent: a TU that asks whether the peer answered at all (a health check) tells the two apart here, not by
 * the Warning text, which a peer could send too.
 */
export function isTransportFailure(response: SipResponse): boolean {
  return madeHere.has(response);
}

/** Makes the client transaction that sends `request` (serialized as `bytes`) through `transportSend`. */
export type ClientTransactionFactory = (
  request: SipRequest,
  bytes: Buffer,
  transportSend: TransactionSend,
  reliable: boolean,
  timers: TimerSettings,
  events: ClientTransactionEvents,
) => ClientTransaction;

/** The TU's callbacks a client transaction holds until it hands the TU the final response. */
type TransactionUser = Pick<ClientTransactionEvents, 'response' | 'timeout'>;

/** What a client transaction is made of: the request, its bytes, how they are sent, and to whom it answers. */
interface ClientSetup {
  readonly request: SipRequest;
  readonly bytes: Buffer;
  readonly transportSend: TransactionSend;
  readonly reliable: boolean;
  readonly timers: TimerSettings;
  readonly events: ClientTransactionEvents;
}

/** What sets the INVITE and non-INVITE client transactions apart in what they do alike. */
interface ClientMachine<S extends string, T extends string> {
  readonly initial: S;
  /** The states in which the request is outstanding: a transport failure ends the transaction only in these. */
  readonly outstanding: readonly S[];
  /** The timer that retransmits the request on an unreliable transport (A, E) and the one that gives up (B, F). */
  readonly retransmitTimer: T;
  readonly timeoutTimer: T;
  /** The retransmission interval after `previous` in `state`. */
  nextInterval(previous: number, state: S | 'terminated'): number;
}

/**
 * The part both client transactions share: the request sent, retransmitted on an unreliable transport from T1 on
 * (§17.1.1.2 timer A, §17.1.2.2 timer E), given up after 64*T1 with the TU's timeout (timers B and F); §17.1.4,
 * "the client transaction SHOULD inform the TU that a transport failure has occurred, and the client transaction
 * SHOULD transition directly to the "Terminated" state" — only while the request is outstanding (a failed ACK
 * retransmission in "Completed" changes nothing), the failure handed to the TU as a 503 (§8.1.3.1). The TU's
 * callbacks are dropped once the transaction will never call them again ("Completed": responses are absorbed):
 * a finished call's state is not kept alive by a transaction waiting out its last timer.
 */
class ClientCore<S extends string, T extends string> {
  state: S | 'terminated';
  readonly timers = new TransactionTimers<T>();
  private tu: TransactionUser | undefined;
  /** Kept apart from the TU's callbacks, which are dropped. */
  private readonly terminated: () => void;
  private interval: number;

  readonly request: SipRequest;
  private readonly bytes: Buffer;
  private readonly transportSend: TransactionSend;

  constructor(
    setup: ClientSetup,
    private readonly machine: ClientMachine<S, T>,
  ) {
    const { request, bytes, transportSend, reliable, timers, events } = setup;
    this.request = request;
    this.bytes = bytes;
    this.transportSend = transportSend;
    this.state = machine.initial;
    this.tu = events;
    this.terminated = events.terminated;
    this.interval = timers.t1;
    this.send(bytes);
    if (!reliable) this.retransmitIn(this.interval);
    this.timers.start(machine.timeoutTimer, 64 * timers.t1, () => {
      this.tu?.timeout();
      this.terminate();
    });
  }

  readonly terminate = (): void => {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timers.stopAll();
    this.tu = undefined;
    this.terminated();
  };

  send(out: Buffer): void {
    this.transportSend(out, this.failed);
  }

  /** (Re)starts the retransmission timer: the request is sent again in `ms`, then at the machine's intervals. */
  retransmitIn(ms: number): void {
    this.interval = ms;
    this.timers.start(this.machine.retransmitTimer, ms, this.retransmit);
  }

  /** Passes a response to the TU. */
  toTu(response: SipResponse): void {
    this.tu?.response(response);
  }

  /** Passes the final response to the TU, which is not called again. */
  finalToTu(response: SipResponse): void {
    const last = this.tu;
    this.tu = undefined;
    last?.response(response);
  }

  private readonly retransmit = (): void => {
    countRetransmission('request-sent');
    this.send(this.bytes);
    this.retransmitIn(this.machine.nextInterval(this.interval, this.state));
  };

  private readonly failed = (failure: SendFailure): void => {
    if (!(this.machine.outstanding as readonly string[]).includes(this.state)) return;
    const last = this.tu;
    this.terminate();
    last?.response(transportFailureResponse(this.request, failure));
  };
}

/**
 * A kind of client transaction: its machine (given the timer settings) and its handling of a response (given
 * the core and what the transaction is made of); the rest is the core's.
 */
function clientTransactionKind<S extends InviteClientState | NonInviteClientState, T extends string>(
  machine: (timers: TimerSettings) => ClientMachine<S, T>,
  receiver: (core: ClientCore<S, T>, setup: ClientSetup) => (response: SipResponse) => void,
): ClientTransactionFactory {
  return (request, bytes, transportSend, reliable, timers, events) => {
    const setup = { request, bytes, transportSend, reliable, timers, events };
    const core = new ClientCore(setup, machine(timers));
    const receive = receiver(core, setup);
    return {
      request,
      get state() {
        return core.state;
      },
      receive,
      terminate: core.terminate,
    };
  };
}

/** The INVITE client transaction, RFC 3261 §17.1.1 as updated by RFC 6026 §8.4 (the Accepted state). */
export const createInviteClientTransaction = clientTransactionKind<InviteClientState, 'A' | 'B' | 'D' | 'M'>(
  // §17.1.1.2: "If an unreliable transport is being used, the client transaction MUST start timer A with a
  // value of T1 … For any transport, the client transaction MUST start timer B with a value of 64*T1"; timer A
  // doubles at every retransmission.
  () => ({
    initial: 'calling',
    outstanding: ['calling', 'proceeding'],
    retransmitTimer: 'A',
    timeoutTimer: 'B',
    nextInterval: (previous) => 2 * previous,
  }),
  (core, { request, reliable, timers }) => {
    const t = core.timers;
    let ack: Buffer | undefined;
    return (response) => {
      const { status } = response;
      if (core.state === 'calling' || core.state === 'proceeding') {
        t.stop('A');
        if (status < 200) {
          // §17.1.1.2: "If the client transaction receives a provisional response while in the "Calling"
          // state, it transitions to the "Proceeding" state … and SHOULD NOT retransmit the request any more."
          t.stop('B');
          core.state = 'proceeding';
          core.toTu(response);
        } else if (status < 300) {
          // RFC 6026 §8.4: "If a 2xx response is received while the client INVITE state machine is in the
          // "Calling" or "Proceeding" states, it MUST transition to the "Accepted" state … and set Timer M to
          // 64*T1."
          t.stop('B');
          core.state = 'accepted';
          t.start('M', 64 * timers.t1, core.terminate);
          core.toTu(response);
        } else {
          // §17.1.1.2: "When in either the "Calling" or "Proceeding" states, reception of a response with
          // status code from 300-699 MUST cause the client transaction to transition to "Completed". The
          // client transaction MUST pass the received response up to the TU, and the client transaction MUST
          // generate an ACK request". Timer D: at least 32 s unreliable, zero reliable.
          t.stop('B');
          core.state = 'completed';
          ack = buildNon2xxAck(request, response);
          core.send(ack);
          t.start('D', reliable ? 0 : Math.max(32_000, 64 * timers.t1), core.terminate);
          core.finalToTu(response);
        }
      } else if (core.state === 'completed' && status >= 300 && ack) {
        // "Any retransmissions of the final response that are received while in the "Completed" state MUST
        // cause the ACK to be re-passed to the transport layer for retransmission, but the newly received
        // response MUST NOT be passed up to the TU."
        core.send(ack);
      } else if (core.state === 'accepted' && status >= 200 && status < 300) {
        // RFC 6026 §8.4: "any 2xx responses that match this client transaction … MUST be passed up to the TU".
        core.toTu(response);
      }
    };
  },
);

/** The non-INVITE client transaction, RFC 3261 §17.1.2. */
export const createNonInviteClientTransaction = clientTransactionKind<NonInviteClientState, 'E' | 'F' | 'K'>(
  // §17.1.2.2: "If an unreliable transport is in use, the client transaction MUST set timer E to fire in T1
  // seconds" … "timer E … MIN(2*T1, T2) … MIN(4*T1, T2)"; in "Proceeding" it fires every T2. Timer F = 64*T1.
  (timers) => ({
    initial: 'trying',
    outstanding: ['trying', 'proceeding'],
    retransmitTimer: 'E',
    timeoutTimer: 'F',
    nextInterval: (previous, state) =>
      state === 'proceeding' ? timers.t2 : Math.min(2 * previous, timers.t2),
  }),
  (core, { reliable, timers, events }) =>
    (response) => {
      const t = core.timers;
      if (core.state !== 'trying' && core.state !== 'proceeding') return; // "Completed": retransmissions absorbed
      if (response.status < 200) {
        if (core.state === 'trying' && !reliable) core.retransmitIn(timers.t2);
        core.state = 'proceeding';
        core.toTu(response);
        return;
      }
      // §17.1.2.2: on a final response "the client transaction MUST transition to the "Completed" state …
      // timer K … T4 seconds for unreliable transports, and zero seconds for reliable transports." "The
      // "Completed" state exists to buffer any additional response retransmissions that may be received":
      // over an unreliable transport the caller keeps it (`events.completed`), as a record of the key.
      t.stop('E');
      t.stop('F');
      core.state = 'completed';
      core.finalToTu(response);
      if (!reliable && events.completed) events.completed();
      else t.start('K', reliable ? 0 : timers.t4, core.terminate);
    },
);
