import { channel } from 'node:diagnostics_channel';
import {
  CALL_EVENTS_STREAM,
  RECORDING_EVENTS_STREAM,
  REGISTRATION_EVENTS_STREAM,
  webhookEventOfEntry,
  type ClaimedDelivery,
  type WebhookAllowList,
  type WebhookEvent,
  type WebhookRepository,
} from '../store/index.js';
import type { EventStreams, StreamEntry } from '../store/shared-state/index.js';
import { retentionJob, type RetentionOptions } from './retention.js';
import type { ScheduledJob } from './scheduler.js';
import { sendWebhook, type WebhookRequest, type WebhookResponse } from './webhook-sender.js';

/** The consumer group of the worker's webhook fan-out on each stream it reads. */
export const WEBHOOK_GROUP = 'webhooks';
/** The streams events come from. */
export const WEBHOOK_STREAMS = [
  CALL_EVENTS_STREAM,
  REGISTRATION_EVENTS_STREAM,
  RECORDING_EVENTS_STREAM,
] as const;

/** Tracing hook, one message per delivery attempt: `WebhookAttemptEvent`. */
export const webhookAttemptChannel = channel('voxgate:jobs:webhook-attempt');

export interface WebhookAttemptEvent {
  webhookId: string;
  eventId: string;
  attempt: number;
  outcome: 'delivered' | 'retry' | 'failed';
  status?: number;
  error?: string;
  durationMs: number;
}

/**
 * Turns stream entries into deliveries: each call event and registration change becomes the webhook event of
 * its tenant, recorded once for every enabled subscription that takes its type. Entries are acknowledged only
 * once their deliveries are in the store (at-least-once; the store ignores an event recorded already), so a
 * worker that dies, or a store that is down, leaves them pending in the stream for a later run (`claimStale`)
 * or another worker of the group. An entry that is no event at all is reported and acknowledged (one of a
 * tenant without enabled subscriptions is skipped unread: no webhook would take it).
 */
export function webhookFanoutJob(options: {
  events: Pick<EventStreams, 'consume' | 'ack' | 'claimStale'>;
  webhooks: Pick<WebhookRepository, 'enqueue' | 'subscribedTypes'>;
  consumer: string;
  everyMs?: number;
  staleMs?: number;
  batch?: number;
  onPoison?: (stream: string, entry: StreamEntry, err: unknown) => void;
}): ScheduledJob {
  const batch = options.batch ?? 200;
  const staleMs = options.staleMs ?? 30_000;
  const take = async (stream: string, entries: readonly StreamEntry[]): Promise<void> => {
    if (entries.length === 0) return;
    // Which types the tenants of these entries subscribe to, first: an entry no enabled subscription of its
    // tenant takes becomes no delivery, so its event (payload, id hash) is not built nor sent to the store —
    // with no webhooks at all, that is every entry. A subscription enabled after this read misses the batch,
    // as one enabled a moment later would.
    const tenants = new Set<string>();
    for (const entry of entries) if (entry.fields.tenantId) tenants.add(entry.fields.tenantId);
    const subscribed = await options.webhooks.subscribedTypes([...tenants]);
    const events: WebhookEvent[] = [];
    for (const entry of entries) {
      const tenant = entry.fields.tenantId;
      // An entry with no tenant field is built anyway, so that it is reported as not readable.
      if (tenant && !subscribed.has(tenant)) continue;
      try {
        const event = webhookEventOfEntry(stream, entry);
        if (subscribed.get(event.tenantId)?.has(event.type)) events.push(event);
      } catch (err) {
        options.onPoison?.(stream, entry, err);
      }
    }
    if (events.length > 0) await options.webhooks.enqueue(events);
    await options.events.ack(
      stream,
      WEBHOOK_GROUP,
      entries.map((e) => e.id),
    );
  };
  return {
    name: 'webhook-fanout',
    everyMs: options.everyMs ?? 200,
    async run(signal) {
      for (const stream of WEBHOOK_STREAMS) {
        await take(
          stream,
          await options.events.claimStale(stream, WEBHOOK_GROUP, options.consumer, staleMs, batch),
        );
        while (!signal.aborted) {
          const entries = await options.events.consume(stream, WEBHOOK_GROUP, options.consumer, {
            count: batch,
            blockMs: 0,
          });
          if (entries.length === 0) break;
          await take(stream, entries);
          // Caught up: the next run, everyMs later, takes what comes meanwhile as one batch.
          if (entries.length < batch) break;
        }
      }
    },
  };
}

export interface BackoffOptions {
  /** The wait after the first failed attempt; doubled after each further one. */
  firstMs: number;
  /** The longest wait between two attempts. */
  maxMs: number;
}

/** The default backoff: 10 s, 20 s, 40 s … at most an hour between attempts (about 30 attempts in 24 h). */
export const DEFAULT_BACKOFF: BackoffOptions = { firstMs: 10_000, maxMs: 3_600_000 };

/**
 * When the attempt after `attempts` failed ones is due: exponential backoff with ±20 % jitter (receivers that
 * failed together are not retried together), never after the end of the retry period; null once the period
 * is over (the delivery has failed).
 */
