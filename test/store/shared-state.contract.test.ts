import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  createMemorySharedState,
  createRedisSharedState,
  createSharedState,
  parseRedisUrl,
  SharedStateError,
  type Binding,
  type SharedState,
} from '../../src/store/shared-state/index.js';

const REDIS_URL = process.env.VOXGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function redisAvailable(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch (err) {
    if (process.env.CI)
      throw new Error(`Redis is required in CI and is not reachable at ${REDIS_URL}`, { cause: err });
    return false;
  } finally {
    probe.disconnect();
  }
}

const redisUp = await redisAvailable();

/** A fresh state per test; Redis keys live under a random prefix that is deleted afterwards. */
const implementations: {
  name: string;
  skip: string | false;
  make: () => Promise<{ state: SharedState; cleanup: () => Promise<void> }>;
}[] = [
  {
    name: 'memory',
    skip: false,
    make: async () => {
      const state = createMemorySharedState({ streamMaxLen: 50 });
      return { state, cleanup: () => state.close() };
    },
  },
  {
    name: 'Redis',
    skip: redisUp ? false : `Redis not reachable at ${REDIS_URL}`,
    make: async () => {
      const prefix = `voxgate-test-${randomBytes(4).toString('hex')}:`;
      const state = await createRedisSharedState({ url: REDIS_URL, keyPrefix: prefix, streamMaxLen: 50 });
      return {
        state,
        cleanup: async () => {
          await state.close();
          const admin = new Redis(REDIS_URL);
          const keys = await admin.keys(`${prefix}*`);
          if (keys.length > 0) await admin.del(...keys);
          admin.disconnect();
        },
      };
    },
  },
];

function binding(contact: string, ttlMs: number, extra: Partial<Binding> = {}): Binding {
  return {
    contact,
    expiresAt: Date.now() + ttlMs,
    source: { address: '192.0.2.10', port: 5062 },
    transport: 'udp',
    callId: 'reg-1',
    cseq: 1,
    tenantId: 't1',
    ...extra,
  };
}

async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

