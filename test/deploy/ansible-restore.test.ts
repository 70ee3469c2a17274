// The disaster-recovery playbook's restore role (deploy/ansible/roles/postgres_restore) for real, against the
// local PostgreSQL: the dump and manifest the worker's database-backup job wrote are restored into an empty
// database, every table's rows checked against the manifest. (One playbook run: on a loaded 2-core machine it
// takes most of the runner's two minutes per file; the refusal of a database that has tables and
// postgres_restore_overwrite are not run here.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { databaseBackupJob } from '../../src/jobs/index.js';
import { createFolderStore, createTenantRepository, migrate, openDatabase } from '../../src/store/index.js';
import { createScratchDatabase, postgresAvailable } from '../helpers/postgres.js';
import { MIGRATIONS_DIR } from '../helpers/store-backends.js';
import { find, playbook, ran, SAMPLE_OUTPUTS, skipped } from './ansible-run.js';
import { requireTool } from './tools.js';

describe('the restore role, for real, against the local PostgreSQL', () => {
  let work: string;
  let available = false;
  let source: { url: string; drop: () => Promise<void> };
  let target: { url: string; drop: () => Promise<void> };
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'voxgate-ansible-restore-'));
    available = await postgresAvailable();
    if (!available) return;
    source = await createScratchDatabase();
    target = await createScratchDatabase();
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
    if (!available) return;
    await source.drop();
    await target.drop();
  });

  test("restores the newest dump the backup job wrote and checks every table's rows", async (t) => {
    if (!available) return t.skip('PostgreSQL not reachable');
    if (!requireTool(t, 'ansible-playbook', 'Debian package ansible')) return;
    if (!requireTool(t, 'pg_restore', 'Debian package postgresql-client')) return;
    const db = await openDatabase({ url: source.url, dataDir: tmpdir(), poolSize: 2 });
    let manifestTenants: number;
    try {
      await migrate(db, MIGRATIONS_DIR);
      const tenants = createTenantRepository(db);
      for (const n of [1, 2, 3, 4]) await tenants.create({ name: `T${n}`, sipDomain: `t${n}.dr.example` });
      const stored = await databaseBackupJob({
        db,
        databaseUrl: source.url,
        store: createFolderStore(join(work, 'backups')),
        spoolDir: join(work, 'spool'),
        everyMs: 1,
      }).runNow();
      assert.ok(stored);
      manifestTenants = stored.tables.tenants!;
    } finally {
      await db.close();
    }
    assert.equal(manifestTenants, 4);
    const files = await readdir(join(work, 'backups', 'backups'));
    const dump = join(
      work,
      'backups',
      'backups',
      files.find((f) => f.endsWith('.dump'))!,
    );
    const pgUrl = new URL(target.url);
    const restore = (extra: string[] = []) =>
      playbook([
        '--tags',
        'restore',
        '-e',
        `tf_outputs_file=${SAMPLE_OUTPUTS}`,
        '-e',
        `postgres_restore_dump_file=${dump}`,
        '-e',
        `postgres_restore_manifest_file=${dump.replace(/\.dump$/, '.json')}`,
        '-e',
        `postgres_restore_work_dir=${join(work, 'restore')}`,
        '-e',
        `postgres_restore_host=${pgUrl.hostname}`,
        '-e',
        `postgres_restore_port=${pgUrl.port || '5432'}`,
        '-e',
        `postgres_restore_user=${decodeURIComponent(pgUrl.username)}`,
        '-e',
        `postgres_restore_password=${decodeURIComponent(pgUrl.password)}`,
        '-e',
        'postgres_restore_password_from_secret=false',
        '-e',
        `postgres_restore_database=${pgUrl.pathname.slice(1)}`,
        '-e',
        'postgres_restore_sslmode=disable',
        ...extra,
      ]);
    const first = restore();
    assert.equal(first.status, 0, JSON.stringify(first.tasks.filter((x) => x.result.failed)) + first.stderr);
    assert.equal(ran(first, 'Restore the dump').changed, true);
    const checked = ran(first, 'Check every table holds the rows its manifest counted');
    assert.ok((checked.results ?? []).length >= 10, 'one check per table of the manifest');
    skipped(first, 'Find the newest dump in the replica bucket');
    skipped(first, 'Read the master password of the secondary database');
    assert.equal(find(first, 'Render the overlay'), undefined, 'only the restore tag');

    const c = new pg.Client({ connectionString: target.url });
    await c.connect();
    const { rows } = await c.query<{ n: string }>(
      "SELECT count(*) AS n FROM tenants WHERE sip_domain LIKE '%.dr.example'",
    );
    await c.end();
    assert.equal(Number(rows[0]?.n), 4);
  });
});
