// The platform on Redis Sentinel (test/helpers/redis-topologies.ts: a master, a replica, 3 sentinels) through
// `VOXGATE_REDIS_URL=redis+sentinel://…/voxgate`: phones register through the gateway, one after another, while
// `SENTINEL FAILOVER` hands the master over. Every REGISTER is answered 200, and every binding the gateway
// acknowledged is on the new master once Sentinel has turned the old one into a replica (which discards what was
// written to it after the promotion): before the failover gate (src/store/shared-state/sentinel-failover-gate.ts)
// the gateway kept writing to the old master for 10-15 s and the phones that registered then were unreachable.
// Skips without redis-server, except in CI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRedisSharedState } from '../../src/store/shared-state/index.js';
import {
  command,
  redisTopologiesUnavailable,
  startRedisSentinel,
  type RedisSentinelTopology,
} from '../helpers/redis-topologies.js';
import { SipPhone } from '../helpers/sip-phone.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const unavailable = redisTopologiesUnavailable();
const KEY = `vxg_sent${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;
const DOMAIN = 'sentinel.example';
const USERS = 40;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(50)) {
    if (await Promise.resolve(check()).catch(() => false)) return;
    assert.ok(Date.now() < deadline, `timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

describe('platform on Redis Sentinel: SENTINEL FAILOVER while phones register', { skip: unavailable }, () => {
  let sentinel: RedisSentinelTopology | undefined;
  let vx: VoxgateProcess | undefined;
  before(async () => {
    sentinel = await startRedisSentinel({ downAfterMs: 1000 });
    vx = await startVoxgate(
      ['--target=all'],
      {
        VOXGATE_REDIS_URL: sentinel.url,
        VOXGATE_ADMIN_API_KEY: KEY,
        VOXGATE_GATEWAY_MEDIA_RELAYS: 'off',
        VOXGATE_SIP_ADVERTISED_ADDRESS: '127.0.0.1',
      },
      { startTimeoutMs: 90_000 },
    );
  });
  after(async () => {
    await vx?.stop();
    await sentinel?.stop();
  });

  test(
    'every REGISTER answered 200; every acknowledged binding on the new master',
    { timeout: 100_000 },
    async (t) => {
      const s = sentinel!;
      const gw = vx!;
      const api = async (path: string, body: unknown) => {
        const res = await fetch(`${gw.httpUrl}/v1${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        assert.equal(res.status, 201, await res.clone().text());
        return (await res.json()) as { id: string };
      };
      const tenantId = (await api('/tenants', { name: 'Sentinel', sipDomain: DOMAIN })).id;
      const phones: SipPhone[] = [];
      for (let i = 0; i < USERS; i++) {
        await api(`/tenants/${tenantId}/users`, { username: `u${i}`, password: `password-${i}` });
        phones.push(await SipPhone.open(`u${i}`, `password-${i}`, gw.sipUdpPort!, DOMAIN));
      }
      const answered: { user: number; status: number; at: number }[] = [];
      try {
        // A quarter registers before the failover, the rest one every 100 ms from the command on: through the
        // promotion (about 0.2 s after it), the switch (about 1.2 s) and after.
        for (let i = 0; i < USERS / 4; i++)
          answered.push({ user: i, status: (await phones[i]!.register()).status, at: Date.now() });
        const startedAt = Date.now();
        await command(s.sentinels[0]!.port, 'SENTINEL', 'FAILOVER', s.masterName);
        for (let i = USERS / 4; i < USERS; i++) {
          answered.push({
            user: i,
            status: (await phones[i]!.register()).status,
            at: Date.now() - startedAt,
          });
          await sleep(100);
        }
        assert.deepEqual(
          answered.filter((a) => a.status !== 200),
          [],
          'REGISTERs not answered 200',
        );
        // The old master a replica of the new one, in sync: what it took after the promotion is gone now.
        await until(
          'the new master to be announced',
          async () => (await s.currentMasterPort()) === s.replica.port,
        );
        await until('the old master to be a replica in sync', async () => {
          const info = String(await command(s.master.port, 'INFO', 'replication'));
          return info.includes('role:slave') && info.includes('master_link_status:up');
        });
        const fresh = await createRedisSharedState({ url: s.url });
        try {
          const lost: number[] = [];
          for (const a of answered)
            if ((await fresh.registrations.list(`sip:u${a.user}@${DOMAIN}`)).length === 0) lost.push(a.user);
          t.diagnostic(
            `${answered.length} REGISTERs answered 200, ${USERS * 0.75} of them from SENTINEL FAILOVER to ` +
              `${answered.at(-1)?.at} ms after it; bindings lost: ${lost.length}`,
          );
          assert.deepEqual(lost, [], 'bindings acknowledged with a 200 and not on the new master');
        } finally {
          await fresh.close();
        }
        // The log says what happened: the announcement, then the operations going on on the new master.
        assert.ok(
          gw.logs.some(
            (l) => l.msg === 'Redis failover announced: shared-state operations wait for the new master',
          ),
        );
        const resumed = gw.logs.find(
          (l) => l.msg === 'shared-state operations go on after the Redis failover',
        );
        assert.equal(resumed?.reason, 'switched', JSON.stringify(resumed));
        assert.equal(resumed?.newMaster, `127.0.0.1:${s.replica.port}`);
        t.diagnostic(`operations held ${String(resumed?.heldMs)} ms`);
        // And the platform sees them: the API lists the tenant's registrations through its own client.
        const res = await fetch(`${gw.httpUrl}/v1/tenants/${tenantId}/registrations`, {
          headers: { authorization: `Bearer ${KEY}` },
        });
        assert.equal(res.status, 200);
        const listed = new Set(((await res.json()) as { items: { aor: string }[] }).items.map((r) => r.aor));
        assert.deepEqual(
          answered.map((a) => `sip:u${a.user}@${DOMAIN}`).filter((aor) => !listed.has(aor)),
          [],
          'registrations the API does not list',
        );
      } finally {
        for (const p of phones) p.close();
      }
    },
  );
});
