// The CDR writer between the call event stream and the store: at least once, idempotent, and nothing lost
// while PostgreSQL is unreachable. Against real Redis and a real PostgreSQL whose connections are cut, and
// against the embedded pair (memory stream, PGlite).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { CDR_WRITER_GROUP, cdrRetentionJob, cdrWriterJob } from '../../src/jobs/index.js';
import {
  CALL_EVENTS_STREAM,
  createCdrRepository,
  createTenantRepository,
  encodeCallEvent,
  migrate,
  openDatabase,
  type CallEvent,
  type Database,
  type Tenant,
} from '../../src/store/index.js';
import {
  createMemorySharedState,
  createRedisSharedState,
  type SharedState,
} from '../../src/store/shared-state/index.js';
import { createScratchDatabase, postgresAvailable, POSTGRES_BASE_URL } from '../helpers/postgres.js';
import { REDIS_URL, redisUp } from '../helpers/redis.js';
import { MIGRATIONS_DIR } from '../helpers/store-backends.js';

function ended(tenantId: string, n: number): CallEvent {
  const startedAt = Date.UTC(2026, 10, 24, 9, 0, n);
  return {
    type: 'ended',
    callId: `call-${n}`,
    tenantId,
    direction: 'internal',
    from: 'sip:alice@acme.example',
    to: 'sip:bob@acme.example',
    startedAt,
    answeredAt: startedAt + 2000,
    endedAt: startedAt + 62_000,
    disposition: 'answered',
    sipCode: 200,
    hangupBy: 'caller',
    media: { callerToCallee: { packets: 3000, bytes: 516000, lost: 2, jitterMs: 1 } },
  };
}

async function count(db: Database): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM cdrs');
  return rows[0]!.n;
}

/** The embedded pair of most tests here: PGlite in memory, from the built template. */
const EMBEDDED_DB = {
  dataDir: 'memory://',
  pgliteTemplate: join(import.meta.dirname, '..', '..', 'dist', 'pglite-template.tar.gz'),
};

/** Runs `body` on a memory stream and a migrated `database` with tenant Acme; closes both after, whatever happens. */
async function withEmbeddedPair(
  database: Parameters<typeof openDatabase>[0],
  body: (pair: { db: Database; state: SharedState; tenant: Tenant }) => Promise<void>,
): Promise<void> {
  const db = await openDatabase(database);
  const state = createMemorySharedState();
  try {
    await migrate(db, MIGRATIONS_DIR);
    const tenant = await createTenantRepository(db).create({ name: 'Acme', sipDomain: 'acme.example' });
    await body({ db, state, tenant });
  } finally {
    await state.close();
    await db.close();
  }
}

/** Publishes the events on the call event stream, one after the other. */
async function publish(state: SharedState, ...events: CallEvent[]): Promise<void> {
  for (const event of events) await state.events.publish(CALL_EVENTS_STREAM, encodeCallEvent(event));
}

