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
}

export interface ClientTransaction {
  readonly request: SipRequest;
  readonly state: InviteClientState | NonInviteClientState;
  receive(response: SipResponse): void;
  terminate(): void;
}

/**
 * §17.1.1.3: the ACK for a non-2xx final response "MUST contain a single Via header field, and this MUST be
 * equal to the top Via header field of the original request", the same Request-URI, Call-ID, From and CSeq
 * number (method ACK), the To of the response, and the Route header fields of the request.
 */
export function buildNon2xxAck(request: SipRequest, response: SipResponse): Buffer {
  const headers: SipHeader[] = [
    { name: 'Via', value: request.topVia },
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: header(request, 'From') ?? '' },
    { name: 'To', value: header(response, 'To') ?? '' },
    { name: 'Call-ID', value: request.callId },
    { name: 'CSeq', value: `${request.cseq.seq} ACK` },
    ...request.headers.filter((h) => h.name === 'Route'),
  ];
  return buildRequest('ACK', request.uri, headers);
}

/**
 * §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header fields in the CANCEL request
 * MUST be identical to those in the request being cancelled, including tags. A CANCEL constructed by a client
 * MUST have only a single Via header field value matching the top Via value in the request being cancelled."
 * "If the request being cancelled contains a Route header field, the CANCEL request MUST include that Route
 * header field's values."
 */
export function buildCancel(request: SipRequest): Buffer {
  const headers: SipHeader[] = [
    { name: 'Via', value: request.topVia },
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: header(request, 'From') ?? '' },
    { name: 'To', value: header(request, 'To') ?? '' },
    { name: 'Call-ID', value: request.callId },
    { name: 'CSeq', value: `${request.cseq.seq} CANCEL` },
    ...request.headers.filter((h) => h.name === 'Route'),
  ];
  return buildRequest('CANCEL', request.uri, headers);
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
  return response;
}

/** The INVITE client transaction, RFC 3261 §17.1.1 as updated by RFC 6026 §8.4 (the Accepted state). */
export function createInviteClientTransaction(
  request: SipRequest,
  bytes: Buffer,
  transportSend: TransactionSend,
  reliable: boolean,
  timers: TimerSettings,
  events: ClientTransactionEvents,
): ClientTransaction {
  const t = new TransactionTimers<'A' | 'B' | 'D' | 'M'>();
  const { terminated } = events;
  let state: InviteClientState = 'calling';
  // The TU's callbacks, dropped once the transaction will never call them again ("Completed": responses are
  // absorbed): a finished call's state is not kept alive by a transaction waiting out Timer D.
  let tu: Pick<ClientTransactionEvents, 'response' | 'timeout'> | undefined = events;
  let ack: Buffer | undefined;
  let a = timers.t1;
  const terminate = () => {
    if (state === 'terminated') return;
    state = 'terminated';
    t.stopAll();
    tu = undefined;
    terminated();
  };
  // §17.1.4: "the client transaction SHOULD inform the TU that a transport failure has occurred, and the
  // client transaction SHOULD transition directly to the "Terminated" state." Only while the request is
  // outstanding: a failed ACK retransmission in "Completed" changes nothing.
  const failed = (failure: SendFailure) => {
    if (state !== 'calling' && state !== 'proceeding') return;
    const last = tu;
    terminate();
    last?.response(transportFailureResponse(request, failure));
  };
  const send = (out: Buffer) => transportSend(out, failed);
  send(bytes);
  // §17.1.1.2: "If an unreliable transport is being used, the client transaction MUST start timer A with a
  // value of T1 … For any transport, the client transaction MUST start timer B with a value of 64*T1".
  const retransmit = () => {
    countRetransmission('request-sent');
    send(bytes);
    a *= 2;
    t.start('A', a, retransmit);
  };
  if (!reliable) t.start('A', a, retransmit);
  t.start('B', 64 * timers.t1, () => {
    tu?.timeout();
    terminate();
  });

  return {
    request,
    get state() {
      return state;
    },
    receive(response) {
      const { status } = response;
      if (state === 'calling' || state === 'proceeding') {
        t.stop('A');
        if (status < 200) {
          // §17.1.1.2: "If the client transaction receives a provisional response while in the "Calling"
          // state, it transitions to the "Proceeding" state … and SHOULD NOT retransmit the request any more."
          t.stop('B');
          state = 'proceeding';
          tu?.response(response);
        } else if (status < 300) {
          // RFC 6026 §8.4: "If a 2xx response is received while the client INVITE state machine is in the
          // "Calling" or "Proceeding" states, it MUST transition to the "Accepted" state … and set Timer M to
          // 64*T1."
          t.stop('B');
          state = 'accepted';
          t.start('M', 64 * timers.t1, terminate);
          tu?.response(response);
        } else {
          // §17.1.1.2: "When in either the "Calling" or "Proceeding" states, reception of a response with
          // status code from 300-699 MUST cause the client transaction to transition to "Completed". The
          // client transaction MUST pass the received response up to the TU, and the client transaction MUST
          // generate an ACK request". Timer D: at least 32 s unreliable, zero reliable.
          t.stop('B');
          state = 'completed';
          ack = buildNon2xxAck(request, response);
          send(ack);
          t.start('D', reliable ? 0 : Math.max(32_000, 64 * timers.t1), terminate);
          const last = tu;
          tu = undefined;
          last?.response(response);
        }
      } else if (state === 'completed' && status >= 300 && ack) {
        // "Any retransmissions of the final response that are received while in the "Completed" state MUST
        // cause the ACK to be re-passed to the transport layer for retransmission, but the newly received
        // response MUST NOT be passed up to the TU."
        send(ack);
      } else if (state === 'accepted' && status >= 200 && status < 300) {
        // RFC 6026 §8.4: "any 2xx responses that match this client transaction … MUST be passed up to the TU".
        tu?.response(response);
      }
    },
    terminate,
  };
}

