import { channel } from 'node:diagnostics_channel';
import { CALL_EVENTS_STREAM, decodeCallEvent, type CallEvent, type CdrRepository } from '../store/index.js';
import type { EventStreams, StreamEntry } from '../store/shared-state/index.js';
import { retentionJob, type RetentionOptions } from './retention.js';
import type { ScheduledJob } from './scheduler.js';

export const CDR_WRITER_GROUP = 'cdr-writer';

/** Tracing hook, one message per call event handled: `CdrWriteEvent`. */
export const cdrWriteChannel = channel('voxgate:jobs:cdr-write');

export interface CdrWriteEvent {
  callId: string;
  eventType: string;
  /** False when the event changed nothing (a redelivery, or an event that does not end the call). */
  written: boolean;
  /** The write's time; for events written in one batch, the batch's time divided among them. */
  durationMs: number;
}

/**
 * Writes CDRs from the call event stream. The stream's consumer group gives at-least-once delivery: entries
 * are acknowledged only after their CDR is in the store, and the CDR write is idempotent by call id, so a
 * redelivery writes nothing twice. While the store is down the run fails before acknowledging: the entries
 * stay pending in the stream and are claimed again (`claimStale`) on a later run, so none is lost. An entry
 * that is not a call event at all, or whose values PostgreSQL refuses, is reported and acknowledged (it would
 * fail forever and hold every later one back). The entries of one read (up to `batch`) are written in two
 * statements (`upsertManyFromEvents`), event by event only when PostgreSQL refuses one of them. A run reads
 * again at once only after a full read (a backlog); otherwise it ends, and the next run, `everyMs` later,
 * reads what came meanwhile in one batch.
 */
export function cdrWriterJob(options: {
  events: Pick<EventStreams, 'consume' | 'ack' | 'claimStale'>;
  cdrs: Pick<CdrRepository, 'upsertFromEvent' | 'upsertManyFromEvents'>;
  /** This worker's consumer name in the group (unique per process). */
  consumer: string;
  everyMs?: number;
  /** How long a delivered entry may stay unacknowledged before another run (or worker) takes it over. */
  staleMs?: number;
  batch?: number;
  onWritten?: (count: number) => void;
  onPoison?: (entry: StreamEntry, err: unknown) => void;
}): ScheduledJob {
  const batch = options.batch ?? 200;
  const staleMs = options.staleMs ?? 30_000;
  const publish = (event: CallEvent, written: boolean, durationMs: number) => {
    if (!cdrWriteChannel.hasSubscribers) return;
    cdrWriteChannel.publish({
      callId: event.callId,
      eventType: event.type,
      written,
      durationMs,
    } satisfies CdrWriteEvent);
  };
  /** The events one by one: a store error propagates, values PostgreSQL refuses are reported and skipped. */
  const writeEach = async (events: readonly { entry: StreamEntry; event: CallEvent }[]): Promise<number> => {
    let written = 0;
    for (const { entry, event } of events) {
      // A store error propagates: nothing of this batch is acknowledged and it is delivered again later —
      // unless PostgreSQL refused this event's data itself (SQLSTATE class 22 data exception, 23 integrity
      // constraint violation), which no retry can fix: that event is reported and the stream goes on, rather
      // than every later CDR waiting behind it forever.
      const began = performance.now();
      let changed: boolean;
      try {
        changed = await options.cdrs.upsertFromEvent(event);
      } catch (err) {
        if (!isDataError(err)) throw err;
        options.onPoison?.(entry, err);
        continue;
      }
      if (changed) written++;
      publish(event, changed, performance.now() - began);
    }
    return written;
  };
  const write = async (entries: readonly StreamEntry[]): Promise<void> => {
    if (entries.length === 0) return;
    const events: { entry: StreamEntry; event: CallEvent }[] = [];
    for (const entry of entries) {
      try {
        events.push({ entry, event: decodeCallEvent(entry.fields) });
      } catch (err) {
        options.onPoison?.(entry, err);
      }
    }
    // The whole batch in two statements (one per event was most of the embedded store's work per call); when
    // PostgreSQL refuses one event's values, the batch is written again event by event to find and skip it.
    let written = 0;
    const began = performance.now();
    let changed: boolean[] | undefined;
    try {
      changed = await options.cdrs.upsertManyFromEvents(events.map((e) => e.event));
    } catch (err) {
      if (!isDataError(err)) throw err;
    }
    if (changed) {
      const each = (performance.now() - began) / Math.max(1, events.length);
      events.forEach(({ event }, i) => {
        if (changed[i]) written++;
        publish(event, changed[i] === true, each);
      });
    } else {
      written = await writeEach(events);
    }
    await options.events.ack(
      CALL_EVENTS_STREAM,
      CDR_WRITER_GROUP,
      entries.map((e) => e.id),
    );
    if (written > 0) options.onWritten?.(written);
  };
  return {
    name: 'cdr-writer',
    everyMs: options.everyMs ?? 100,
    async run(signal) {
      // Entries another worker (or an earlier failed run) left unacknowledged first, then new ones.
      await write(
        await options.events.claimStale(
          CALL_EVENTS_STREAM,
          CDR_WRITER_GROUP,
          options.consumer,
          staleMs,
          batch,
        ),
      );
      while (!signal.aborted) {
        const entries = await options.events.consume(CALL_EVENTS_STREAM, CDR_WRITER_GROUP, options.consumer, {
          count: batch,
          blockMs: 500,
        });
        if (entries.length === 0) return;
        await write(entries);
        // Caught up: what arrives from now on is read by the next run, everyMs later, as one batch. Reading
        // again at once took the one or two events that came during the write, and wrote each call's events
        // in statements of their own (two round trips to the store per call instead of two per batch).
        if (entries.length < batch) return;
      }
    },
  };
}

/** PostgreSQL refused the values themselves (SQLSTATE classes 22 and 23): retrying cannot succeed. */
function isDataError(err: unknown): boolean {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}

/** Deletes CDRs older than the retention period. */
export function cdrRetentionJob(
  options: RetentionOptions & { cdrs: Pick<CdrRepository, 'purgeBefore'> },
): ScheduledJob {
  return retentionJob('cdr-retention', (cutoff) => options.cdrs.purgeBefore(cutoff), options);
}
