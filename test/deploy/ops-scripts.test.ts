import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';
import { createScratchDatabase, postgresAvailable } from '../helpers/postgres.js';
import { requireTool } from './tools.js';

function run(script: string, args: string[], env: Record<string, string>) {
  return spawnSync('bash', [script, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('ops scripts', () => {
  test('shellcheck accepts every CI and ops script', (t) => {
    if (!requireTool(t, 'shellcheck', 'Debian package shellcheck')) return;
    const scripts = ['scripts/ci', 'scripts/ops'].flatMap((dir) =>
      readdirSync(dir)
        .filter((f) => f.endsWith('.sh'))
        .map((f) => join(dir, f)),
    );
    const r = spawnSync('shellcheck', ['-x', ...scripts], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  describe('verify.sh against a local all-in-one voxgate', () => {
    let voxgate: VoxgateProcess;
    before(async () => {
      voxgate = await startVoxgate(['--target=all']);
    });
    after(async () => {
      await voxgate?.stop();
    });

    test('readiness, metrics and SIP OPTIONS pass', () => {
      const r = run('scripts/ops/verify.sh', [], {
        VOXGATE_HTTP_URL: voxgate.httpUrl,
        VOXGATE_SIP_TARGET: `127.0.0.1:${voxgate.sipUdpPort}`,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /200 OK/);
      assert.match(r.stderr, /verification passed/);
    });

    test('fails when an alert fires (Alertmanager v2 API answered by a stub)', async () => {
      const alerts = [{ labels: { alertname: 'VoxgateInstanceDown', env: 'test' } }];
      const stub = createServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(req.url?.startsWith('/api/v2/alerts') ? JSON.stringify(alerts) : '[]');
      });
      await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
        // Asynchronously: a synchronous spawn would block the event loop that serves the stub.
        const child = spawn('bash', ['scripts/ops/verify.sh'], {
          env: { ...process.env, VOXGATE_HTTP_URL: voxgate.httpUrl, ALERTMANAGER_URL: url },
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
        assert.equal(code, 1, stderr);
        assert.match(stderr, /alerts firing:\s+VoxgateInstanceDown/);
        alerts.length = 0;
        const ok = spawn('bash', ['scripts/ops/verify.sh'], {
          env: { ...process.env, VOXGATE_HTTP_URL: voxgate.httpUrl, ALERTMANAGER_URL: url },
        });
        assert.equal(await new Promise<number | null>((resolve) => ok.on('exit', resolve)), 0);
      } finally {
        stub.close();
      }
    });

    test('fails when readiness is not 200', () => {
      const r = run('scripts/ops/verify.sh', [], { VOXGATE_HTTP_URL: 'http://127.0.0.1:9/' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /FAILED: .*readyz/);
    });
  });

  test('rotate-admin-key.sh: a new admin key is written, works, and the old one is revoked', async () => {
    const oldKey = `vxg_rot${Date.now().toString(36)}_${'k'.repeat(32)}`;
    const dir = await mkdtemp(join(tmpdir(), 'voxgate-rotate-'));
    const vx = await startVoxgate(['--target=api'], { VOXGATE_ADMIN_API_KEY: oldKey });
    try {
      const out = join(dir, 'new.key');
      const child = spawn('bash', ['scripts/ops/rotate-admin-key.sh'], {
        env: {
          ...process.env,
          VOXGATE_API_URL: vx.httpUrl,
          VOXGATE_ADMIN_API_KEY: oldKey,
          VOXGATE_NEW_KEY_FILE: out,
        },
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      assert.equal(await new Promise<number | null>((resolve) => child.on('exit', resolve)), 0, stderr);
      const newKey = (await readFile(out, 'utf8')).trim();
      const who = (key: string) =>
        fetch(`${vx.httpUrl}/v1/whoami`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal((await who(newKey)).status, 200);
      assert.equal((await who(oldKey)).status, 401, 'the old key is revoked');
      const again = run('scripts/ops/rotate-admin-key.sh', [], {
        VOXGATE_API_URL: vx.httpUrl,
        VOXGATE_ADMIN_API_KEY: newKey,
        VOXGATE_NEW_KEY_FILE: out,
      });
      assert.equal(again.status, 1);
      assert.match(again.stderr, /refusing to overwrite/);
    } finally {
      await vx.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('backup.sh then restore-test.sh against the real PostgreSQL', async (t) => {
    if (!(await postgresAvailable())) return t.skip('PostgreSQL not reachable (VOXGATE_TEST_DATABASE_URL)');
    if (!requireTool(t, 'pg_dump', 'Debian package postgresql-client')) return;
    const db = await createScratchDatabase();
    const dir = await mkdtemp(join(tmpdir(), 'voxgate-backup-'));
    try {
      // voxgate migrates the scratch database and creates the admin key, then stops.
      const voxgate = await startVoxgate(['--target=api'], { VOXGATE_DATABASE_URL: db.url });
      assert.equal(await voxgate.stop(), 0);
      const dump = join(dir, 'voxgate.dump');
      const backup = run('scripts/ops/backup.sh', [dump], { DATABASE_URL: db.url });
      assert.equal(backup.status, 0, backup.stderr);
      const admin = new URL(db.url);
      admin.pathname = '/postgres';
      const restore = run('scripts/ops/restore-test.sh', [dump], {
        ADMIN_DATABASE_URL: admin.toString(),
        VOXGATE_RESTORE_MIN_ROWS: 'api_keys=1 schema_migrations=1',
      });
      assert.equal(restore.status, 0, restore.stderr);
      assert.match(restore.stderr, /schema_migrations: \d+ applied/);
      assert.match(restore.stderr, /restore test passed/);
      // A missing table is a failure, and the scratch database is dropped either way.
      const missing = run('scripts/ops/restore-test.sh', [dump], {
        ADMIN_DATABASE_URL: admin.toString(),
        VOXGATE_RESTORE_MIN_ROWS: 'no_such_table=1',
      });
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /table no_such_table missing/);
      const left = spawnSync(
        'psql',
        [
          '-tA',
          admin.toString(),
          '-c',
          "SELECT count(*) FROM pg_database WHERE datname LIKE 'voxgate_restore_%'",
        ],
        { encoding: 'utf8' },
      );
      assert.equal(left.stdout.trim(), '0');
    } finally {
      await rm(dir, { recursive: true, force: true });
      await db.drop();
    }
  });
});
