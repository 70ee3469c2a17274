/**
 * The public vocabulary of a call through the B2BUA: where it is offered (`ForkTarget`, `ForkMode`), its
 * settings, the hooks the B2BUA gives it, and the identity its events carry; and what the call's parts are
 * given of the call (`CallPart`, `SetupFailing`).
 */
import type { ExtraHeaders, SipHeader } from '../../sip/index.js';
import type { CallDirection, CallEvent, HangupParty, RecordingPolicy } from '../../store/index.js';
import type { LegTarget } from '../sip-outbound.js';
import type { B2buaCall } from './b2bua-call.js';
import type { CallStateMachine } from './call-state.js';

/** A place the call is offered: a registered contact of a user, or a trunk. */
export interface ForkTarget {
  /** The Request-URI of the outgoing INVITE. */
  readonly uri: string;
  readonly target: LegTarget;
  /** The To of the outgoing INVITE (name-addr, no tag); default: the caller's To. */
  readonly to?: string;
  /** The From of the outgoing INVITE (name-addr, no tag); default: the caller's From. */
  readonly from?: string;
  /** Extra headers of the outgoing INVITE (the signed peer hop between replicas). */
  readonly headers?: readonly SipHeader[];
  /** Credentials for a 401/407 from this target (a carrier trunk), §22.2. */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** The trunk this target is (outbound calls): the call's events name the trunk that carried it. */
  readonly trunkId?: string;
}

/**
 * How the targets are tried: all at once (a user's registered contacts, §16.6 parallel forking), or one after
 * the other (a route's trunks, failing over on a timeout, 408 or 5xx).
 */
export type ForkMode = 'parallel' | 'sequential';

export interface CallSettings {
  /** RFC 3261 T1/T2, ms: 2xx retransmission to the caller (§13.3.1.4). */
  readonly t1: number;
  readonly t2: number;
  /** No final answer after this long: the forks are cancelled and the caller gets 480. */
  readonly ringTimeoutMs: number;
  /** An answered call is ended on both legs after this long. */
  readonly maxDurationMs: number;
  /** An answered, anchored call whose relay saw no new packet for this long is ended; 0 = never. */
  readonly mediaTimeoutMs: number;
}

export interface CallHooks {
  /** Indexes a callee-side Call-ID so in-dialog requests and stray 2xx find this call. */
  registerLeg(callId: string): void;
  event(event: CallEvent): void;
  ended(): void;
  /** Gives back the limits the call holds for one party: a transfer took that party away. */
  releaseParty?(side: Side): void;
  warn(detail: Record<string, unknown>, message: string): void;
  /** The relay started or stopped recording the live call `callId`. */
  recordingChanged?(callId: string, on: boolean): void;
  /** A recording of the call is stored (the relay said where). */
  recorded?(recording: CallRecording): void;
  /**
   * Where a 3xx's Contact URIs lead for this call, by the B2BUA's policy (targets of the caller's own tenant
   * only); undefined when none is acceptable, and the 3xx is then the call's answer like any failure.
   */
  redirect?(uris: readonly string[]): Promise<{ targets: ForkTarget[]; mode: ForkMode } | undefined>;
  /**
   * Authorizes a transfer (REFER, or the API) as a call from the transferor to `target` by the B2BUA's policy
   * — the routing, authorization and limits of a new INVITE from that user — and holds its limits: the new
   * leg's targets, or why not. Without it (a leg another replica sent through this one) a REFER is relayed
   * to that replica, which holds the call.
   */
  transfer?(ask: TransferAsk): Promise<TransferPlan | TransferRefusal>;
  /** The answered call of this tenant and side whose dialog is `id` (a Refer-To's embedded Replaces). */
  dialog?(id: DialogId): { readonly call: B2buaCall; readonly side: Side } | undefined;
}

/** A dialog as the gateway sees it: its Call-ID, our tag, the party's tag. */
export interface DialogId {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
}

/** A transfer to authorize: the transferor's AOR (undefined when it is no user of the tenant) and where to. */
export interface TransferAsk {
  readonly transferor: string | undefined;
  /** The Refer-To URI (or the API's target): its user part is dialled as the transferor would dial it. */
  readonly target: string;
}

/** Where a transfer goes, as its planning found it; `release` gives back the limits it holds. */
export interface TransferPlan {
  readonly forks: readonly ForkTarget[];
  readonly mode: ForkMode;
  readonly identity: { readonly direction: CallDirection; readonly to: string; readonly trunkId?: string };
  readonly aor: string | undefined;
  release(): void;
}

/** Why a transfer may not be made: the REFER's answer (403 for a target the transferor could not call). */
export interface TransferRefusal {
  readonly status: number;
  readonly phrase: string;
  readonly warning: string;
}

export interface CallIdentity {
  readonly tenantId: string;
  readonly direction: CallDirection;
  readonly from: string;
  readonly to: string;
  readonly trunkId?: string;
  readonly gateway?: string;
  /** The call's recording policy (`off` when unset): `on-demand` and `always` may be started by the API. */
  readonly recording?: RecordingPolicy;
}

/** A recording of a call the relay stored: its files' object keys. */
export interface CallRecording {
  readonly tenantId: string;
  /** The live call's id when it stopped. */
  readonly callId: string;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly keys: readonly string[];
}

/** What each part of a call (media leg, provisional relay, in-dialog relay) is given of the call itself. */
export interface CallPart {
  readonly callId: string;
  readonly machine: CallStateMachine;
  warn(detail: Record<string, unknown>, message: string): void;
}

/** A part of a call that may end it before the answer. */
export interface SetupFailing {
  /** Ends a call before the answer with `status` to the caller; `ended` says who ended it and why. */
  failSetup(
    status: number,
    reason: string,
    headers: ExtraHeaders,
    ended: { by: HangupParty; why: string },
  ): void;
}

/** The two sides of a call: the caller's leg (A) and the callee's (B). */
export type Side = 'caller' | 'callee';
/** The side across from `side`. */
export const other = (side: Side): Side => (side === 'caller' ? 'callee' : 'caller');

/** A final response as the call keeps it: what the caller would be told. */
export interface FinalResponse {
  readonly status: number;
  readonly reason: string;
  readonly headers: ExtraHeaders;
}
