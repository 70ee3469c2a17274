import type { CallEvent } from '../call-events.js';
import type { Queryable } from '../database/database.js';

export interface Cdr {
  callId: string;
  tenantId: string;
  direction: CallEvent['direction'];
  from: string;
  to: string;
  trunkId: string | null;
  startedAt: Date;
  /** The first provisional response (18x) relayed to the caller; null when the call never rang. */
  ringingAt: Date | null;
  answeredAt: Date | null;
  endedAt: Date;
  durationSeconds: number;
  disposition: NonNullable<CallEvent['disposition']>;
  sipCode: number | null;
  hangupBy: CallEvent['hangupBy'] | null;
  /** Why the call ended, when the code does not say it (not registered, a limit, the media relay …). */
  reason: string | null;
  media: CallEvent['media'] | null;
  gateway: string | null;
  /** A call a transfer made: the call id of the call it came from (whose CDR has reason `transferred`). */
  transferredFrom: string | null;
}

export interface CdrFilter {
  /** Calls started at or after / before. */
  since?: Date;
  until?: Date;
  disposition?: Cdr['disposition'];
  /** Either party contains this text. */
  party?: string;
  limit: number;
  /** Cursor: the call id of the last CDR of the previous page (pages are newest first). */
  after?: string;
}

export interface CdrRepository {
  /**
   * Writes the CDR of an `ended` event (with its `ringingAt`); a second delivery of the same call changes nothing
   * (returns false). A `ringing` event sets the ringing time of a CDR written without one (an `ended` event
   * handled first, by another worker); with no CDR yet it changes nothing — the `ended` event carries the time.
   * Other events are not CDRs (returns false).
   */
  upsertFromEvent(event: CallEvent): Promise<boolean>;
  /**
   * The same for many events in two statements (every `ended` event's CDR in one INSERT, then every `ringing`
   * event's time in one UPDATE) instead of one per event: whether each event changed a CDR, in order. Values
   * PostgreSQL refuses (SQLSTATE classes 22, 23) fail the whole batch: the caller writes its events one by
   * one to find the one at fault.
   */
  upsertManyFromEvents(events: readonly CallEvent[]): Promise<boolean[]>;
  list(tenantId: string, filter: CdrFilter): Promise<Cdr[]>;
  get(tenantId: string, callId: string): Promise<Cdr | undefined>;
  /** Deletes CDRs of calls started before `cutoff`; returns how many. */
  purgeBefore(cutoff: Date): Promise<number>;
}

interface Row {
  call_id: string;
  tenant_id: string;
  direction: Cdr['direction'];
  from_party: string;
  to_party: string;
  trunk_id: string | null;
  started_at: Date;
  ringing_at: Date | null;
  answered_at: Date | null;
  ended_at: Date;
  duration_seconds: number;
  disposition: Cdr['disposition'];
  sip_code: number | null;
  hangup_by: Cdr['hangupBy'];
  reason: string | null;
  media: Cdr['media'];
  gateway: string | null;
  transferred_from: string | null;
}

const toCdr = (r: Row): Cdr => ({
  callId: r.call_id,
  tenantId: r.tenant_id,
  direction: r.direction,
  from: r.from_party,
  to: r.to_party,
  trunkId: r.trunk_id,
  startedAt: r.started_at,
  ringingAt: r.ringing_at,
  answeredAt: r.answered_at,
  endedAt: r.ended_at,
  durationSeconds: r.duration_seconds,
  disposition: r.disposition,
  sipCode: r.sip_code,
  hangupBy: r.hangup_by,
  reason: r.reason,
  media: r.media,
  gateway: r.gateway,
  transferredFrom: r.transferred_from,
});

/**
 * PostgreSQL's text cannot hold U+0000 (SQLSTATE 22021): a party or Call-ID that carries one is kept with the
 * replacement character instead, so the call still has its record.
 */
function storable(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}

