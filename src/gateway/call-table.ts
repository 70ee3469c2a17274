/**
 * The call table: the calls in progress in this process, by the caller leg's Call-ID and by each callee leg's
 * Call-ID, with the caller's INVITE server transaction (for its CANCEL); it hands in-dialog requests, ACKs,
 * CANCELs and stray 2xx responses to the call they belong to, and drains or forgets them at shutdown.
 */
import { SlotMap, type ServerTransaction, type SipRequest, type SipResponse } from '../sip/index.js';
import type { HangupParty } from '../store/index.js';
import type { B2buaCall, CallHooks } from './b2bua-call.js';

/** How long a drain waits, after ending the calls still up, for their ended events. */
const ENDED_EVENTS_WAIT_MS = 3000;

export interface CallTable {
  readonly size: number;
  /** Whether a call with this caller-side Call-ID is in progress. */
  has(callId: string): boolean;
  /**
   * Adds the call `create` makes for the INVITE `tx` of Call-ID `callId`, giving it the hooks that index its
   * callee legs and remove it when it ends (`release` is called then; with a party, when a transfer takes that
   * party away).
   */
  add(
    callId: string,
    tx: ServerTransaction,
    release: (party?: 'caller' | 'callee') => void,
    create: (hooks: Pick<CallHooks, 'registerLeg' | 'ended' | 'releaseParty'>) => B2buaCall,
  ): B2buaCall;
  /** A request with a To tag: true when it belonged to a call (and was handled). */
  inDialog(request: SipRequest, tx: ServerTransaction): boolean;
  /** An ACK without a server transaction (the ACK of a 2xx, §13.3.1.4). */
  ack(request: SipRequest): void;
  /** A CANCEL matched to an INVITE server transaction (§9.2). */
  cancel(invite: ServerTransaction): void;
  /** A response that matched no client transaction. */
  strayResponse(response: SipResponse): void;
  /**
   * Ends the call of caller-side Call-ID `callId` (BYE on both legs, or CANCEL and 487 before the answer),
   * recorded as ended by `by` for `reason`; false when no such call is in progress here.
   */
  end(callId: string, by: HangupParty, reason: string): boolean;
  /** The call in progress here whose live call (and record) is `callId` now, if any. */
  find(callId: string): B2buaCall | undefined;
  /** The answered call and side whose dialog is `id` as the gateway sees it (INVITE with Replaces). */
  byDialog(id: {
    callId: string;
    localTag: string;
    remoteTag: string;
  }): { call: B2buaCall; side: 'caller' | 'callee' } | undefined;
  /** Waits for calls to end until `deadline` (epoch ms), then ends the rest. */
  drain(deadline: number): Promise<void>;
  /** Forgets every call at once, sending nothing. */
  close(): void;
}

