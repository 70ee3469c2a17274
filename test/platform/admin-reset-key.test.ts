import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiKeyRepository, openDatabase } from '../../src/store/index.js';
import { createScratchDatabase, postgresAvailable } from '../helpers/postgres.js';
import { runVoxgate, startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const TOKEN = /^vxg_([A-Za-z0-9]+)_[A-Za-z0-9_-]+$/;

/** Runs `voxgate admin reset-key` and returns the new key and what it said on stderr. */
async function resetKey(env: Record<string, string>): Promise<{ token: string; id: string; said: string }> {
  const { code, stdout, stderr } = await runVoxgate(['admin', 'reset-key'], env);
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'stdout is the key alone');
  const match = TOKEN.exec(lines[0] ?? '');
  assert.ok(match?.[1], `a key on stdout: ${stdout}`);
  return { token: match[0], id: match[1], said: stderr };
}

const whoami = (vx: VoxgateProcess, key: string) =>
  fetch(`${vx.httpUrl}/v1/whoami`, { headers: { authorization: `Bearer ${key}` } });

describe('voxgate admin reset-key on the embedded store (PGlite in VOXGATE_DATA_DIR)', () => {
  let dataDir: string;
  let vx: VoxgateProcess | undefined;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'voxgate-reset-key-'));
  });
  after(async () => {
    if (vx && vx.child.exitCode === null) await vx.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a new admin key, printed once; the old admin key is revoked, tenant keys are not', async () => {
    vx = await startVoxgate(['--target=api'], {}, { dataDir });
    const oldKey = vx.logs.find((l) => typeof l.apiKey === 'string')?.apiKey as string;
    const oldId = TOKEN.exec(oldKey)?.[1];
    const auth = { authorization: `Bearer ${oldKey}`, 'content-type': 'application/json' };
    const tenant = await fetch(`${vx.httpUrl}/v1/tenants`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'Acme', sipDomain: 'acme.example' }),
    });
    const tenantId = ((await tenant.json()) as { id: string }).id;
    const tenantKey = await fetch(`${vx.httpUrl}/v1/api-keys`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'acme admin', role: 'admin', tenantId }),
    });
    assert.equal(tenantKey.status, 201);
    const tenantToken = ((await tenantKey.json()) as { key: string }).key;
    assert.equal(await vx.stop(), 0);

    const reset = await resetKey({ VOXGATE_DATA_DIR: dataDir });
    assert.notEqual(reset.id, oldId);
    assert.match(
      reset.said,
      new RegExp(`new platform admin API key ${reset.id} \\(on stdout\\): shown this once`),
    );
    assert.match(
      reset.said,
      new RegExp(`revoked the earlier platform admin key ${oldId}: it no longer works`),
    );

    vx = await startVoxgate(['--target=api'], {}, { dataDir });
    assert.ok(!vx.logs.some((l) => 'apiKey' in l), 'the server prints no key of its own');
    assert.equal((await whoami(vx, oldKey)).status, 401, 'the old key is revoked');
    const me = await whoami(vx, reset.token);
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { role: string; tenantId: string | null }).role, 'admin');
    assert.equal((await whoami(vx, tenantToken)).status, 200, "a tenant's key keeps working");
    const audit = await fetch(`${vx.httpUrl}/v1/audit?limit=10`, {
      headers: { authorization: `Bearer ${reset.token}` },
    });
    const entries = ((await audit.json()) as { items: { action: string; entityId: string }[] }).items;
    assert.ok(entries.some((e) => e.action === 'delete' && e.entityId === oldId));
    assert.ok(entries.some((e) => e.action === 'create' && e.entityId === reset.id));
  });

  test('while the server has the embedded store open, reset-key is refused in one line and changes nothing', async () => {
    assert.ok(vx && vx.child.exitCode === null, 'the server of the test above runs');
    const { code, stdout, stderr } = await runVoxgate(['admin', 'reset-key'], { VOXGATE_DATA_DIR: dataDir });
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, new RegExp(`is in use by process ${vx.child.pid}`));
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    // The server still answers from its store.
    assert.equal((await fetch(`${vx.httpUrl}/readyz`)).status, 200);
  });
});

describe('voxgate admin reset-key on PostgreSQL (VOXGATE_DATABASE_URL)', async () => {
  const skip = !(await postgresAvailable()) && 'PostgreSQL not reachable';
  let db: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  before(async () => {
    if (!skip) db = await createScratchDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  test(
    'migrates an empty store and makes the first key; run again, every platform admin key is revoked, a viewer key is not',
    { skip },
    async () => {
      const env = { VOXGATE_DATABASE_URL: db!.url, VOXGATE_DATA_DIR: 'memory://' };
      const first = await resetKey(env);
      assert.match(first.said, /there was no earlier platform admin key to revoke/);
      const store = await openDatabase({ url: db!.url, dataDir: 'unused' });
      try {
        const keys = createApiKeyRepository(store);
        const other = await keys.create({ tenantId: null, role: 'admin', name: 'second admin' });
        const viewer = await keys.create({ tenantId: null, role: 'viewer', name: 'dashboards' });
        const second = await resetKey(env);
        assert.match(
          second.said,
          new RegExp(
            `revoked the earlier platform admin keys ${[first.id, other.id].sort().join(', ')}: they no longer work`,
          ),
        );
        assert.equal(await keys.verify(first.token), null);
        assert.equal(await keys.verify(other.token), null);
        assert.equal(
          (await keys.verify(viewer.token))?.role,
          'viewer',
          'a platform viewer key keeps working',
        );
        assert.equal((await keys.verify(second.token))?.role, 'admin');
        assert.equal((await keys.verify(second.token))?.tenantId, null);
      } finally {
        await store.close();
      }
    },
  );

  test('a store it cannot reach is one line and exit 1', async () => {
    const { code, stdout, stderr } = await runVoxgate(['admin', 'reset-key'], {
      VOXGATE_DATABASE_URL: 'postgres://voxgate@127.0.0.1:1/voxgate',
    });
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /^voxgate: admin reset-key: cannot open the store: /);
    assert.equal(stderr.trim().split('\n').length, 1);
  });
});