for (const impl of implementations) {
  describe(`shared state contract: ${impl.name}`, { skip: impl.skip }, () => {
    const withState = (fn: (s: SharedState) => Promise<void>) => async () => {
      const { state, cleanup } = await impl.make();
      try {
        await fn(state);
      } finally {
        await cleanup();
      }
    };

    test(
      'registrations: several contacts per AOR, refresh, removal',
      withState(async (s) => {
        const aor = 'sip:alice@acme.example';
        await s.registrations.put(aor, binding('sip:alice@192.0.2.10:5062', 60_000));
        await s.registrations.put(
          aor,
          binding('sip:alice@198.51.100.7:5060;transport=tcp', 60_000, { transport: 'tcp', flowId: 'tcp-1' }),
        );
        await s.registrations.put(aor, binding('sip:alice@192.0.2.10:5062', 120_000, { cseq: 2 }));
        const list = await s.registrations.list(aor);
        assert.equal(list.length, 2);
        assert.equal(list.find((b) => b.contact === 'sip:alice@192.0.2.10:5062')?.cseq, 2);
        assert.equal(list.find((b) => b.transport === 'tcp')?.flowId, 'tcp-1');
        assert.deepEqual(
          (await s.registrations.listByTenant('t1')).map((e) => e.aor),
          [aor, aor],
        );
        assert.deepEqual(await s.registrations.listByTenant('t2'), []);
        assert.equal(await s.registrations.remove(aor, 'sip:alice@192.0.2.10:5062'), true);
        assert.equal(await s.registrations.remove(aor, 'sip:alice@192.0.2.10:5062'), false);
        assert.equal((await s.registrations.list(aor)).length, 1);
        assert.equal(await s.registrations.removeAll(aor), 1);
        assert.deepEqual(await s.registrations.list(aor), []);
      }),
    );

    test(
      'registrations expire',
      withState(async (s) => {
        const aor = 'sip:bob@acme.example';
        await s.registrations.put(aor, binding('sip:bob@192.0.2.11', 40));
        await s.registrations.put(aor, binding('sip:bob@192.0.2.12', 60_000));
        assert.equal((await s.registrations.list(aor)).length, 2);
        await waitUntil(
          async () => (await s.registrations.list(aor)).length === 1,
          'the short binding to expire',
        );
        assert.equal((await s.registrations.list(aor))[0]?.contact, 'sip:bob@192.0.2.12');
      }),
    );

    test(
      'registrations by gateway replica: what a restarted replica keeps alive',
      withState(async (s) => {
        const gw1 = '192.0.2.1:5060';
        const gw2 = '192.0.2.2:5060';
        await s.registrations.put(
          'sip:alice@acme.example',
          binding('sip:alice@192.0.2.10:5062', 60_000, { gateway: gw1, reach: 'contact' }),
        );
        await s.registrations.put(
          'sip:bob@acme.example',
          binding('sip:bob@192.0.2.11', 60_000, { gateway: gw1 }),
        );
        await s.registrations.put(
          'sip:bob@acme.example',
          binding('sip:bob@192.0.2.12', 60_000, { gateway: gw2 }),
        );
        await s.registrations.put(
          'sip:carol@acme.example',
          binding('sip:carol@192.0.2.13', 40, { gateway: gw1 }),
        );
        await s.registrations.put('sip:dave@acme.example', binding('sip:dave@192.0.2.14', 60_000));
        await new Promise((r) => setTimeout(r, 60));
        const mine = (await s.registrations.listByGateway(gw1))
          .map((e) => `${e.aor} ${e.binding.contact}`)
          .sort();
        assert.deepEqual(mine, [
          'sip:alice@acme.example sip:alice@192.0.2.10:5062',
          'sip:bob@acme.example sip:bob@192.0.2.11',
        ]);
        assert.equal(
          (await s.registrations.listByGateway(gw1)).find((e) => e.aor === 'sip:alice@acme.example')?.binding
            .reach,
          'contact',
        );
        // Registered again through the other replica: no longer the first one's.
        await s.registrations.put(
          'sip:alice@acme.example',
          binding('sip:alice@192.0.2.10:5062', 60_000, { gateway: gw2 }),
        );
        assert.deepEqual(
          (await s.registrations.listByGateway(gw1)).map((e) => e.aor),
          ['sip:bob@acme.example'],
        );
        assert.equal((await s.registrations.listByGateway(gw2)).length, 2);
        assert.deepEqual(await s.registrations.listByGateway('192.0.2.3:5060'), []);
      }),
    );

    test(
      'live calls by tenant',
      withState(async (s) => {
        const call = {
          callId: 'c1',
          tenantId: 't1',
          from: 'sip:a@x',
          to: 'sip:b@x',
          state: 'setup' as const,
          startedAt: Date.now(),
        };
        await s.calls.put(call);
        await s.calls.put({ ...call, callId: 'c2' });
        await s.calls.put({ ...call, callId: 'c3', tenantId: 't2' });
        await s.calls.put({ ...call, state: 'answered', answeredAt: 1 });
        assert.equal((await s.calls.get('c1'))?.state, 'answered');
        assert.equal(await s.calls.count('t1'), 2);
        assert.deepEqual(
          (await s.calls.listByTenant('t2')).map((c) => c.callId),
          ['c3'],
        );
        assert.equal(await s.calls.remove('c1'), true);
        assert.equal(await s.calls.remove('c1'), false);
        assert.equal(await s.calls.get('c1'), undefined);
        assert.equal(await s.calls.count('t1'), 1);
      }),
    );

    test(
      'counters are atomic under concurrency and expire',
      withState(async (s) => {
        const results = await Promise.all(
          Array.from({ length: 100 }, () => s.counters.incr('calls:t1', 1, 60)),
        );
        assert.equal(new Set(results).size, 100, 'every increment saw a distinct value');
        assert.equal(await s.counters.get('calls:t1'), 100);
        assert.equal(await s.counters.incr('calls:t1', -1, 60), 99);
        assert.equal(await s.counters.get('nothing'), 0);
        assert.equal(await s.counters.hit('cps:t1', 60), 1);
        assert.equal(await s.counters.hit('cps:t1', 60), 2);
        await s.counters.incr('short', 5, 1);
        await waitUntil(async () => (await s.counters.get('short')) === 0, 'the counter to expire');
      }),
    );

    test(
      'event streams: a group shares work, acked entries never return, unacked ones are reclaimed',
      withState(async (s) => {
        const published = [];
        for (let i = 0; i < 6; i++)
          published.push(await s.events.publish('call-events', { callId: `c${i}`, type: 'ended' }));
        assert.equal(new Set(published).size, 6);
        const a = await s.events.consume('call-events', 'cdr', 'worker-a', { count: 4 });
        const b = await s.events.consume('call-events', 'cdr', 'worker-b', { count: 4 });
        assert.equal(a.length, 4);
        assert.equal(b.length, 2);
        assert.deepEqual(
          [...a, ...b].map((e) => e.fields.callId),
          ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'],
        );
        assert.equal(
          await s.events.ack(
            'call-events',
            'cdr',
            a.map((e) => e.id),
          ),
          4,
        );
        assert.equal(
          await s.events.ack(
            'call-events',
            'cdr',
            a.map((e) => e.id),
          ),
          0,
          'acking twice is a no-op',
        );
        assert.deepEqual(await s.events.consume('call-events', 'cdr', 'worker-a'), [], 'nothing new');
        // worker-b "dies" without acking: its entries are reclaimed by worker-c, the acked ones are not.
        await new Promise((r) => setTimeout(r, 30));
        const reclaimed = await s.events.claimStale('call-events', 'cdr', 'worker-c', 20);
        assert.deepEqual(
          reclaimed.map((e) => e.fields.callId),
          ['c4', 'c5'],
        );
        assert.equal(
          await s.events.ack(
            'call-events',
            'cdr',
            reclaimed.map((e) => e.id),
          ),
          2,
        );
        assert.deepEqual(await s.events.claimStale('call-events', 'cdr', 'worker-c', 0), []);
        // Another group sees every entry from the start.
        assert.equal((await s.events.consume('call-events', 'audit', 'x', { count: 100 })).length, 6);
      }),
    );

    test(
      'a dropped consumer group is gone with its pending entries; read again, it starts over',
      withState(async (s) => {
        await s.events.publish('changes', { n: '1' });
        assert.equal((await s.events.consume('changes', 'gateway:a', 'gateway:a')).length, 1);
        assert.equal(await s.events.dropGroup('changes', 'gateway:a'), true);
        assert.equal(await s.events.dropGroup('changes', 'gateway:a'), false);
        assert.deepEqual(await s.events.claimStale('changes', 'gateway:a', 'gateway:a', 0), []);
        assert.equal((await s.events.consume('changes', 'gateway:a', 'gateway:a')).length, 1);
      }),
    );

    test(
      'a blocking consume wakes on publish',
      withState(async (s) => {
        const waiting = s.events.consume('invalidate', 'gw', 'gw-1', { blockMs: 5000 });
        await new Promise((r) => setTimeout(r, 50));
        await s.events.publish('invalidate', { entity: 'user', id: 'u1' });
        const got = await waiting;
        assert.deepEqual(
          got.map((e) => e.fields),
          [{ entity: 'user', id: 'u1' }],
        );
      }),
    );

    test(
      'streams are capped',
      withState(async (s) => {
        for (let i = 0; i < 300; i++) await s.events.publish('capped', { i: String(i) });
        const all = await s.events.consume('capped', 'g', 'c', { count: 1000 });
        assert.ok(all.length < 300 && all.length >= 50, `kept ${all.length}`);
        assert.equal(all.at(-1)?.fields.i, '299', 'the newest entries are kept');
      }),
    );

    test(
      'trunk status: one report per gateway replica, replaced by the next, gone after its TTL',
      withState(async (s) => {
        const id = `trunk-${Math.random().toString(36).slice(2)}`;
        await s.trunkStatus.report(id, { gateway: 'gw-1:5060', reachable: true, checkedAt: 1 }, 60);
        await s.trunkStatus.report(
          id,
          {
            gateway: 'gw-2:5060',
            reachable: false,
            checkedAt: 2,
            registration: { state: 'failed', code: 403 },
          },
          1,
        );
        await s.trunkStatus.report(id, { gateway: 'gw-1:5060', reachable: false, checkedAt: 3 }, 60);
        const now = (await s.trunkStatus.list([id, 'unknown-trunk'])).get(id) ?? [];
        assert.deepEqual(now.map((r) => [r.gateway, r.reachable, r.checkedAt, r.registration?.code]).sort(), [
          ['gw-1:5060', false, 3, undefined],
          ['gw-2:5060', false, 2, 403],
        ]);
        assert.equal((await s.trunkStatus.list(['unknown-trunk'])).size, 0);
        await new Promise((r) => setTimeout(r, 1100));
        assert.deepEqual(
          ((await s.trunkStatus.list([id])).get(id) ?? []).map((r) => r.gateway),
          ['gw-1:5060'],
          "gw-2's report expired",
        );
      }),
    );

    test(
      'ping answers; nothing works after close',
      withState(async (s) => {
        await s.ping();
      }),
    );
  });
}