describe('CDR writer', () => {
  test('embedded (memory stream, PGlite): one CDR per call however often its events are delivered', async () => {
    await withEmbeddedPair(EMBEDDED_DB, async ({ db, state, tenant }) => {
      await publish(state, ...[1, 2, 2, 3].map((n) => ended(tenant.id, n)));
      await state.events.publish(CALL_EVENTS_STREAM, { type: 'started', nonsense: 'x' });
      await publish(state, { ...ended(tenant.id, 9), type: 'started' });
      const poison: string[] = [];
      const job = cdrWriterJob({
        events: state.events,
        cdrs: createCdrRepository(db),
        consumer: 'w1',
        onPoison: (entry) => poison.push(entry.id),
      });
      await job.run(AbortSignal.timeout(5000));
      assert.equal(await count(db), 3, 'calls 1, 2 and 3; the duplicate and the started event write nothing');
      assert.equal(poison.length, 1);
      const [cdr] = await createCdrRepository(db).list(tenant.id, {
        limit: 10,
        disposition: 'answered',
        party: 'bob',
      });
      assert.equal(cdr?.callId, 'call-3', 'newest first');
      assert.equal(cdr?.durationSeconds, 60);
      assert.equal(cdr?.media?.callerToCallee?.lost, 2);
      const page2 = await createCdrRepository(db).list(tenant.id, { limit: 10, after: 'call-2' });
      assert.deepEqual(
        page2.map((c) => c.callId),
        ['call-1'],
      );
    });
  });

  test('a run reads again only after a full read: a backlog in batches, then the run ends with a short read', async () => {
    await withEmbeddedPair(EMBEDDED_DB, async ({ db, state, tenant }) => {
      const reads: number[] = [];
      const events: Parameters<typeof cdrWriterJob>[0]['events'] = {
        claimStale: (...args) => state.events.claimStale(...args),
        ack: (...args) => state.events.ack(...args),
        consume: async (...args) => {
          const entries = await state.events.consume(...args);
          reads.push(entries.length);
          return entries;
        },
      };
      const job = cdrWriterJob({ events, cdrs: createCdrRepository(db), consumer: 'w1', batch: 2 });
      await publish(state, ...[1, 2, 3, 4, 5].map((n) => ended(tenant.id, n)));
      await job.run(AbortSignal.timeout(5000));
      assert.deepEqual(reads, [2, 2, 1], 'two full reads, then a short one ends the run');
      assert.equal(await count(db), 5);
      // Caught up: what comes after a short read waits for the next run, which takes it in one read.
      reads.length = 0;
      await publish(state, ended(tenant.id, 6));
      await job.run(AbortSignal.timeout(5000));
      assert.deepEqual(reads, [1]);
      assert.equal(await count(db), 6);
    });
  });

  test('ringing time (post-dial delay): from the ended event, or from a ringing event handled after the CDR', async () => {
    await withEmbeddedPair(EMBEDDED_DB, async ({ db, state, tenant }) => {
      const rang = ended(tenant.id, 1);
      const ringingAt = rang.startedAt + 1250;
      // As the gateway publishes: started, ringing, answered and ended, the later ones carrying the ringing time.
      for (const type of ['started', 'ringing', 'answered', 'ended'] as const) {
        await publish(state, { ...rang, type, ringingAt });
      }
      // Never rang (refused before any 18x).
      const { answeredAt: _, ...refused } = ended(tenant.id, 2);
      await publish(state, { ...refused, disposition: 'rejected', sipCode: 403 });
      // Its ended event handled before its ringing event (another worker took the ringing one late).
      const late = ended(tenant.id, 3);
      await publish(state, late);
      await publish(state, { ...late, type: 'ringing', ringingAt: late.startedAt + 3000 });
      const job = cdrWriterJob({ events: state.events, cdrs: createCdrRepository(db), consumer: 'w1' });
      await job.run(AbortSignal.timeout(5000));
      const cdrs = createCdrRepository(db);
      assert.equal((await cdrs.get(tenant.id, 'call-1'))?.ringingAt?.getTime(), ringingAt);
      assert.equal((await cdrs.get(tenant.id, 'call-2'))?.ringingAt, null);
      assert.equal((await cdrs.get(tenant.id, 'call-3'))?.ringingAt?.getTime(), late.startedAt + 3000);
      // A redelivered ringing event changes nothing.
      assert.equal(
        await cdrs.upsertFromEvent({ ...late, type: 'ringing', ringingAt: late.startedAt + 9000 }),
        false,
      );
      assert.equal((await cdrs.get(tenant.id, 'call-3'))?.ringingAt?.getTime(), late.startedAt + 3000);
    });
  });

  test('an event PostgreSQL refuses does not hold back the ones after it; a NUL in a party is kept replaced', async () => {
    await withEmbeddedPair(EMBEDDED_DB, async ({ db, state, tenant }) => {
      // sip_code must be 100-699 (CHECK, SQLSTATE 23514): no retry can ever store this one.
      await publish(state, { ...ended(tenant.id, 1), sipCode: 999 });
      await publish(state, { ...ended(tenant.id, 2), from: 'sip:al\u0000ice@acme.example' });
      await publish(state, ended(tenant.id, 3));
      const poison: unknown[] = [];
      const job = cdrWriterJob({
        events: state.events,
        cdrs: createCdrRepository(db),
        consumer: 'w1',
        onPoison: (_entry, err) => poison.push(err),
      });
      await job.run(AbortSignal.timeout(5000));
      assert.equal(poison.length, 1);
      assert.equal((poison[0] as { code?: string }).code, '23514');
      const cdrs = createCdrRepository(db);
      assert.equal((await cdrs.get(tenant.id, 'call-2'))?.from, 'sip:al\uFFFDice@acme.example');
      assert.ok(await cdrs.get(tenant.id, 'call-3'), 'the event after the refused one is written');
      // Nothing is left pending: a second run finds nothing to redo.
      assert.equal(
        (await state.events.claimStale(CALL_EVENTS_STREAM, CDR_WRITER_GROUP, 'w2', 0, 10)).length,
        0,
      );
    });
  });

  test('Redis + PostgreSQL: while PostgreSQL refuses connections the events wait; after it is back all are written once', async (t) => {
    if (!(await postgresAvailable()) || !(await redisUp()))
      return t.skip('PostgreSQL or Redis not reachable');
    const scratch = await createScratchDatabase();
    const name = new URL(scratch.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: POSTGRES_BASE_URL });
    await admin.connect();
    const db = await openDatabase({ url: scratch.url, dataDir: 'unused', poolSize: 2 });
    let state: SharedState | undefined;
    try {
      state = await createRedisSharedState({
        url: REDIS_URL,
        keyPrefix: `cdr-test-${randomBytes(4).toString('hex')}:`,
      });
      await migrate(db, MIGRATIONS_DIR);
      const tenant = await createTenantRepository(db).create({ name: 'Acme', sipDomain: 'acme.example' });
      const job = cdrWriterJob({
        events: state.events,
        cdrs: createCdrRepository(db),
        consumer: 'w1',
        staleMs: 50,
      });

      await publish(state, ended(tenant.id, 1));
      await job.run(AbortSignal.timeout(5000));
      assert.equal(await count(db), 1);

      // The outage: no new connection is accepted and the open ones are cut.
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      await publish(state, ...[2, 3, 4].map((n) => ended(tenant.id, n)));
      await assert.rejects(job.run(AbortSignal.timeout(5000)));
      await new Promise((r) => setTimeout(r, 100)); // past staleMs: the pending entries are claimed again
      await assert.rejects(job.run(AbortSignal.timeout(5000)), 'still down: the claimed entries fail again');

      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await new Promise((r) => setTimeout(r, 100)); // past staleMs: the failed entries are claimed again
      await job.run(AbortSignal.timeout(5000));
      assert.equal(await count(db), 4, 'the events of the outage are written after it');
      await publish(state, ended(tenant.id, 3));
      await new Promise((r) => setTimeout(r, 100));
      await job.run(AbortSignal.timeout(5000));
      assert.equal(await count(db), 4, 'a redelivered event writes nothing twice');
    } finally {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => undefined);
      await state?.close();
      await db.close();
      await admin.end();
      await scratch.drop();
    }
  });

  test('a worker that dies before acking: another claims its entries once they are stale; retention purges old CDRs', async () => {
    await withEmbeddedPair({ dataDir: 'memory://' }, async ({ db, state, tenant }) => {
      await publish(state, ...[1, 2, 3].map((n) => ended(tenant.id, n)));
      // Worker 1 takes the entries and dies before writing or acknowledging them.
      const taken = await state.events.consume(CALL_EVENTS_STREAM, CDR_WRITER_GROUP, 'dead-worker', {
        count: 10,
      });
      assert.equal(taken.length, 3);
      const survivor = cdrWriterJob({
        events: state.events,
        cdrs: createCdrRepository(db),
        consumer: 'w2',
        // Long enough that the first run below comes before it even on a busy machine.
        staleMs: 1000,
      });
      await survivor.run(AbortSignal.timeout(2000));
      assert.equal(await count(db), 0, 'not stale yet: still the dead worker’s');
      await new Promise((r) => setTimeout(r, 1100));
      await survivor.run(AbortSignal.timeout(2000));
      assert.equal(await count(db), 3, 'claimed from the dead worker and written');
      await new Promise((r) => setTimeout(r, 80));
      assert.deepEqual(
        await state.events.claimStale(CALL_EVENTS_STREAM, CDR_WRITER_GROUP, 'w3', 0, 10),
        [],
        'and acknowledged: nothing is pending any more',
      );

      const purged: number[] = [];
      const retention = cdrRetentionJob({
        cdrs: createCdrRepository(db),
        retentionDays: 30,
        onPurged: (n) => purged.push(n),
      });
      await db.query("UPDATE cdrs SET started_at = now() - interval '31 days' WHERE call_id = 'call-1'");
      await db.query("UPDATE cdrs SET started_at = now() - interval '29 days' WHERE call_id = 'call-2'");
      await db.query("UPDATE cdrs SET started_at = now() WHERE call_id = 'call-3'");
      await retention.run(AbortSignal.timeout(2000));
      assert.deepEqual(purged, [1]);
      const left = await createCdrRepository(db).list(tenant.id, { limit: 10 });
      assert.deepEqual(left.map((c) => c.callId).sort(), ['call-2', 'call-3']);
    });
  });
});