/** The non-INVITE client transaction, RFC 3261 §17.1.2. */
export function createNonInviteClientTransaction(
  request: SipRequest,
  bytes: Buffer,
  transportSend: TransactionSend,
  reliable: boolean,
  timers: TimerSettings,
  events: ClientTransactionEvents,
): ClientTransaction {
  const t = new TransactionTimers<'E' | 'F' | 'K'>();
  let state: NonInviteClientState = 'trying';
  const { terminated } = events;
  // Dropped on the final response: in "Completed" the TU is not called again (see the INVITE transaction).
  let tu: Pick<ClientTransactionEvents, 'response' | 'timeout'> | undefined = events;
  let e = timers.t1;
  const terminate = () => {
    if (state === 'terminated') return;
    state = 'terminated';
    t.stopAll();
    tu = undefined;
    terminated();
  };
  // §17.1.4: a transport failure ends the transaction; the TU sees it as a 503 (§8.1.3.1).
  const failed = (failure: SendFailure) => {
    if (state !== 'trying' && state !== 'proceeding') return;
    const last = tu;
    terminate();
    last?.response(transportFailureResponse(request, failure));
  };
  const send = (out: Buffer) => transportSend(out, failed);
  send(bytes);
  // §17.1.2.2: "If an unreliable transport is in use, the client transaction MUST set timer E to fire in T1
  // seconds" … "timer E … MIN(2*T1, T2) … MIN(4*T1, T2)"; in "Proceeding" it fires every T2. Timer F = 64*T1.
  const retransmit = () => {
    countRetransmission('request-sent');
    send(bytes);
    e = state === 'proceeding' ? timers.t2 : Math.min(2 * e, timers.t2);
    t.start('E', e, retransmit);
  };
  if (!reliable) t.start('E', e, retransmit);
  t.start('F', 64 * timers.t1, () => {
    tu?.timeout();
    terminate();
  });
  return {
    request,
    get state() {
      return state;
    },
    receive(response) {
      if (state !== 'trying' && state !== 'proceeding') return; // "Completed": retransmissions absorbed
      if (response.status < 200) {
        if (state === 'trying' && !reliable) {
          state = 'proceeding';
          e = timers.t2;
          t.start('E', e, retransmit);
        }
        state = 'proceeding';
        tu?.response(response);
        return;
      }
      // §17.1.2.2: on a final response "the client transaction MUST transition to the "Completed" state …
      // timer K … T4 seconds for unreliable transports, and zero seconds for reliable transports."
      t.stop('E');
      t.stop('F');
      state = 'completed';
      const last = tu;
      tu = undefined;
      last?.response(response);
      t.start('K', reliable ? 0 : timers.t4, terminate);
    },
    terminate,
  };
}
