import { createHash } from 'node:crypto';
import { decodeCallEvent, type CallEvent } from '../call-events.js';
import {
  decodeRecordingReady,
  RECORDING_EVENTS_STREAM,
  type RecordingReady,
} from '../recordings/recording-events.js';
import type { StreamEntry } from '../shared-state/shared-state.js';

/**
 * The events a webhook can subscribe to. `call.*` come from the call-events stream (`CALL_EVENTS_STREAM`),
 * `registration.changed` from the registration stream (`REGISTRATION_EVENTS_STREAM`), `recording.ready` from
 * the recording stream (`RECORDING_EVENTS_STREAM`: a recording stored and listed in the API).
 */
export const WEBHOOK_EVENT_TYPES = [
  'call.started',
  'call.ringing',
  'call.answered',
  'call.ended',
  'registration.changed',
  'recording.ready',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * Registration changes as the gateway's replicas publish them for the worker (webhooks): a contact added,
 * removed or expired. Refreshes are not published (a phone refreshes every few minutes; nothing changed).
 */
export const REGISTRATION_EVENTS_STREAM = 'voxgate:registration-events';

export interface RegistrationChange {
  kind: 'registered' | 'unregistered' | 'expired';
  tenantId: string;
  /** The user's address of record, `sip:user@domain`. */
  aor: string;
  contact: string;
  /** Epoch milliseconds. */
  at: number;
  /** Where the REGISTER came from (host:port). */
  source?: string;
  transport?: string;
  userAgent?: string;
  expiresInSeconds?: number;
  /** Why a contact was removed (`keepalive`, `replaced` …), when not by its UA. */
  reason?: string;
}

const KINDS: ReadonlySet<string> = new Set(['registered', 'unregistered', 'expired']);

export function encodeRegistrationChange(change: RegistrationChange): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(change)) {
    if (value !== undefined) fields[key] = String(value);
  }
  return fields;
}

/** Parses stream fields back into a change; throws a one-line Error naming the bad field. */
export function decodeRegistrationChange(fields: Record<string, string>): RegistrationChange {
  const need = (name: string): string => {
    const v = fields[name];
    if (v === undefined || v === '') throw new Error(`registration change: missing field ${name}`);
    return v;
  };
  const kind = need('kind');
  if (!KINDS.has(kind)) throw new Error(`registration change: unknown kind ${kind}`);
  const at = Number(need('at'));
  if (!Number.isFinite(at)) throw new Error('registration change: field at is not a number');
  const change: RegistrationChange = {
    kind: kind as RegistrationChange['kind'],
    tenantId: need('tenantId'),
    aor: need('aor'),
    contact: need('contact'),
    at,
  };
  if (fields.source) change.source = fields.source;
  if (fields.transport) change.transport = fields.transport;
  if (fields.userAgent) change.userAgent = fields.userAgent;
  if (fields.reason) change.reason = fields.reason;
  const expires = Number(fields.expiresInSeconds);
  if (fields.expiresInSeconds !== undefined && Number.isFinite(expires)) change.expiresInSeconds = expires;
  return change;
}

/** What a receiver gets: the JSON body of every delivery. */
export interface WebhookEvent {
  /** The same on every delivery of one event: receivers de-duplicate by it (delivery is at-least-once). */
  id: string;
  type: WebhookEventType;
  tenantId: string;
  /** ISO 8601. */
  occurredAt: string;
  data: Record<string, unknown>;
}

/** An id made from what identifies the event, so that a redelivered stream entry gets the same one. */
function eventId(identity: string): string {
  return `evt_${createHash('sha256').update(identity).digest('base64url').slice(0, 32)}`;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** A call event's data: the call, and for `call.ended` its CDR (the fields of `/cdrs`). */
function callData(e: CallEvent): Record<string, unknown> {
  const base = {
    callId: e.callId,
    direction: e.direction,
    from: e.from,
    to: e.to,
    trunkId: e.trunkId ?? null,
    startedAt: iso(e.startedAt),
    ringingAt: iso(e.ringingAt),
    answeredAt: iso(e.answeredAt),
    gateway: e.gateway ?? null,
  };
  if (e.type !== 'ended') return base;
  const endedAt = e.endedAt ?? e.startedAt;
  return {
    ...base,
    endedAt: iso(endedAt),
    durationSeconds: e.answeredAt ? Math.max(0, Math.round((endedAt - e.answeredAt) / 1000)) : 0,
    disposition: e.disposition ?? 'failed',
    sipCode: e.sipCode ?? null,
    hangupBy: e.hangupBy ?? null,
    reason: e.reason ?? null,
    media: e.media ?? null,
    refused: e.refused === true,
  };
}

/** The webhook event of one call event (`call.started`, `call.ringing`, `call.answered`, `call.ended`). */
export function webhookEventOfCall(e: CallEvent): WebhookEvent {
  const at =
    e.type === 'ended'
      ? e.endedAt
      : e.type === 'answered'
        ? e.answeredAt
        : e.type === 'ringing'
          ? e.ringingAt
          : e.startedAt;
  const type = `call.${e.type}` as WebhookEventType;
  return {
    id: eventId(`call:${e.callId}:${e.type}`),
    type,
    tenantId: e.tenantId,
    occurredAt: iso(at ?? e.startedAt)!,
    data: callData(e),
  };
}

/** The webhook event of one registration change (`registration.changed`). */
export function webhookEventOfRegistration(c: RegistrationChange): WebhookEvent {
  const { tenantId, at, ...data } = c;
  return {
    id: eventId(`registration:${c.kind}:${c.aor}:${c.contact}:${at}`),
    type: 'registration.changed',
    tenantId,
    occurredAt: iso(at)!,
    data: { ...data },
  };
}

/** The webhook event of a recording stored (`recording.ready`): where to fetch it through the API. */
export function webhookEventOfRecording(r: RecordingReady): WebhookEvent {
  return {
    id: eventId(`recording:${r.recordingId}`),
    type: 'recording.ready',
    tenantId: r.tenantId,
    occurredAt: iso(r.endedAt)!,
    data: {
      recordingId: r.recordingId,
      callId: r.callId,
      startedAt: iso(r.startedAt),
      endedAt: iso(r.endedAt),
      files: r.files,
      url: `/v1/tenants/${r.tenantId}/recordings/${r.recordingId}`,
    },
  };
}

/** The webhook event of an entry of `stream`; throws when the entry is not readable. */
export function webhookEventOfEntry(stream: string, entry: StreamEntry): WebhookEvent {
  if (stream === REGISTRATION_EVENTS_STREAM)
    return webhookEventOfRegistration(decodeRegistrationChange(entry.fields));
  if (stream === RECORDING_EVENTS_STREAM) return webhookEventOfRecording(decodeRecordingReady(entry.fields));
  return webhookEventOfCall(decodeCallEvent(entry.fields));
}
