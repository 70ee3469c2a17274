import { SlotMap } from '../slot-map.js';
import { sipChannels } from '../diagnostics.js';
import { buildResponse } from '../message/build-response.js';
import { detachString, parseMessage } from '../message/parse-message.js';
import type { SipRequest, SipResponse } from '../message/sip-message.js';
import type { InboundContext } from '../transport/inbound-context.js';
import {
  createInviteClientTransaction,
  createNonInviteClientTransaction,
  type ClientTransaction,
  type ClientTransactionEvents,
  type TransactionSend,
} from './client-transaction.js';
import { createCompletedResponses, DEFAULT_MAX_COMPLETED_BYTES } from './completed-responses.js';
import {
  createInviteServerTransaction,
  createNonInviteServerTransaction,
  type ServerTransaction,
} from './server-transaction.js';
import { DEFAULT_TIMERS, type TimerSettings } from './timers.js';
import { clientTransactionKey, serverTransactionKey } from './transaction-key.js';

/** The transaction user: the UA core or the B2BUA above the transaction layer. */
export interface TransactionUser {
  /**
   * A new request with its server transaction. An ACK that matches no INVITE transaction (the ACK of a 2xx,
   * §13.3.1.4) comes without one: it belongs to the dialog.
   */
  onRequest(request: SipRequest, tx: ServerTransaction | undefined, ctx: InboundContext): void;
  /** A CANCEL matched to a pending INVITE (§9.2); its own transaction has already answered 200. */
  onCancel?(cancel: SipRequest, invite: ServerTransaction): void;
  /** A response that matched no client transaction (e.g. a 2xx retransmission after Timer M): §17.1.3 says
   * it goes to the core. */
  onStrayResponse?(response: SipResponse): void;
}

export interface TransactionLayer {
  handleRequest(request: SipRequest, ctx: InboundContext): void;
  handleResponse(response: SipResponse): void;
  /**
   * Starts a client transaction for serialized request bytes (the top Via must carry a fresh branch). `request`
   * is what the bytes parse as, when the caller has it (`outgoingRequest`): they are not parsed again.
   * `terminated` is called when the transaction object is done: at Timer B, D, F or M, at a transport failure,
   * or — a non-INVITE request over UDP — when it reaches Completed and a record of its key absorbs the
   * retransmitted final responses until Timer K.
   */
  sendRequest(
    bytes: Buffer,
    send: TransactionSend,
    options: { reliable: boolean; request?: SipRequest },
    events: Omit<ClientTransactionEvents, 'terminated' | 'completed'> & { terminated?(): void },
  ): ClientTransaction;
  /** Server transactions and client transactions, those kept as records (in Completed or Accepted) included. */
  readonly size: { readonly server: number; readonly client: number };
  /**
   * Server transactions kept as records (`completed-responses.ts`): non-INVITE ones in Completed over UDP, and
   * INVITE ones in Accepted whose TU let go of them.
   */
  readonly completed: { readonly transactions: number; readonly bytes: number };
  /**
   * New requests answered 503 because the server transaction table was full (`maxServerTransactions`) or
   * the Completed records held `maxCompletedBytes`.
   */
  readonly refusedFull: number;
  /** New requests outside a dialog answered 503 because `admitting()` said no (the process overloaded). */
  readonly refusedOverload: number;
  /** Terminates every transaction (shutdown). */
  close(): void;
}

/**
 * Server transactions kept at most by default, those in Completed over UDP apart: ~7 KB each, so about
 * 350 MiB at the cap (docs/reliability.md).
 */
export const DEFAULT_MAX_SERVER_TRANSACTIONS = 50_000;

/**
 * Matches messages to transactions (§17.1.3, §17.2.3), creates them, and hands new requests to the TU. A
 * transaction lives until its RFC 3261 timers end it (64·T1 after the final response on UDP). The server
 * table holds at most `maxServerTransactions` transactions in progress, and a non-INVITE one that reached
 * Completed over UDP becomes a record of its response (`completed-responses.ts`), those records holding at
 * most `maxCompletedBytes`: beyond either bound a new request is answered 503 with Retry-After (§21.5.4,
 * overload) and not kept, while the transactions in progress (and their retransmissions) go on.
 */
