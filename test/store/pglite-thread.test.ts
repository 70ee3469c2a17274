import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, StoreError, type Database } from '../../src/store/index.js';
import { openPgliteThread } from '../../src/store/database/pglite-thread-database.js';
import { withUnavailableErrors } from '../../src/store/database/unavailable-errors.js';

// The embedded PGlite runs in a worker thread (src/store/database/pglite-thread-database.ts): what crosses the
// thread boundary and what happens when the thread goes away. The store contract suites cover the rest.
const TEMPLATE = join(import.meta.dirname, '..', '..', 'dist', 'pglite-template.tar.gz');

async function withFolder<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'voxgate-pglite-thread-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const codeOf = (err: unknown) => (err as { code?: unknown }).code;

test('errors cross the thread with their SQLSTATE and fields, and are mapped at the store boundary as before', async () => {
  const db = await openDatabase({ dataDir: 'memory://', pgliteTemplate: TEMPLATE });
  try {
    await db.exec('CREATE TABLE u (id int PRIMARY KEY, name text UNIQUE)');
    await db.query('INSERT INTO u VALUES (1, $1)', ['alice']);
    const unique = await db.query('INSERT INTO u VALUES (2, $1)', ['alice']).catch((e: unknown) => e);
    assert.ok(
      unique instanceof Error && !(unique instanceof StoreError),
      'a constraint error passes unchanged',
    );
    assert.equal(codeOf(unique), '23505');
    assert.equal((unique as { constraint?: unknown }).constraint, 'u_name_key');
    assert.match(unique.message, /duplicate key value violates unique constraint "u_name_key"/);
    await assert.rejects(db.query('SELECT 1 / $1::int', [0]), (err: unknown) => codeOf(err) === '22012');
    await assert.rejects(db.query('SELECT * FROM nowhere'), (err: unknown) => codeOf(err) === '42P01');
    // Inside a transaction too, and the transaction's error is the statement's.
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO u VALUES (3, $1)', ['bob']);
        await tx.query('INSERT INTO u VALUES (3, $1)', ['carol']);
      }),
      (err: unknown) => codeOf(err) === '23505',
    );
    const { rows } = await db.query<{ id: number }>('SELECT id FROM u ORDER BY id');
    assert.deepEqual(
      rows.map((r) => r.id),
      [1],
      'the failed transaction left nothing',
    );
  } finally {
    await db.close();
  }
});

test('values cross the thread as PGlite made them: dates, bytes, JSON, nulls, row counts', async () => {
  const db = await openDatabase({ dataDir: 'memory://', pgliteTemplate: TEMPLATE });
  try {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const { rows } = await db.query<{ at: Date; b: Uint8Array; j: unknown; n: null }>(
      "SELECT $1::timestamptz AS at, '\\x0102'::bytea AS b, $2::jsonb AS j, NULL AS n",
      [at, JSON.stringify({ a: [1, 'x'] })],
    );
    assert.ok(rows[0]?.at instanceof Date);
    assert.equal(rows[0].at.getTime(), at.getTime());
    assert.deepEqual([...(rows[0].b ?? [])], [1, 2]);
    assert.deepEqual(rows[0].j, { a: [1, 'x'] });
    assert.equal(rows[0].n, null);
    await db.exec('CREATE TABLE r (n int)');
    assert.equal((await db.query('INSERT INTO r SELECT generate_series(1, 5)')).rowCount, 5);
    // A parameter that cannot be sent to the thread fails that query alone.
    await assert.rejects(db.query('SELECT $1', [() => 1]));
    assert.equal((await db.query('SELECT count(*)::int AS n FROM r')).rows[0]?.n, 5);
  } finally {
    await db.close();
  }
});

