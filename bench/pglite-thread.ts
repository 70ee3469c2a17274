/**
 * bench:pglite-thread — what the embedded PGlite costs the caller's event loop, in the thread (pglite-database.ts)
 * and in a worker thread (pglite-thread-database.ts), side by side in one run: per query, the wall time of
 * sequential queries (the message hop included) and the caller's event-loop busy time (what the SIP gateway
 * cannot use), for `SELECT 1` and for the CDR write of a call (cdrs upsert). Also the start time.
 * Usage: node --import tsx bench/pglite-thread.ts [--queries=2000]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { openPglite } from '../src/store/database/pglite-database.js';
import { openPgliteThread } from '../src/store/database/pglite-thread-database.js';
import {
  createCdrRepository,
  createTenantRepository,
  migrate,
  type CallEvent,
  type Database,
} from '../src/store/index.js';
import { fmt } from './support.js';

const { values } = parseArgs({ options: { queries: { type: 'string', default: '2000' } } });
const N = Number(values.queries);
const ROOT = join(import.meta.dirname, '..');
const TEMPLATE = join(ROOT, 'dist', 'pglite-template.tar.gz');

interface Measure {
  wallUsPerQuery: number;
  loopBusyUsPerQuery: number;
}

/** Runs `n` calls of `one`, `concurrency` at a time; wall time and the event loop's busy time per call. */
async function measure(one: (i: number) => Promise<unknown>, concurrency: number): Promise<Measure> {
  const elu = performance.eventLoopUtilization();
  const began = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < N) await one(next++);
    }),
  );
  const wall = performance.now() - began;
  const used = performance.eventLoopUtilization(elu);
  return { wallUsPerQuery: (wall * 1000) / N, loopBusyUsPerQuery: (used.active * 1000) / N };
}

const rows: string[] = [];
for (const [mode, open] of [
  ['in the thread', openPglite],
  ['worker thread', openPgliteThread],
] as const) {
  const began = performance.now();
  const db: Database = await open('memory://', TEMPLATE);
  const startMs = performance.now() - began;
  await migrate(db, join(ROOT, 'migrations'));
  const tenant = await createTenantRepository(db).create({
    name: 'Bench',
    sipDomain: `${mode.length}.example`,
  });
  const cdrs = createCdrRepository(db);
  const event = (i: number, run: string): CallEvent => ({
    type: 'ended',
    callId: `${run}-${i}@bench`,
    tenantId: tenant.id,
    direction: 'inbound',
    from: '+442079460001',
    to: '+442079460000',
    startedAt: Date.now() - 1000,
    answeredAt: Date.now() - 800,
    endedAt: Date.now(),
    disposition: 'answered',
    sipCode: 200,
    hangupBy: 'caller',
  });
  await measure(() => db.query('SELECT 1'), 1); // warm-up
  const select = await measure(() => db.query('SELECT 1'), 1);
  const insert = await measure((i) => cdrs.upsertFromEvent(event(i, 'seq')), 1);
  const insert16 = await measure((i) => cdrs.upsertFromEvent(event(i, 'c16')), 16);
  // The CDR writer's way since: a read of the stream (here 100 events) in one statement; figures per event.
  const batched = await measure(async (i) => {
    if (i % 100 === 0) {
      await cdrs.upsertManyFromEvents(Array.from({ length: 100 }, (_, k) => event(i + k, 'b100')));
    }
  }, 1);
  await db.close();
  for (const [what, m] of [
    ['SELECT 1, one at a time', select],
    ['CDR upsert, one at a time', insert],
    ['CDR upsert, 16 at a time', insert16],
    ['CDR upsert, batches of 100 (per event)', batched],
  ] as const) {
    rows.push(
      `| ${mode} | ${what} | ${fmt(m.wallUsPerQuery, 0)} | ${fmt(m.loopBusyUsPerQuery, 0)} | ${fmt(startMs, 0)} |`,
    );
  }
}
console.log(`${N} queries per row\n`);
console.log('| PGlite runs | query | wall µs per query | caller event loop busy µs per query | start ms |');
console.log('|---|---|---|---|---|');
for (const row of rows) console.log(row);
