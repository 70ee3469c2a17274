// Redis (shared state: live calls, registrations, rate limits) goes away under a running API: requests that
// need it are answered 503 problem+json with Retry-After, not 500, and are served again once it is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { openDatabase } from '../../src/store/index.js';
import { createRedisSharedState } from '../../src/store/shared-state/index.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { startApiApp } from '../helpers/api-app.js';

const REDIS = new URL(process.env.VOXGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');

test('Redis unavailable: 503 problem with Retry-After for live calls, then 200 once it is back', async (t) => {
  const proxy = await startTcpProxy(REDIS.hostname, Number(REDIS.port || 6379));
  let state;
  try {
    state = await createRedisSharedState({
      url: `redis://127.0.0.1:${proxy.port}`,
      keyPrefix: `outage-${randomBytes(4).toString('hex')}:`,
    });
  } catch (err) {
    await proxy.kill();
    if (process.env.CI) throw err;
    t.skip('Redis not reachable');
    return;
  }
  const db = await openDatabase({
    dataDir: 'memory://',
    pgliteTemplate: join(import.meta.dirname, '..', '..', 'dist', 'pglite-template.tar.gz'),
  });
  const api = await startApiApp(db, { state });
  try {
    const tenant = await api.tenant('Outage');
    const key = await api.key(null, 'admin');
    const live = `/v1/tenants/${tenant}/calls/live`;
    assert.equal((await api.call(key, 'GET', live)).statusCode, 200);
    await proxy.kill();
    const during = await api.call(key, 'GET', live);
    assert.equal(during.statusCode, 503, during.body);
    assert.match(String(during.headers['content-type']), /^application\/problem\+json/);
    assert.equal((during.json() as { type: string }).type, '/problems/store-unavailable');
    assert.match(String(during.headers['retry-after']), /^[1-9][0-9]*$/);
    await proxy.revive();
    let after = await api.call(key, 'GET', live);
    for (let i = 0; i < 100 && after.statusCode !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await api.call(key, 'GET', live);
    }
    assert.equal(after.statusCode, 200);
  } finally {
    await api.close();
    await db.close();
    await proxy.kill();
  }
});
