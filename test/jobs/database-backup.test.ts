// The worker's backup and restore test, against the real PostgreSQL: a migrated database with rows is dumped
// (pg_dump custom format, in the snapshot its manifest counts rows in) into an object store; the restore test
// restores the latest dump into a scratch database, finds the same rows per table, and drops the scratch
// database; a manifest that does not match its dump fails the test run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { databaseBackupJob, restoreTestJob } from '../../src/jobs/index.js';
import {
  createFolderStore,
  createTenantRepository,
  migrate,
  openDatabase,
  type Database,
} from '../../src/store/index.js';
import { createScratchDatabase, postgresAvailable, POSTGRES_BASE_URL } from '../helpers/postgres.js';
import { MIGRATIONS_DIR } from '../helpers/store-backends.js';

const haveTools = spawnSync('sh', ['-c', 'command -v pg_dump && command -v pg_restore']).status === 0;
if (!haveTools && process.env.CI)
  throw new Error('pg_dump/pg_restore (Debian postgresql-client) are required in CI');

describe(
  'database backup and restore test (worker jobs)',
  { skip: !haveTools && 'pg_dump not installed' },
  () => {
    let available = false;
    let source: { url: string; drop: () => Promise<void> };
    let db: Database;
    let dir: string;
    before(async () => {
      available = await postgresAvailable();
      if (!available) return;
      source = await createScratchDatabase();
      db = await openDatabase({ url: source.url, dataDir: tmpdir(), poolSize: 2 });
      await migrate(db, MIGRATIONS_DIR);
      const tenants = createTenantRepository(db);
      for (const n of [1, 2, 3]) await tenants.create({ name: `T${n}`, sipDomain: `t${n}.backup.example` });
      dir = await mkdtemp(join(tmpdir(), 'voxgate-backup-'));
    });
    after(async () => {
      if (!available) return;
      await db.close();
      await source.drop();
      await rm(dir, { recursive: true, force: true });
    });

    /**
     * Scratch databases that are there now and were not in `before`: another test run on the same server (a
     * second checkout's suite) may make and drop its own meanwhile, which must not count as ours.
     */
    const newScratchDatabases = async (before: readonly string[]) =>
      (await scratchDatabases()).filter((name) => !before.includes(name));
    const scratchDatabases = async () => {
      const c = new pg.Client({ connectionString: POSTGRES_BASE_URL });
      await c.connect();
      const { rows } = await c.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname LIKE 'voxgate_restore_%'",
      );
      await c.end();
      return rows.map((r) => r.datname);
    };

    test('a backup restores with the same rows per table; a tampered manifest fails; no scratch database stays', async (t) => {
      if (!available) return t.skip('PostgreSQL not reachable');
      const store = createFolderStore(join(dir, 'store'));
      const backup = databaseBackupJob({
        db,
        databaseUrl: source.url,
        store,
        spoolDir: join(dir, 'spool'),
        everyMs: 86_400_000,
      });
      const made = await backup.runNow();
      assert.ok(made, 'a backup was made');
      const manifest = made;
      assert.equal(manifest.tables.tenants, 3);
      assert.ok((manifest.tables.schema_migrations ?? 0) > 0, JSON.stringify(manifest.tables));
      assert.match(manifest.dumpKey, /^backups\/\d{8}T\d{6}Z\.dump$/);
      assert.deepEqual(await store.list('backups/'), [
        manifest.dumpKey,
        manifest.dumpKey.replace(/dump$/, 'json'),
      ]);
      const before = await scratchDatabases();
      assert.equal(await backup.runNow(), undefined, 'a second run within the period leaves it to the first');

      const restore = restoreTestJob({
        db,
        databaseUrl: source.url,
        store,
        spoolDir: join(dir, 'spool'),
        everyMs: 86_400_000,
      });
      const checked = await restore.runNow();
      assert.equal(checked.dumpKey, manifest.dumpKey);
      assert.deepEqual(await newScratchDatabases(before), [], 'the scratch database is dropped');

      // The manifest says 4 tenants; the dump has 3.
      const manifestFile = join(dir, 'store', ...manifest.dumpKey.replace(/dump$/, 'json').split('/'));
      const tampered = JSON.parse(await readFile(manifestFile, 'utf8')) as { tables: Record<string, number> };
      tampered.tables.tenants = 4;
      await writeFile(manifestFile, JSON.stringify(tampered));
      await assert.rejects(restore.runNow(), /tenants: 4 in the manifest, 3 restored/);
      assert.deepEqual(await newScratchDatabases(before), [], 'dropped after a failure too');
    });
  },
);
