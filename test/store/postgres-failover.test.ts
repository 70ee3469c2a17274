// The store on a real PostgreSQL primary and streaming standby (test/helpers/postgres-pair.ts: initdb,
// pg_basebackup -R, free loopback ports) through one multi-host URL: target_session_attrs chooses the server
// whatever the order of the list, migrations run on the writable one, a server that turns read-only is let go,
// and when the primary is stopped (fast shutdown) under writes and the standby promoted, the same Database goes
// on on the promoted one by itself with no acknowledged write lost — failures in between are STORE_UNAVAILABLE
// (503 for the API and the gateway), never a defect. The outage seen is printed as a diagnostic
// (docs/deployment.md). Skips without PostgreSQL's server binaries, except in CI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isBackendUnavailable, migrate, openDatabase, type Database } from '../../src/store/index.js';
import { postgresPairUnavailable, startPostgresPair, type PostgresPair } from '../helpers/postgres-pair.js';
import { MIGRATIONS_DIR } from '../helpers/store-backends.js';

const unavailable = await postgresPairUnavailable();
/**
 * How the primary goes: fast shutdown (the default), or VOXGATE_TEST_PG_STOP=kill (SIGKILL, a crash: with
 * asynchronous replication the last commits may not have reached the standby); VOXGATE_TEST_PG_SYNC=1 makes
 * the standby synchronous (docs/deployment.md has figures of each).
 */
