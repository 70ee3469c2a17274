/**
 * The call event contract between the gateway (which publishes) and the worker (which writes CDRs).
 * Events go onto the shared event stream `CALL_EVENTS_STREAM` (Redis Streams when shared, memory when
 * embedded); stream fields are strings, so an event is encoded as flat string fields by `encodeCallEvent`.
 * Consumers must be idempotent by (callId, type): the stream is at-least-once.
 */
export const CALL_EVENTS_STREAM = 'voxgate:call-events';

/**
 * `ringing` is the first provisional response (18x) relayed to the caller: for the live call's state, webhooks
 * (`call.ringing`) and the CDR's `ringingAt` (post-dial delay); the tracing hook takes no notice of it.
 */
export type CallEventType = 'started' | 'ringing' | 'answered' | 'ended';
export type CallDirection = 'internal' | 'inbound' | 'outbound';
/** How the call ended, from the caller's point of view. */
export type CallDisposition =
  'answered' | 'busy' | 'no-answer' | 'cancelled' | 'rejected' | 'failed' | 'limited';
/** Who ended the call: one of its parties, the gateway itself, or an operator through the API. */
export type HangupParty = 'caller' | 'callee' | 'system' | 'api';

export interface MediaStreamStats {
  packets: number;
  bytes: number;
  lost: number;
  /** RFC 3550 interarrival jitter, milliseconds. */
  jitterMs: number;
}

export interface CallEvent {
  type: CallEventType;
  /** The caller-side (A-leg) Call-ID: the call's identity in CDRs and logs. */
  callId: string;
  tenantId: string;
  direction: CallDirection;
  /** AOR or number of the caller / the dialled party. */
  from: string;
  to: string;
  /** The trunk used (outbound) or matched (inbound), if any. */
  trunkId?: string;
  /** Epoch milliseconds. */
  startedAt: number;
  /**
   * When the first provisional response was relayed: on `ringing`, and on the call's later events once it rang
   * (so the `ended` event that makes the CDR carries it).
   */
  ringingAt?: number;
  answeredAt?: number;
  endedAt?: number;
  /** Only on `ended`. */
  disposition?: CallDisposition;
  /** Final SIP status of the call setup (200 for an answered call). */
  sipCode?: number;
  hangupBy?: HangupParty;
  /** Only on `ended`: why, in a few words, when the code does not say it (e.g. `media relay failed`). */
  reason?: string;
  /**
   * Only on `ended`: the call was refused before it was offered anywhere (not registered, a limit, no route):
   * no `started` event came before it, and it never was a live call.
   */
  refused?: boolean;
  /** Only on `ended`, when the relay reported them: per direction. */
  media?: { callerToCallee?: MediaStreamStats; calleeToCaller?: MediaStreamStats };
  /** The gateway instance that handled the call. */
  gateway?: string;
  /**
   * A call a transfer made (REFER, or the API): the `callId` of the call it came from. That call ended with
   * `reason: transferred` when this one was answered; this one runs from the transfer's start, between the
   * party that stayed (`from`) and the transfer target (`to`).
   */
  transferredFrom?: string;
}

/** Flat string fields for `EventStreams.publish`. */
export function encodeCallEvent(event: CallEvent): Record<string, string> {
  const fields: Record<string, string> = {};
  // for…in over an object literal: no entries array per event (three events per call on the hot path).
  for (const key in event) {
    const value = event[key as keyof CallEvent];
    if (value === undefined) continue;
    fields[key] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return fields;
}

const TYPES: ReadonlySet<string> = new Set(['started', 'ringing', 'answered', 'ended']);
const DIRECTIONS: ReadonlySet<string> = new Set(['internal', 'inbound', 'outbound']);

/** Parses stream fields back into an event; throws a one-line Error naming the bad field. */
export function decodeCallEvent(fields: Record<string, string>): CallEvent {
  const need = (name: string): string => {
    const v = fields[name];
    if (v === undefined || v === '') throw new Error(`call event: missing field ${name}`);
    return v;
  };
  const num = (name: string): number | undefined => {
    const v = fields[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`call event: field ${name} is not a number: ${v}`);
    return n;
  };
  const type = need('type');
  if (!TYPES.has(type)) throw new Error(`call event: unknown type ${type}`);
  const direction = need('direction');
  if (!DIRECTIONS.has(direction)) throw new Error(`call event: unknown direction ${direction}`);
  let media: CallEvent['media'];
  if (fields.media !== undefined) {
    try {
      media = JSON.parse(fields.media) as CallEvent['media'];
    } catch {
      throw new Error('call event: field media is not JSON');
    }
  }
  const event: CallEvent = {
    type: type as CallEventType,
    callId: need('callId'),
    tenantId: need('tenantId'),
    direction: direction as CallDirection,
    from: need('from'),
    to: need('to'),
    startedAt: num('startedAt') ?? Number.NaN,
  };
  if (!Number.isFinite(event.startedAt)) throw new Error('call event: missing field startedAt');
  if (fields.trunkId) event.trunkId = fields.trunkId;
  const ringingAt = num('ringingAt');
  if (ringingAt !== undefined) event.ringingAt = ringingAt;
  const answeredAt = num('answeredAt');
  if (answeredAt !== undefined) event.answeredAt = answeredAt;
  const endedAt = num('endedAt');
  if (endedAt !== undefined) event.endedAt = endedAt;
  if (fields.disposition) event.disposition = fields.disposition as CallDisposition;
  const sipCode = num('sipCode');
  if (sipCode !== undefined) event.sipCode = sipCode;
  if (fields.hangupBy) event.hangupBy = fields.hangupBy as HangupParty;
  if (fields.reason) event.reason = fields.reason;
  if (fields.refused === 'true') event.refused = true;
  if (media) event.media = media;
  if (fields.gateway) event.gateway = fields.gateway;
  if (fields.transferredFrom) event.transferredFrom = fields.transferredFrom;
  return event;
}