/** Billable seconds: from the answer to the end, 0 for an unanswered call. */
function durationOf(event: CallEvent): number {
  const endedAt = event.endedAt ?? event.startedAt;
  return event.answeredAt ? Math.max(0, Math.round((endedAt - event.answeredAt) / 1000)) : 0;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createCdrRepository(db: Queryable): CdrRepository {
  return {
    async upsertFromEvent(event) {
      if (event.type === 'ringing' && event.ringingAt !== undefined) {
        const { rowCount } = await db.query(
          `UPDATE cdrs SET ringing_at = to_timestamp($3 / 1000.0)
            WHERE call_id = $1 AND tenant_id = $2 AND ringing_at IS NULL`,
          [storable(event.callId), event.tenantId, event.ringingAt],
        );
        return rowCount > 0;
      }
      if (event.type !== 'ended') return false;
      const endedAt = event.endedAt ?? event.startedAt;
      const duration = durationOf(event);
      // A trunk deleted since the call (or an id that is not ours) must not lose the CDR: the trunk is kept
      // only when it still exists.
      const { rowCount } = await db.query(
        `INSERT INTO cdrs (call_id, tenant_id, direction, from_party, to_party, trunk_id, started_at, answered_at,
                           ended_at, duration_seconds, disposition, sip_code, hangup_by, media, gateway, reason,
                           transferred_from, ringing_at)
         SELECT $1, $2, $3, $4, $5, (SELECT id FROM trunks WHERE id = $6::uuid), to_timestamp($7 / 1000.0),
                to_timestamp($8 / 1000.0), to_timestamp($9 / 1000.0), $10, $11, $12, $13, $14::jsonb, $15, $16,
                $17, to_timestamp($18 / 1000.0)
         WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $2)
         ON CONFLICT (call_id) DO NOTHING`,
        [
          storable(event.callId),
          event.tenantId,
          event.direction,
          storable(event.from),
          storable(event.to),
          event.trunkId && UUID.test(event.trunkId) ? event.trunkId : null,
          event.startedAt,
          event.answeredAt ?? null,
          endedAt,
          duration,
          event.disposition ?? 'failed',
          event.sipCode ?? null,
          event.hangupBy ?? null,
          event.media ? JSON.stringify(event.media) : null,
          event.gateway ?? null,
          event.reason === undefined ? null : storable(event.reason),
          event.transferredFrom === undefined ? null : storable(event.transferredFrom),
          event.ringingAt ?? null,
        ],
      );
      return rowCount > 0;
    },
    async upsertManyFromEvents(events) {
      const changed = events.map(() => false);
      // The first event of a call of each kind only: a later one changes nothing, as one at a time (and the
      // statement would not say which of the same call's rows it kept).
      const firsts = (keep: (event: CallEvent) => boolean) => {
        const seen = new Set<string>();
        return events.flatMap((event, i) => {
          if (!keep(event) || seen.has(event.callId)) return [];
          seen.add(event.callId);
          return [{ event, i }];
        });
      };
      const ended = firsts((e) => e.type === 'ended');
      const ringing = firsts((e) => e.type === 'ringing' && e.ringingAt !== undefined);
      /** The first event of each call id that the statement changed (later ones of the same call change nothing). */
      const mark = (
        batch: readonly { event: CallEvent; i: number }[],
        rows: readonly { call_id: string }[],
      ) => {
        const hit = new Set(rows.map((r) => r.call_id));
        for (const { event, i } of batch) {
          const id = storable(event.callId);
          if (hit.delete(id)) changed[i] = true;
        }
      };
      if (ended.length > 0) {
        const column = <T>(f: (e: CallEvent) => T) => ended.map(({ event }) => f(event));
        const { rows } = await db.query<{ call_id: string }>(
          `INSERT INTO cdrs (call_id, tenant_id, direction, from_party, to_party, trunk_id, started_at, answered_at,
                             ended_at, duration_seconds, disposition, sip_code, hangup_by, media, gateway, reason,
                             transferred_from, ringing_at)
           SELECT e.call_id, e.tenant_id, e.direction, e.from_party, e.to_party,
                  (SELECT id FROM trunks WHERE id = e.trunk_id), to_timestamp(e.started_at / 1000.0),
                  to_timestamp(e.answered_at / 1000.0), to_timestamp(e.ended_at / 1000.0), e.duration_seconds,
                  e.disposition, e.sip_code, e.hangup_by, e.media::jsonb, e.gateway, e.reason, e.transferred_from,
                  to_timestamp(e.ringing_at / 1000.0)
             FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::float8[],
                         $8::float8[], $9::float8[], $10::int[], $11::text[], $12::int[], $13::text[], $14::text[],
                         $15::text[], $16::text[], $17::text[], $18::float8[])
                  AS e(call_id, tenant_id, direction, from_party, to_party, trunk_id, started_at, answered_at,
                       ended_at, duration_seconds, disposition, sip_code, hangup_by, media, gateway, reason,
                       transferred_from, ringing_at)
            WHERE EXISTS (SELECT 1 FROM tenants WHERE id = e.tenant_id)
           ON CONFLICT (call_id) DO NOTHING
           RETURNING call_id`,
          [
            column((e) => storable(e.callId)),
            column((e) => e.tenantId),
            column((e) => e.direction),
            column((e) => storable(e.from)),
            column((e) => storable(e.to)),
            column((e) => (e.trunkId && UUID.test(e.trunkId) ? e.trunkId : null)),
            column((e) => e.startedAt),
            column((e) => e.answeredAt ?? null),
            column((e) => e.endedAt ?? e.startedAt),
            column((e) => durationOf(e)),
            column((e) => e.disposition ?? 'failed'),
            column((e) => e.sipCode ?? null),
            column((e) => e.hangupBy ?? null),
            column((e) => (e.media ? JSON.stringify(e.media) : null)),
            column((e) => e.gateway ?? null),
            column((e) => (e.reason === undefined ? null : storable(e.reason))),
            column((e) => (e.transferredFrom === undefined ? null : storable(e.transferredFrom))),
            column((e) => e.ringingAt ?? null),
          ],
        );
        mark(ended, rows);
      }
      // A call whose CDR this INSERT wrote with its ringing time (the ended event carries it) has nothing left
      // for its ringing event to set: the UPDATE below would skip it (ringing_at IS NULL fails), so it is not
      // sent. Calls shorter than a read of the stream (refused, busy, unanswered) have both events in one batch.
      const ringingWritten = new Set(
        ended.flatMap(({ event, i }) => (changed[i] && event.ringingAt !== undefined ? [event.callId] : [])),
      );
      const ringingLeft = ringing.filter(({ event }) => !ringingWritten.has(event.callId));
      if (ringingLeft.length > 0) {
        const { rows } = await db.query<{ call_id: string }>(
          `UPDATE cdrs c SET ringing_at = to_timestamp(e.ringing_at / 1000.0)
             FROM unnest($1::text[], $2::uuid[], $3::float8[]) AS e(call_id, tenant_id, ringing_at)
            WHERE c.call_id = e.call_id AND c.tenant_id = e.tenant_id AND c.ringing_at IS NULL
           RETURNING c.call_id`,
          [
            ringingLeft.map(({ event }) => storable(event.callId)),
            ringingLeft.map(({ event }) => event.tenantId),
            ringingLeft.map(({ event }) => event.ringingAt),
          ],
        );
        mark(ringingLeft, rows);
      }
      return changed;
    },
    async list(tenantId, filter) {
      const { rows } = await db.query<Row>(
        `SELECT * FROM cdrs c
          WHERE tenant_id = $1
            AND ($2::timestamptz IS NULL OR started_at >= $2)
            AND ($3::timestamptz IS NULL OR started_at < $3)
            AND ($4::text IS NULL OR disposition = $4)
            AND ($5::text IS NULL OR strpos(from_party, $5) > 0 OR strpos(to_party, $5) > 0)
            AND ($6::text IS NULL OR (started_at, call_id) <
                 (SELECT started_at, call_id FROM cdrs WHERE call_id = $6 AND tenant_id = $1))
          ORDER BY started_at DESC, call_id DESC LIMIT $7`,
        [
          tenantId,
          filter.since ?? null,
          filter.until ?? null,
          filter.disposition ?? null,
          filter.party ?? null,
          filter.after ?? null,
          filter.limit,
        ],
      );
      return rows.map(toCdr);
    },
    async get(tenantId, callId) {
      const { rows } = await db.query<Row>('SELECT * FROM cdrs WHERE tenant_id = $1 AND call_id = $2', [
        tenantId,
        callId,
      ]);
      return rows[0] && toCdr(rows[0]);
    },
    async purgeBefore(cutoff) {
      const { rowCount } = await db.query('DELETE FROM cdrs WHERE started_at < $1', [cutoff]);
      return rowCount;
    },
  };
}