const KILL = process.env.VOXGATE_TEST_PG_STOP === 'kill';
const SYNC = process.env.VOXGATE_TEST_PG_SYNC === '1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(50)) {
    if (await check().catch(() => false)) return;
    assert.ok(Date.now() < deadline, `timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

const role = async (db: Database) =>
  (
    await db.query<{ standby: boolean; port: string }>(
      "SELECT pg_is_in_recovery() AS standby, current_setting('port') AS port",
    )
  ).rows[0];

describe('PostgreSQL primary + streaming standby behind one multi-host URL', { skip: unavailable }, () => {
  let pair: PostgresPair;
  before(async () => {
    pair = await startPostgresPair({ synchronous: SYNC });
  });
  after(async () => {
    await pair?.stop();
  });

  test('target_session_attrs chooses by role whatever the order; migrations run on the writable server', async () => {
    const { primary, standby } = pair;
    const cases = [
      ['read-write', [standby, primary], primary],
      ['primary', [standby, primary], primary],
      ['read-only', [primary, standby], standby],
      ['standby', [primary, standby], standby],
      ['prefer-standby', [primary, standby], standby],
      ['any', [standby, primary], standby],
    ] as const;
    for (const [mode, order, expected] of cases) {
      const db = await openDatabase({ url: pair.url(mode, order), dataDir: 'unused', poolSize: 2 });
      try {
        assert.deepEqual(
          await role(db),
          { standby: expected === standby, port: String(expected.port) },
          mode,
        );
      } finally {
        await db.close();
      }
    }
    // any keeps the standby listed first: a write there is refused (25006), which is "unavailable", not a 500.
    const any = await openDatabase({
      url: pair.url('any', [standby, primary]),
      dataDir: 'unused',
      poolSize: 2,
    });
    try {
      await assert.rejects(
        any.query('CREATE TABLE refused (i int)'),
        (err: Error & { code?: string; cause?: { code?: string } }) =>
          err.code === 'STORE_UNAVAILABLE' && err.cause?.code === '25006' && isBackendUnavailable(err),
      );
    } finally {
      await any.close();
    }
    // The standby listed first, read-write asked: the migrations are applied on the primary and replicated.
    const db = await openDatabase({ url: pair.url('read-write', [standby, primary]), dataDir: 'unused' });
    try {
      const { applied } = await migrate(db, MIGRATIONS_DIR);
      assert.ok(applied.length > 10, `applied ${applied.length}`);
      await until('the migrations to reach the standby', async () => {
        const rows = await standby.query<{ n: string }>('SELECT count(*) AS n FROM schema_migrations');
        return Number(rows[0]?.n) === applied.length;
      });
    } finally {
      await db.close();
    }
  });

  test('a server that turns read-only is let go: writes are "unavailable" until one is writable again', async () => {
    const db = await openDatabase({ url: pair.url(), dataDir: 'unused', poolSize: 2 });
    const setReadOnly = async (on: boolean) => {
      await pair.primary.query(`ALTER SYSTEM SET default_transaction_read_only = ${on ? 'on' : 'off'}`);
      await pair.primary.query('SELECT pg_reload_conf()');
    };
    try {
      await db.exec('CREATE TABLE IF NOT EXISTS turned (i int)');
      await setReadOnly(true);
      // The pooled session sees the reloaded default at its next statement: the write is refused (25006), the
      // server let go, and no server of the list is read-write now.
      await until('a write to be refused as unavailable', async () => {
        const err = await db.query('INSERT INTO turned VALUES (1)').then(
          () => undefined,
          (e: unknown) => e,
        );
        return isBackendUnavailable(err);
      });
      await assert.rejects(
        db.query('INSERT INTO turned VALUES (2)'),
        (err: Error & { code?: string }) =>
          err.code === 'STORE_UNAVAILABLE' && /no PostgreSQL server of .* is read-write/.test(err.message),
      );
      await setReadOnly(false);
      await until('writes to succeed again', async () => {
        await db.query('INSERT INTO turned VALUES (3)');
        return true;
      });
      assert.equal((await role(db))?.port, String(pair.primary.port));
    } finally {
      await setReadOnly(false).catch(() => undefined);
      await db.close();
    }
  });

  test('primary stopped (fast shutdown) under writes, standby promoted: the same Database goes on there, nothing acknowledged lost', async (t) => {
    const db = await openDatabase({ url: pair.url(), dataDir: 'unused', poolSize: 4 });
    try {
      await db.exec('CREATE TABLE writes (id int PRIMARY KEY, tx boolean NOT NULL)');
      const acked: number[] = [];
      const ackedAt: number[] = [];
      const failures: { at: number; message: string; unavailable: boolean }[] = [];
      let running = true;
      // A statement and a two-statement transaction per round, as the API and the worker write.
      const writer = (async () => {
        for (let i = 0; running; i += 2) {
          for (const [id, write] of [
            [i, () => db.query('INSERT INTO writes VALUES ($1, false)', [i])],
            [
              i + 1,
              () =>
                db.transaction(async (tx) => {
                  await tx.query('INSERT INTO writes VALUES ($1, true)', [i + 1]);
                  await tx.query('SELECT count(*) FROM writes');
                }),
            ],
          ] as const) {
            try {
              await write();
              acked.push(id);
              ackedAt.push(Date.now());
            } catch (err) {
              failures.push({
                at: Date.now(),
                message: (err as Error).message.slice(0, 160),
                unavailable: isBackendUnavailable(err),
              });
            }
          }
          await sleep(5);
        }
      })();
      await until('writes to flow', async () => acked.length >= 20);
      const stoppedAt = Date.now();
      await (KILL ? pair.primary.kill() : pair.primary.stopFast());
      const ackedBefore = acked.length;
      // The operator (or the orchestrator) takes a moment to decide: writes fail meanwhile.
      await until('a failed write', async () => failures.length > 0);
      const promoteFrom = Date.now();
      await pair.promote();
      const promotedAt = Date.now();
      await until('writes to succeed again', async () => acked.length > ackedBefore + 20);
      const backAt = Date.now();
      running = false;
      await writer;

      assert.deepEqual(
        failures.filter((f) => !f.unavailable),
        [],
        'every failure during the outage says "unavailable"',
      );
      assert.deepEqual(await role(db), { standby: false, port: String(pair.standby.port) });
      const stored = new Set(
        (await pair.standby.query<{ id: number }>(`SELECT id FROM writes`, [])).map((r) => r.id),
      );
      const lost = acked.filter((id) => !stored.has(id));
      assert.deepEqual(lost, [], 'acknowledged writes missing on the promoted standby');
      const lastFailure = Math.max(...failures.map((f) => f.at));
      const firstBack = ackedAt.find((at) => at >= promotedAt) ?? backAt;
      t.diagnostic(
        `${KILL ? 'SIGKILL' : 'fast shutdown'}${SYNC ? ' (synchronous standby)' : ''} → promote: ${acked.length} writes acknowledged, ${failures.length} failed (all ` +
          `STORE_UNAVAILABLE) from ${Math.min(...failures.map((f) => f.at)) - stoppedAt} to ${lastFailure - stoppedAt} ms ` +
          `after the stop; pg_ctl promote took ${promotedAt - promoteFrom} ms and returned ${promotedAt - stoppedAt} ms ` +
          `after the stop; the first write acknowledged ${firstBack - promotedAt} ms after it; lost 0; first ` +
          `error: ${failures[0]?.message}`,
      );
    } finally {
      await db.close();
    }
  });
});
