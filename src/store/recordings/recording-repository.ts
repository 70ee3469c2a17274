import type { Queryable } from '../database/database.js';

/** A file of a recording: its name (`call.pcap`, `<party tag>-<stream>.wav`) and its object store key. */
export interface RecordingFile {
  name: string;
  key: string;
}

/** One recording of a call: from its start (the call's setup, or the API's start) to its stop or the call's end. */
export interface Recording {
  id: string;
  tenantId: string;
  /** The caller-side Call-ID (the live call's and the CDR's id). */
  callId: string;
  startedAt: Date;
  endedAt: Date;
  files: RecordingFile[];
  createdAt: Date;
}

export interface RecordingInput {
  tenantId: string;
  callId: string;
  startedAt: Date;
  endedAt: Date;
  files: readonly RecordingFile[];
}

/** Where a page of recordings ends: ordered by start, then id. */
export interface RecordingCursor {
  startedAt: string;
  id: string;
}

export interface RecordingRepository {
  add(input: RecordingInput): Promise<Recording>;
  get(tenantId: string, id: string): Promise<Recording | undefined>;
  /** A page of the tenant's recordings (of one call with `callId`), oldest first, after the cursor. */
  list(
    tenantId: string,
    options: { limit: number; callId?: string; after?: RecordingCursor },
  ): Promise<Recording[]>;
  /** The ids of the recordings of each of `callIds` that has any (for the CDRs' `recordingIds`). */
  idsByCall(tenantId: string, callIds: readonly string[]): Promise<Map<string, string[]>>;
  delete(tenantId: string, id: string): Promise<Recording | undefined>;
  /** Up to `limit` recordings (of every tenant) stored before `cutoff`, oldest first: the retention job's. */
  olderThan(cutoff: Date, limit: number): Promise<Recording[]>;
  /** Removes rows by id (the retention job, once their files are gone); how many went. */
  remove(ids: readonly string[]): Promise<number>;
}

interface Row {
  id: string;
  tenant_id: string;
  call_id: string;
  started_at: Date;
  ended_at: Date;
  files: RecordingFile[] | string;
  created_at: Date;
}

const toRecording = (r: Row): Recording => ({
  id: r.id,
  tenantId: r.tenant_id,
  callId: r.call_id,
  startedAt: new Date(r.started_at),
  endedAt: new Date(r.ended_at),
  files: typeof r.files === 'string' ? (JSON.parse(r.files) as RecordingFile[]) : r.files,
  createdAt: new Date(r.created_at),
});

export function createRecordingRepository(db: Queryable): RecordingRepository {
  return {
    async add(input) {
      const { rows } = await db.query<Row>(
        `INSERT INTO recordings (tenant_id, call_id, started_at, ended_at, files)
         VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING *`,
        [input.tenantId, input.callId, input.startedAt, input.endedAt, JSON.stringify(input.files)],
      );
      return toRecording(rows[0]!);
    },
    async get(tenantId, id) {
      const { rows } = await db.query<Row>('SELECT * FROM recordings WHERE tenant_id = $1 AND id = $2', [
        tenantId,
        id,
      ]);
      return rows[0] && toRecording(rows[0]);
    },
    async list(tenantId, { limit, callId, after }) {
      const { rows } = await db.query<Row>(
        `SELECT * FROM recordings
          WHERE tenant_id = $1 AND ($2::text IS NULL OR call_id = $2)
            AND ($3::timestamptz IS NULL OR (started_at, id) > ($3::timestamptz, $4::uuid))
          ORDER BY started_at, id LIMIT $5`,
        [tenantId, callId ?? null, after?.startedAt ?? null, after?.id ?? null, limit],
      );
      return rows.map(toRecording);
    },
    async idsByCall(tenantId, callIds) {
      const found = new Map<string, string[]>();
      if (callIds.length === 0) return found;
      const { rows } = await db.query<{ call_id: string; id: string }>(
        `SELECT call_id, id FROM recordings WHERE tenant_id = $1 AND call_id = ANY($2::text[])
          ORDER BY started_at, id`,
        [tenantId, callIds],
      );
      for (const r of rows) found.set(r.call_id, [...(found.get(r.call_id) ?? []), r.id]);
      return found;
    },
    async delete(tenantId, id) {
      const { rows } = await db.query<Row>(
        'DELETE FROM recordings WHERE tenant_id = $1 AND id = $2 RETURNING *',
        [tenantId, id],
      );
      return rows[0] && toRecording(rows[0]);
    },
    async olderThan(cutoff, limit) {
      const { rows } = await db.query<Row>(
        'SELECT * FROM recordings WHERE created_at < $1 ORDER BY created_at, id LIMIT $2',
        [cutoff, limit],
      );
      return rows.map(toRecording);
    },
    async remove(ids) {
      if (ids.length === 0) return 0;
      const { rows } = await db.query<{ id: string }>(
        'DELETE FROM recordings WHERE id = ANY($1::uuid[]) RETURNING id',
        [ids],
      );
      return rows.length;
    },
  };
}