export function nextAttemptAt(
  attempts: number,
  createdAt: Date,
  now: number,
  retryForMs: number,
  backoff: BackoffOptions,
): Date | null {
  const deadline = createdAt.getTime() + retryForMs;
  if (now >= deadline) return null;
  const exponent = Math.min(Math.max(attempts - 1, 0), 40);
  const wait = Math.min(backoff.maxMs, backoff.firstMs * 2 ** exponent) * (0.8 + Math.random() * 0.4);
  return new Date(Math.min(now + wait, deadline));
}

export interface WebhookDeliveryJob extends ScheduledJob {
  /** Attempts in flight now, by webhook. */
  readonly inFlight: ReadonlyMap<string, number>;
  /** Resolves once every attempt started so far has finished and been recorded. */
  settle(): Promise<void>;
}

/**
 * Delivers due webhook deliveries. Each run claims what is due (at most `concurrency` in flight per webhook
 * on this worker, `maxInFlight` in all; other workers skip what is claimed) and starts the attempts without
 * waiting for them: a receiver that is slow or never answers holds only its own webhook's slots, for at most
 * `timeoutMs` each, and never the others' deliveries — nor calls, which only publish to the stream. Each
 * attempt's outcome is written to the delivery log: a 2xx is delivered; anything else (another status, a
 * redirect — never followed —, a timeout, a refused address) is retried with exponential backoff until
 * `retryForMs` after the event, then failed.
 */
export function webhookDeliveryJob(options: {
  webhooks: Pick<WebhookRepository, 'claimDue' | 'recordAttempt'>;
  allow: WebhookAllowList;
  timeoutMs: number;
  concurrency: number;
  retryForMs: number;
  backoff?: BackoffOptions;
  maxInFlight?: number;
  everyMs?: number;
  userAgent?: string;
  /** Sends one attempt (default `sendWebhook`). */
  send?: (request: WebhookRequest) => Promise<WebhookResponse>;
  /** An outcome could not be written (the store is down): the delivery is attempted again after its lease. */
  onRecordFailed?: (delivery: ClaimedDelivery, err: unknown) => void;
}): WebhookDeliveryJob {
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const maxInFlight = options.maxInFlight ?? 200;
  const inFlight = new Map<string, number>();
  const running = new Set<Promise<void>>();
  let total = 0;
  const send =
    options.send ??
    ((request: WebhookRequest) =>
      sendWebhook(request, {
        allow: options.allow,
        timeoutMs: options.timeoutMs,
        ...(options.userAgent ? { userAgent: options.userAgent } : {}),
      }));
  // Longer than an attempt can take, so no other worker takes a delivery that is still being attempted.
  const leaseMs = options.timeoutMs * 2 + 30_000;

  const attempt = async (d: ClaimedDelivery): Promise<void> => {
    const began = performance.now();
    const attemptNo = d.attempts + 1;
    const response = await send({
      url: d.url,
      secret: d.secret,
      payload: d.payload,
      eventId: d.eventId,
      eventType: d.eventType,
      attempt: attemptNo,
    });
    const status = 'status' in response ? response.status : undefined;
    const delivered = status !== undefined && status >= 200 && status < 300;
    const error =
      'error' in response
        ? response.error
        : response.location
          ? `redirect to ${response.location} not followed`
          : undefined;
    const retryAt = delivered
      ? null
      : nextAttemptAt(attemptNo, d.createdAt, Date.now(), options.retryForMs, backoff);
    try {
      await options.webhooks.recordAttempt(
        d.id,
        delivered
          ? { delivered: true, status: status! }
          : {
              delivered: false,
              ...(status === undefined ? {} : { status }),
              ...(error === undefined ? {} : { error }),
              retryAt,
            },
      );
    } catch (err) {
      options.onRecordFailed?.(d, err);
    }
    if (webhookAttemptChannel.hasSubscribers) {
      webhookAttemptChannel.publish({
        webhookId: d.webhookId,
        eventId: d.eventId,
        attempt: attemptNo,
        outcome: delivered ? 'delivered' : retryAt ? 'retry' : 'failed',
        ...(status === undefined ? {} : { status }),
        ...(error === undefined ? {} : { error }),
        durationMs: performance.now() - began,
      } satisfies WebhookAttemptEvent);
    }
  };

  const start = (d: ClaimedDelivery): void => {
    inFlight.set(d.webhookId, (inFlight.get(d.webhookId) ?? 0) + 1);
    total++;
    const run = attempt(d).finally(() => {
      const left = (inFlight.get(d.webhookId) ?? 1) - 1;
      if (left === 0) inFlight.delete(d.webhookId);
      else inFlight.set(d.webhookId, left);
      total--;
      running.delete(run);
    });
    running.add(run);
  };

  return {
    name: 'webhook-delivery',
    everyMs: options.everyMs ?? 250,
    inFlight,
    async run(signal) {
      if (signal.aborted || total >= maxInFlight) return;
      const claimed = await options.webhooks.claimDue({
        limit: maxInFlight - total,
        perWebhook: options.concurrency,
        busy: inFlight,
        leaseMs,
      });
      for (const d of claimed) start(d);
    },
    async settle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}

/** Deletes finished deliveries (delivered or failed) older than the retention period. */
export function webhookLogRetentionJob(
  options: RetentionOptions & { webhooks: Pick<WebhookRepository, 'purgeBefore'> },
): ScheduledJob {
  return retentionJob('webhook-log-retention', (cutoff) => options.webhooks.purgeBefore(cutoff), options);
}
