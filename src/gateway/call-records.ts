/**
 * The records calls leave: call events (started, answered, ended) on the tracing hook, on the call-events
 * stream the worker writes CDRs from, and in the live calls of shared state; and the refusals — a call refused
 * before it rings anywhere is answered, counted by reason on `callRefusedChannel`, and, once its caller is
 * known (authenticated, or a recognised trunk), recorded as one `ended` event with `refused: true`, so that
 * CDRs count every attempt (ASR) and say why it failed.
 */
import { channel } from 'node:diagnostics_channel';
import type { ServerTransaction, SipRequest } from '../sip/index.js';
import { CALL_EVENTS_STREAM, encodeCallEvent, type CallEvent, type RecordingPolicy } from '../store/index.js';
import type { LiveCall, SharedState } from '../store/shared-state/index.js';
import { dispositionOf, type CallIdentity } from './b2bua-call.js';

/** Tracing hook: the call events started, answered and ended as the gateway publishes them (not ringing). */
export const callEventChannel = channel('voxgate:gateway:call-event');
/** Tracing hook: a call refused before it was offered anywhere (`CallRefusedEvent`). */
export const callRefusedChannel = channel('voxgate:gateway:call-refused');

export interface CallRefusedEvent {
  status: number;
  reason:
    | 'tenant-concurrent-limit'
    | 'tenant-rate-limit'
    | 'user-concurrent-limit'
    | 'trunk-concurrent-limit'
    | 'not-found'
    | 'unavailable'
    | 'media'
    | 'media-encryption';
}

export interface CallRecordDeps {
  state: Pick<SharedState, 'calls' | 'events'>;
  /** This instance's name, recorded in live calls and events. */
  gatewayId: string;
  warn(detail: Record<string, unknown>, message: string): void;
  /** The live calls of this instance the relay is recording now (`LiveCall.recording`); forgotten at the end. */
  recording?: Set<string>;
  /** The recording policy of this instance's live calls (`LiveCall.recordingPolicy`); forgotten at the end. */
  recordingPolicy?: Map<string, RecordingPolicy>;
}

/** Who a refused call attempt was, once the caller is known (authenticated, or a recognised trunk). */
export type Attempt = Omit<CallIdentity, 'gateway'>;

/** A refusal: the final response, the reason it is counted under, and an optional Warning text. */
export interface Refusal {
  status: number;
  phrase: string;
  reason: CallRefusedEvent['reason'];
  warning?: string;
  /** What the attempt's record says, when more precise than the reason's usual text. */
  recorded?: string;
}

/** Why a refused attempt's record says it failed, by refusal reason. */
const REFUSAL_TEXT: Record<CallRefusedEvent['reason'], string> = {
  'tenant-concurrent-limit': 'tenant concurrent call limit',
  'tenant-rate-limit': 'tenant call rate limit',
  'user-concurrent-limit': 'user concurrent call limit',
  'trunk-concurrent-limit': 'trunk concurrent call limit',
  'not-found': 'not found',
  unavailable: 'not registered',
  media: 'media relay failed',
  'media-encryption': 'SRTP required',
};

/** §21.4.18 480: the callee exists but has no registered contact. */
export const NOT_REGISTERED = {
  status: 480,
  phrase: 'Temporarily Unavailable',
  reason: 'unavailable',
  warning: 'The user is not registered',
} as const satisfies Refusal;

/**
 * Publishes a call event: on the tracing hook, onto the call-events stream (the worker writes CDRs from it),
 * and into the live calls of shared state — except for a refused attempt, which never was a live call.
 */
export function publishCallEvent(deps: CallRecordDeps, event: CallEvent): void {
  // The tracing hook's subscribers (logs, metrics, traces) follow started, answered and ended; the first
  // ringing has its own hook (`callProgressChannel`).
  if (callEventChannel.hasSubscribers && event.type !== 'ringing') callEventChannel.publish(event);
  deps.state.events
    .publish(CALL_EVENTS_STREAM, encodeCallEvent(event))
    .catch((err: unknown) => deps.warn({ err, callId: event.callId }, 'call event not published'));
  if (event.refused) return;
  const write =
    event.type === 'ended'
      ? deps.state.calls.remove(event.callId)
      : deps.state.calls.put(liveCall(deps, event));
  write.catch((err: unknown) => deps.warn({ err, callId: event.callId }, 'live call not recorded'));
  if (event.type === 'ended') {
    deps.recording?.delete(event.callId);
    deps.recordingPolicy?.delete(event.callId);
  }
}

/** The live call an event says the call is now, its optional fields assigned only when present. */
function liveCall(deps: CallRecordDeps, event: CallEvent): LiveCall {
  const live: LiveCall = {
    callId: event.callId,
    tenantId: event.tenantId,
    from: event.from,
    to: event.to,
    state: event.type === 'started' ? 'setup' : event.type === 'ringing' ? 'ringing' : 'answered',
    startedAt: event.startedAt,
    gateway: deps.gatewayId,
  };
  if (event.type === 'answered') live.answeredAt = event.answeredAt;
  if (deps.recording?.has(event.callId)) live.recording = true;
  const policy = deps.recordingPolicy?.get(event.callId);
  if (policy !== undefined) live.recordingPolicy = policy;
  return live;
}

/** The record of an attempt that ended before it was offered anywhere. */
export function recordAttempt(
  deps: CallRecordDeps,
  request: SipRequest,
  attempt: Attempt,
  ended: { status: number; reason: string; limited?: boolean; hangupBy?: CallEvent['hangupBy'] },
): void {
  const now = Date.now();
  publishCallEvent(deps, {
    type: 'ended',
    callId: request.callId,
    ...attempt,
    startedAt: now,
    endedAt: now,
    disposition: ended.limited ? 'limited' : dispositionOf(ended.status),
    sipCode: ended.status,
    hangupBy: ended.hangupBy ?? 'system',
    reason: ended.reason,
    refused: true,
    gateway: deps.gatewayId,
  });
}

/**
 * Refuses a call before it rings anywhere: counted by reason, and — when the caller is known (`attempt`) —
 * recorded with its code and reason.
 */
export function refuse(
  deps: CallRecordDeps,
  request: SipRequest,
  tx: ServerTransaction,
  refusal: Refusal,
  attempt?: Attempt,
): void {
  const { status, reason, warning } = refusal;
  if (callRefusedChannel.hasSubscribers)
    callRefusedChannel.publish({ status, reason } satisfies CallRefusedEvent);
  tx.respond(status, refusal.phrase, {
    ...(warning ? { Warning: `399 voxgate "${warning}"` } : {}),
    ...(status === 503 ? { 'Retry-After': '1' } : {}),
  });
  if (attempt) {
    recordAttempt(deps, request, attempt, {
      status,
      reason: refusal.recorded ?? REFUSAL_TEXT[reason],
      limited: reason.endsWith('-limit'),
    });
  }
}
