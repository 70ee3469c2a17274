// The shared-state contract, run by test/store/shared-state.contract.test.ts (memory, single Redis) and
// test/store/shared-state.topologies.test.ts (Redis Cluster and Sentinel started for the test): every
// implementation and every Redis topology must pass the same tests.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import {
  createRedisSharedState,
  parseRedisUrl,
  type Binding,
  type SharedState,
} from '../../src/store/shared-state/index.js';

export interface SharedStateImplementation {
  name: string;
  skip: string | false;
  /** A fresh state and a cleanup function (Redis: keys under a random prefix, deleted afterwards). */
  make: () => Promise<{ state: SharedState; cleanup: () => Promise<void> }>;
}

/** A plain ioredis client for any voxgate Redis URL (standalone, Cluster, Sentinel), for checks and cleanup. */
export function adminClient(url: string): Redis | Cluster {
  const target = parseRedisUrl(url);
  const client =
    target.mode === 'standalone'
      ? new Redis(target.url)
      : target.mode === 'cluster'
        ? new Cluster(target.nodes)
        : new Redis({ sentinels: target.sentinels, name: target.masterName });
  client.on('error', () => undefined);
  return client;
}

/** Deletes every key under `prefix` (on each master of a Cluster; one key per DEL: no cross-slot command). */
export async function deleteKeys(admin: Redis | Cluster, prefix: string): Promise<void> {
  const nodes = admin instanceof Cluster ? admin.nodes('master') : [admin];
  for (const node of nodes) {
    const keys = await node.keys(`${prefix}*`);
    for (const key of keys) await admin.del(key);
  }
}

export function redisImplementation(
  name: string,
  url: string,
  skip: string | false,
): SharedStateImplementation {
  return {
    name,
    skip,
    make: async () => {
      const prefix = `voxgate-test-${randomBytes(4).toString('hex')}:`;
      const state = await createRedisSharedState({ url, keyPrefix: prefix, streamMaxLen: 50 });
      return {
        state,
        cleanup: async () => {
          await state.close();
          const admin = adminClient(url);
          try {
            await deleteKeys(admin, prefix);
          } finally {
            admin.disconnect();
          }
        },
      };
    },
  };
}

export function binding(contact: string, ttlMs: number, extra: Partial<Binding> = {}): Binding {
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
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

export function sharedStateContract(impl: SharedStateImplementation): void {
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
        // A refresh from a new flow and boot cycle (another Call-ID, instance) replaces every one of them.
        await s.registrations.put(
          aor,
          binding('sip:alice@198.51.100.7:5060;transport=tcp', 60_000, {
            transport: 'tcp',
            flowId: 'tcp-2',
            callId: 'reg-2',
            instanceId: '<urn:uuid:2>',
            cseq: 7,
          }),
        );
        const refreshed = (await s.registrations.list(aor)).find((b) => b.transport === 'tcp');
        assert.deepEqual(
          [refreshed?.flowId, refreshed?.callId, refreshed?.instanceId, refreshed?.cseq],
          ['tcp-2', 'reg-2', '<urn:uuid:2>', 7],
        );
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
        // Long enough to be listed before it lapses, even on a busy machine and a Redis Cluster.
        await s.registrations.put(aor, binding('sip:bob@192.0.2.11', 1000));
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
        assert.deepEqual(
          (await s.calls.listByTenant('t1')).map((c) => c.callId),
          ['c2'],
        );
        assert.equal(await s.calls.remove('c3'), true);
        assert.equal(await s.calls.count('t2'), 0);
        assert.deepEqual(await s.calls.listByTenant('t2'), []);
        assert.equal(await s.calls.count('t3'), 0, 'a tenant never seen has none');
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
      'event streams: fields come back as published — non-ASCII, empty, 600 kB, and thousands in a row',
      withState(async (s) => {
        const odd = {
          from: '"Zoë Ünal 日本 👋" <sip:zoe@example.com>',
          empty: '',
          quote: 'a "b" \\ c\r\n\u0000',
          latin1: 'caf\u00e9 \u00ff',
        };
        const large = { body: 'é'.repeat(300_000) };
        // In rounds under the streams' cap here (50): entries nobody has read yet would be trimmed.
        const ids = [await s.events.publish('slab', odd), await s.events.publish('slab', large)];
        const read = await s.events.consume('slab', 'g', 'c', { count: 10 });
        for (let i = 0; i < 3000; i++) {
          ids.push(await s.events.publish('slab', { i: String(i), pad: 'x'.repeat(i % 500) }));
          if (i % 40 === 39 || i === 2999)
            read.push(...(await s.events.consume('slab', 'g', 'c', { count: 50 })));
        }
        assert.equal(new Set(ids).size, ids.length, 'ids are distinct');
        assert.equal(read.length, ids.length);
        assert.deepEqual(
          read.map((e) => e.id),
          ids,
          'in publish order, with the ids publish returned',
        );
        assert.deepEqual(read[0]!.fields, odd);
        assert.deepEqual(read[1]!.fields, large);
        for (let i = 0; i < 3000; i++)
          assert.deepEqual(read[i + 2]!.fields, { i: String(i), pad: 'x'.repeat(i % 500) });
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
      'trunk status of many trunks at once (on a Cluster their keys are in different slots and nodes)',
      withState(async (s) => {
        const ids = Array.from({ length: 12 }, (_, i) => `trunk-many-${i}`);
        for (const [i, id] of ids.entries())
          if (i % 2 === 0)
            await s.trunkStatus.report(id, { gateway: 'gw-1:5060', reachable: true, checkedAt: i }, 60);
        const all = await s.trunkStatus.list(ids);
        assert.deepEqual(
          [...all.entries()].map(([id, reports]) => [id, reports.map((r) => r.checkedAt)]).sort(),
          ids
            .filter((_, i) => i % 2 === 0)
            .map((id) => [id, [Number(id.split('-').at(-1))]])
            .sort(),
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

/** Redis only: bindings left by a version without the per-replica index are found by SCAN and indexed. */
export function bindingsBeforeIndexContract(name: string, url: string, skip: string | false): void {
  describe(
    `shared state in ${name}: bindings written before the replica index`,
    {
      skip,
    },
    () => {
      test('listByGateway finds them by SCAN and indexes them', async () => {
        const prefix = `voxgate-test-${randomBytes(4).toString('hex')}:`;
        const state = await createRedisSharedState({ url: url, keyPrefix: prefix });
        const admin = adminClient(url);
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
          await deleteKeys(admin, prefix);
          admin.disconnect();
        }
      });
    },
  );
}