export function createCallTable(warn: (detail: Record<string, unknown>, message: string) => void): CallTable {
  // Slots emptied on delete: an old hash table of these maps must not keep ended calls alive (`SlotMap`).
  const byCallerCallId = new SlotMap<string, B2buaCall>();
  const byCalleeCallId = new SlotMap<string, B2buaCall>();
  /**
   * The caller's INVITE server transaction of each call, by its Call-ID (the CANCEL's, §9.1), for `cancel`; not
   * keyed by the transaction object, which an old table would keep with everything it reaches.
   */
  const inviteTxOf = new SlotMap<string, ServerTransaction>();
  const idle: (() => void)[] = [];
  /** The call whose live call is `callId` now: its original Call-ID, or after a transfer the new call's id. */
  const find = (callId: string): B2buaCall | undefined => {
    const call = byCallerCallId.get(callId);
    if (call?.liveCallId === callId) return call;
    for (const c of byCallerCallId.values()) if (c.liveCallId === callId) return c;
    return undefined;
  };

  return {
    get size() {
      return byCallerCallId.size;
    },

    has: (callId) => byCallerCallId.has(callId),

    add(callId, tx, release, create) {
      const call: B2buaCall = create({
        registerLeg: (legCallId) => byCalleeCallId.set(legCallId, call),
        releaseParty: (party) => release(party),
        ended: () => {
          release();
          byCallerCallId.delete(call.callId);
          inviteTxOf.delete(callId);
          for (const id of call.legCallIds) byCalleeCallId.delete(id);
          if (byCallerCallId.size === 0) for (const wake of idle.splice(0)) wake();
        },
      });
      byCallerCallId.set(callId, call);
      inviteTxOf.set(callId, tx);
      return call;
    },

    inDialog(request, tx) {
      // A request that fails inside the call is answered 500 (§21.5.1) rather than left to time out.
      const failed = (err: unknown) => {
        warn({ err, callId: request.callId, method: request.method }, 'in-dialog request failed');
        tx.respond(500, 'Server Internal Error');
      };
      const asCaller = byCallerCallId.get(request.callId);
      if (asCaller && request.toTag === asCaller.callerTags.local) {
        asCaller.inDialog(asCaller.roleOf(request.callId) ?? 'caller', request, tx).catch(failed);
        return true;
      }
      // A callee leg, or — after a transfer — the leg of the party that took a side's place (either side).
      const asCallee = byCalleeCallId.get(request.callId);
      const role = asCallee?.roleOf(request.callId);
      if (asCallee && role) {
        asCallee.inDialog(role, request, tx).catch(failed);
        return true;
      }
      return false;
    },

    ack(request) {
      // An ACK is never answered (§17.2.1): a failure is only reported.
      const failed = (err: unknown) => warn({ err, callId: request.callId }, 'ACK handling failed');
      const asCaller = byCallerCallId.get(request.callId);
      if (asCaller) {
        asCaller.ack('caller', request).catch(failed);
        return;
      }
      const asCallee = byCalleeCallId.get(request.callId);
      const role = asCallee?.roleOf(request.callId);
      if (asCallee && role && role !== 'released') asCallee.ack(role, request).catch(failed);
    },

    cancel(invite) {
      // Once the INVITE has its final response (and no request), a CANCEL has no effect (§9.2).
      const callId = invite.request?.callId;
      const call =
        callId === undefined || inviteTxOf.get(callId) !== invite ? undefined : byCallerCallId.get(callId);
      if (call) call.cancel();
      // Still authenticating or looking up the callee: §9.2 "the UAS … SHOULD respond to the INVITE with a
      // 487"; the routing sees the transaction is no longer proceeding and stops.
      else if (invite.state === 'proceeding') invite.respond(487, 'Request Terminated');
    },

    strayResponse(response) {
      if (response.status < 200 || response.status >= 300 || response.cseq.method !== 'INVITE') return;
      byCalleeCallId.get(response.callId)?.stray2xx(response);
    },

    end(callId, by, reason) {
      const call = find(callId);
      if (!call || call.hasEnded()) return false;
      call.hangup(by, reason);
      return true;
    },

    find,

    byDialog(id) {
      const call = byCallerCallId.get(id.callId) ?? byCalleeCallId.get(id.callId);
      const side = call?.sideByDialog(id);
      return call && side ? { call, side } : undefined;
    },

    close() {
      for (const call of byCallerCallId.values()) call.abandon();
      byCallerCallId.clear();
      byCalleeCallId.clear();
      inviteTxOf.clear();
    },

    async drain(deadline) {
      if (byCallerCallId.size > 0) {
        await Promise.race([
          new Promise<void>((resolve) => idle.push(resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref()),
        ]);
      }
      for (const call of [...byCallerCallId.values()]) call.hangup('system', 'gateway shutting down');
      // Each call's ended event is published once the relay has returned its stats: waited for (bounded by
      // the ng timeout) so that the worker, which stops after every drain, can still write their CDRs.
      if (byCallerCallId.size > 0) {
        await Promise.race([
          new Promise<void>((resolve) => idle.push(resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, ENDED_EVENTS_WAIT_MS).unref()),
        ]);
      }
    },
  };
}