export function createTransactionLayer(options: {
  tu: TransactionUser;
  timers?: TimerSettings;
  maxServerTransactions?: number;
  maxCompletedBytes?: number;
  /** Milliseconds on a monotonic clock, for Timers J and L of the records (default `performance.now`). */
  now?: () => number;
  /**
   * Whether new requests outside a dialog are taken (default: always). While it says no they are answered 503
   * with Retry-After and nothing is kept; requests within a dialog, CANCEL, ACK and responses go on, since they
   * end what is in progress.
   */
  admitting?: () => boolean;
}): TransactionLayer {
  const timers = options.timers ?? DEFAULT_TIMERS;
  const maxServers = options.maxServerTransactions ?? DEFAULT_MAX_SERVER_TRANSACTIONS;
  let refusedFull = 0;
  let refusedOverload = 0;
  const admitting = options.admitting;
  // Slots emptied on delete: an old hash table of these maps must not keep finished transactions alive.
  const servers = new SlotMap<string, ServerTransaction>();
  const clients = new SlotMap<string, ClientTransaction>();
  const now = options.now ?? (() => performance.now());
  const completed = createCompletedResponses({
    timerJ: 64 * timers.t1,
    maxBytes: options.maxCompletedBytes ?? DEFAULT_MAX_COMPLETED_BYTES,
    now,
  });
  // Non-INVITE client transactions in Completed over UDP (§17.1.2.2), kept for Timer K (T4) as records of their
  // key that absorb the final response's retransmissions, instead of the transaction with its request, timers
  // and closures: at 800 calls/s the BYEs' transactions were the largest part of what a gateway's heap kept
  // past two scavenges (docs/performance.md). Bounded by the client transactions that make them, which the TU's
  // own requests bound; the byte bound is the server records' and never reached by keys alone.
  const completedClients = createCompletedResponses({
    timerJ: timers.t4,
    maxBytes: options.maxCompletedBytes ?? DEFAULT_MAX_COMPLETED_BYTES,
    now,
    absorbs: 'response-absorbed',
  });

  const newServer = (key: string, request: SipRequest, ctx: InboundContext): ServerTransaction => {
    if (request.method === 'INVITE') {
      const tx = createInviteServerTransaction(request, ctx, timers, {
        terminated: () => servers.delete(key),
        // RFC 6026 §7.1: until Timer L an accepted INVITE's retransmissions are absorbed; once its TU let go,
        // a record does that instead of the transaction object.
        letGo: () => {
          servers.delete(key);
          completed.absorb(key);
        },
      });
      servers.set(key, tx);
      return tx;
    }
    let handedOver = false;
    const tx = createNonInviteServerTransaction(request, ctx, {
      terminated: () => {
        servers.delete(key);
        // §17.2.4: a failed send of the final response ends the transaction, in Completed its record.
        if (handedOver) completed.remove(key);
      },
      completed: (response, send, route) => {
        handedOver = true;
        servers.delete(key);
        completed.add(key, response, send, route);
      },
    });
    servers.set(key, tx);
    return tx;
  };

  return {
    handleRequest(request, ctx) {
      const key = serverTransactionKey(request);
      const existing = servers.get(key);
      if (existing) {
        if (existing.receive(request) === 'to-tu') options.tu.onRequest(request, undefined, ctx);
        return;
      }
      // An ACK matches no record of a non-INVITE; one that matches an accepted INVITE's goes to the TU, as in
      // "Accepted" (RFC 6026 §7.1: the ACK of the 2xx belongs to the dialog).
      if (request.method === 'ACK') {
        options.tu.onRequest(request, undefined, ctx);
        return;
      }
      if (completed.retransmit(key)) return;
      // §21.5.4: "The server is temporarily unable to process the request due to a temporary overloading …
      // The server MAY indicate when the client should retry the request in a Retry-After header field." Only
      // requests that would start something are refused: those within a dialog (a To tag) and CANCELs end it.
      const overloaded =
        admitting !== undefined && request.toTag === undefined && request.method !== 'CANCEL' && !admitting();
      if (overloaded || servers.size >= maxServers || completed.full) {
        if (overloaded) refusedOverload++;
        else refusedFull++;
        // Answered without a transaction: nothing is kept for the refused request (a retransmission is refused
        // again), and the response goes where the transaction's would, through `ctx.send`.
        if (sipChannels.responseOut.hasSubscribers)
          sipChannels.responseOut.publish({ method: request.method, status: 503 });
        ctx.send(buildResponse(request, 503, 'Service Unavailable', { 'Retry-After': '5' }));
        return;
      }
      // Kept for the transaction's life (Timer L or J: 32 s): a copy of its own, not a string made of the
      // message's branch and method, which would keep the message's header text alive with it.
      const tx = newServer(detachString(key), request, ctx);
      if (request.method === 'CANCEL') {
        // §9.2: "the CANCEL request … is matched to the INVITE transaction using the rules of §17.2.3 with the
        // method INVITE"; "If the UAS did not find a matching transaction … it SHOULD respond to the CANCEL
        // with a 481"; otherwise the CANCEL is answered 200 and the TU answers the INVITE with 487.
        const invite = servers.get(serverTransactionKey({ ...request, method: 'INVITE' }));
        if (!invite || invite.state !== 'proceeding') {
          tx.respond(481, 'Call/Transaction Does Not Exist');
          return;
        }
        tx.respond(200, 'OK');
        options.tu.onCancel?.(request, invite);
        return;
      }
      options.tu.onRequest(request, tx, ctx);
    },
    handleResponse(response) {
      const key = clientTransactionKey(response);
      const tx = key === undefined ? undefined : clients.get(key);
      if (tx) tx.receive(response);
      // §17.1.2.2: a retransmitted final response in "Completed" is absorbed, not passed to the TU.
      else if (key !== undefined && completedClients.retransmit(key)) return;
      else options.tu.onStrayResponse?.(response);
    },
    sendRequest(bytes, send, { reliable, request: built }, events) {
      const request = built ?? parseMessage(bytes, { datagram: false });
      if (request.kind !== 'request') throw new TypeError('sendRequest needs a request');
      const branchKey = clientTransactionKey(request);
      if (branchKey === undefined) throw new TypeError('the request has no Via branch');
      // Kept for the transaction's life: a copy of its own (see handleRequest).
      const key = detachString(branchKey);
      const create =
        request.method === 'INVITE' ? createInviteClientTransaction : createNonInviteClientTransaction;
      // The TU's callbacks are passed on, not closed over: the transaction drops them when it no longer needs
      // them, and nothing here keeps them (and the TU's state) alive until Timer D/K/M.
      const { terminated } = events;
      const tx = create(request, bytes, send, reliable, timers, {
        response: events.response,
        timeout: events.timeout,
        terminated: () => {
          clients.delete(key);
          terminated?.();
        },
        completed: () => {
          clients.delete(key);
          completedClients.absorb(key);
          terminated?.();
        },
      });
      if (tx.state !== 'terminated' && tx.state !== 'completed') clients.set(key, tx);
      return tx;
    },
    get size() {
      return { server: servers.size + completed.count, client: clients.size + completedClients.count };
    },
    get completed() {
      return { transactions: completed.count, bytes: completed.bytes };
    },
    get refusedOverload() {
      return refusedOverload;
    },
    get refusedFull() {
      return refusedFull;
    },
    close() {
      for (const tx of [...servers.values(), ...clients.values()]) tx.terminate();
      completed.clear();
      completedClients.clear();
    },
  };
}
