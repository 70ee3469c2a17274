import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const BASE = process.env.VOXGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function reachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: BASE, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const available = await reachable();
if (!available && process.env.CI)
  throw new Error(`PostgreSQL is required in CI and is not reachable at ${BASE}`);

describe(
  'voxgate --target=api against a real PostgreSQL',
  { skip: !available && 'PostgreSQL not reachable' },
  () => {
    const dbName = `voxgate_test_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: BASE });
    const adminKey = `vxg_ci${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;
    let vx: VoxgateProcess;

    before(async () => {
      await admin.connect();
      await admin.query(`CREATE DATABASE ${dbName}`);
      const url = new URL(BASE);
      url.pathname = `/${dbName}`;
      vx = await startVoxgate(['--target=api'], {
        VOXGATE_DATABASE_URL: url.toString(),
        VOXGATE_ADMIN_API_KEY: adminKey,
      });
    });
    after(async () => {
      await vx?.stop();
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.end();
    });

    test('runs only the api modules, on PostgreSQL, with migrations applied', async () => {
      const started = vx.logs.find((l) => l.msg === 'voxgate started');
      assert.ok(!(started?.modules as string[]).includes('sip-gateway'));
      assert.equal(vx.logs.find((l) => l.msg === 'store ready')?.kind, 'postgres');
      assert.equal((await fetch(`${vx.httpUrl}/readyz`)).status, 200);
      const url = new URL(BASE);
      url.pathname = `/${dbName}`;
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM schema_migrations');
        assert.ok(Number(rows[0]?.n) >= 1);
        const keys = await client.query<{ secret_hash: string }>('SELECT secret_hash FROM api_keys');
        assert.equal(keys.rowCount, 1);
        assert.ok(!adminKey.includes(keys.rows[0]!.secret_hash), 'only a hash is stored');
      } finally {
        await client.end();
      }
    });

    test('the admin key from VOXGATE_ADMIN_API_KEY authenticates and is not printed', async () => {
      assert.ok(!vx.logs.some((l) => JSON.stringify(l).includes(adminKey)));
      const me = await fetch(`${vx.httpUrl}/v1/whoami`, { headers: { authorization: `Bearer ${adminKey}` } });
      assert.equal(me.status, 200);
    });
  },
);