describe(
  'shared state in Redis: bindings written before the replica index',
  {
    skip: redisUp ? false : `Redis not reachable at ${REDIS_URL}`,
  },
  () => {
    test('listByGateway finds them by SCAN and indexes them', async () => {
      const prefix = `voxgate-test-${randomBytes(4).toString('hex')}:`;
      const state = await createRedisSharedState({ url: REDIS_URL, keyPrefix: prefix });
      const admin = new Redis(REDIS_URL);
      try {
        const gw = '192.0.2.1:5060';
        await state.registrations.put(
          'sip:alice@acme.example',
          binding('sip:alice@192.0.2.10', 60_000, { gateway: gw }),
        );
        await state.registrations.put(
          'sip:bob@acme.example',
          binding('sip:bob@192.0.2.11', 60_000, { gateway: '192.0.2.2:5060' }),
        );
        // As an earlier version left them: no index of the replica's AORs.
        await admin.del(`${prefix}reg-gateway:{${gw}}`);
        assert.deepEqual(
          (await state.registrations.listByGateway(gw)).map((e) => e.aor),
          ['sip:alice@acme.example'],
        );
        assert.deepEqual(await admin.smembers(`${prefix}reg-gateway:{${gw}}`), ['sip:alice@acme.example']);
      } finally {
        await state.close();
        const keys = await admin.keys(`${prefix}*`);
        if (keys.length > 0) await admin.del(...keys);
        admin.disconnect();
      }
    });
  },
);