test('a transaction that fails rolls back; queries sent meanwhile wait for it and see only what it committed', async () => {
  const db = await openDatabase({ dataDir: 'memory://', pgliteTemplate: TEMPLATE });
  try {
    await db.exec('CREATE TABLE t (n int)');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let began!: () => void;
    const inside = new Promise<void>((r) => (began = r));
    const failing = db.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (1)');
      began();
      await gate;
      await tx.query('INSERT INTO t VALUES (2)');
      throw new Error('changed my mind');
    });
    await inside;
    assert.deepEqual(db.pool?.(), { total: 1, idle: 1, waiting: 0, max: 1 }, 'between statements');
    const outside = db.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
    const outside2 = db.query('SELECT 1');
    // The back-pressure gauge: both wait behind the transaction.
    assert.deepEqual(db.pool?.(), { total: 1, idle: 0, waiting: 1, max: 1 });
    release();
    await assert.rejects(failing, /changed my mind/);
    await outside2;
    assert.equal((await outside).rows[0]?.n, 0);
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (3)');
      await tx.exec('INSERT INTO t VALUES (4)');
    });
    const { rows } = await db.query<{ n: number }>('SELECT n FROM t ORDER BY n');
    assert.deepEqual(
      rows.map((r) => r.n),
      [3, 4],
    );
  } finally {
    await db.close();
  }
});

test('close answers every query sent before it, writes them to the folder, and refuses later ones', async () => {
  await withFolder(async (dir) => {
    const db = await openDatabase({ dataDir: dir, pgliteTemplate: TEMPLATE });
    await db.exec('CREATE TABLE w (n int)');
    // Sent without waiting, then the shutdown: nothing may be lost.
    const writes = Array.from({ length: 300 }, (_, i) => db.query('INSERT INTO w VALUES ($1)', [i]));
    const closed = db.close();
    await assert.rejects(db.query('SELECT 1'), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'STORE_UNAVAILABLE');
      return true;
    });
    await Promise.all(writes);
    await closed;
    await db.close(); // twice is harmless
    const again = await openDatabase({ dataDir: dir, pgliteTemplate: TEMPLATE });
    try {
      const { rows } = await again.query<{ n: number; s: number }>(
        'SELECT count(*)::int AS n, sum(n)::int AS s FROM w',
      );
      assert.deepEqual(rows[0], { n: 300, s: (299 * 300) / 2 });
    } finally {
      await again.close();
    }
  });
});

test("databases share the process's worker and not each other's transactions", async () => {
  const a = await openDatabase({ dataDir: 'memory://', pgliteTemplate: TEMPLATE });
  const b = await openDatabase({ dataDir: 'memory://', pgliteTemplate: TEMPLATE });
  try {
    await a.exec('CREATE TABLE only_in_a (n int)');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = a.transaction(async (tx) => {
      await tx.query('INSERT INTO only_in_a VALUES (1)');
      await gate;
    });
    // b answers while a's transaction holds a's connection, and b does not see a's tables.
    await assert.rejects(b.query('SELECT * FROM only_in_a'), (err: unknown) => codeOf(err) === '42P01');
    assert.equal((await b.query<{ n: number }>('SELECT 2 AS n')).rows[0]?.n, 2);
    release();
    await held;
    await b.close();
    // Closing b leaves a (and the worker) working.
    assert.equal((await a.query<{ n: number }>('SELECT count(*)::int AS n FROM only_in_a')).rows[0]?.n, 1);
  } finally {
    await a.close();
    await b.close();
  }
});

test('a worker that dies fails the pending and later queries with a clear error instead of a hang', async () => {
  const other = await openDatabase({ dataDir: 'memory://', pgliteTemplate: TEMPLATE });
  // A heap too small for the result: the worker thread runs out of memory and is stopped by Node.
  const raw = await openPgliteThread('memory://', TEMPLATE, {
    resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 },
  });
  const db: Database = withUnavailableErrors(raw);
  const huge = db.query("SELECT repeat('x', 200) AS pad, g FROM generate_series(1, 2000000) g");
  const unavailable = (err: unknown) => {
    assert.ok(err instanceof StoreError, String(err));
    assert.equal(err.code, 'STORE_UNAVAILABLE');
    assert.match(err.message, /PGlite worker stopped/);
    return true;
  };
  await assert.rejects(huge, unavailable);
  await assert.rejects(db.query('SELECT 1'), unavailable);
  await assert.rejects(
    db.transaction(async (tx) => tx.query('SELECT 1')),
    unavailable,
  );
  await db.close(); // nothing left to close: resolves
  // A database of the shared worker is not affected.
  assert.equal((await other.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n, 1);
  await other.close();
});

test('a folder PGlite cannot open fails the opening', async () => {
  await withFolder(async (dir) => {
    const file = join(dir, 'not-a-folder');
    await writeFile(file, 'x');
    await assert.rejects(openDatabase({ dataDir: file }));
  });
});