describe('shared state: selection and Redis URLs', () => {
  test('no URL = memory', async () => {
    const s = await createSharedState({});
    assert.equal(s.kind, 'memory');
    await s.close();
    await assert.rejects(s.ping(), SharedStateError);
  });

  test('URL forms: standalone, cluster, sentinel', () => {
    assert.equal(parseRedisUrl('redis://:pw@cache:6380/2').mode, 'standalone');
    assert.deepEqual(parseRedisUrl('redis+cluster://a:7000,b:7001,[::1]:7002'), {
      mode: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      username: undefined,
      password: undefined,
      tls: false,
      display: 'redis+cluster://a:7000,b:7001,[::1]:7002',
    });
    const sentinel = parseRedisUrl('redis+sentinel://user:secret@s1:26379,s2/mymaster');
    assert.equal(sentinel.mode, 'sentinel');
    assert.ok(
      sentinel.mode === 'sentinel' && sentinel.masterName === 'mymaster' && sentinel.password === 'secret',
    );
    assert.ok(!sentinel.display.includes('secret'));
  });

  test('bad URLs are one-line errors without the password', () => {
    for (const [url, why] of [
      ['redis+sentinel://s1:26379', /needs the master name/],
      ['redis://a:1,b:2', /names one server/],
      ['http://x', /expected redis:\/\//],
      ['redis://:pw@host:99999', /is not host\[:port\]/],
    ] as const) {
      assert.throws(
        () => parseRedisUrl(url),
        (err: unknown) => {
          assert.ok(err instanceof SharedStateError);
          assert.equal(err.code, 'SHARED_STATE_INVALID_URL');
          assert.match(err.message, why);
          assert.ok(!err.message.includes('pw@'));
          return true;
        },
      );
    }
  });

  test('an unreachable Redis is a SharedStateError naming it', async () => {
    await assert.rejects(createRedisSharedState({ url: 'redis://:secret@127.0.0.1:1' }), (err: unknown) => {
      assert.ok(err instanceof SharedStateError);
      assert.equal(err.code, 'SHARED_STATE_UNREACHABLE');
      assert.match(err.message, /^cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/);
      assert.ok(!err.message.includes('secret'));
      return true;
    });
  });
});
