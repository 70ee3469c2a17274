// The shared-state contract against a real Redis Cluster (3 masters + 3 replicas) and a real Sentinel setup
// (1 master, 1 replica, 3 sentinels), both started here on free loopback ports (test/helpers/redis-topologies.ts),
// then a master of each killed (SIGKILL) under a load of registrations, live calls and call events: the replica
// takes over, the client finds it, writes succeed again, and no acknowledged write is lost. The outage the client
// saw is printed as a diagnostic (docs/deployment.md records the figures measured here). Skips when redis-server
// is not installed, except in CI.
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRedisSharedState, type SharedState } from '../../src/store/shared-state/index.js';
import {
  command,
  redisTopologiesUnavailable,
  startRedisCluster,
  startRedisSentinel,
  type RedisClusterTopology,
  type RedisSentinelTopology,
} from '../helpers/redis-topologies.js';
import {
  binding,
  bindingsBeforeIndexContract,
  redisImplementation,
  sharedStateContract,
} from '../helpers/shared-state-contract.js';

const unavailable = redisTopologiesUnavailable();
let cluster: RedisClusterTopology | undefined;
let sentinel: RedisSentinelTopology | undefined;
if (!unavailable) {
  // Short timeouts keep the failovers quick; the variables set others (docs/deployment.md has figures of both).
  const nodeTimeoutMs = Number(process.env.VOXGATE_TEST_CLUSTER_NODE_TIMEOUT_MS ?? 2000);
  const downAfterMs = Number(process.env.VOXGATE_TEST_SENTINEL_DOWN_AFTER_MS ?? 1000);
  const started = await Promise.allSettled([
    startRedisCluster({ nodeTimeoutMs }),
    startRedisSentinel({ downAfterMs }),
  ]);
  cluster = started[0].status === 'fulfilled' ? started[0].value : undefined;
  sentinel = started[1].status === 'fulfilled' ? started[1].value : undefined;
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all([cluster?.stop(), sentinel?.stop()]);
    throw failed.reason;
  }
}
after(async () => {
  await Promise.all([cluster?.stop(), sentinel?.stop()]);
});

const clusterUrl = cluster?.url ?? 'redis+cluster://unused:1';
const sentinelUrl = sentinel?.url ?? 'redis+sentinel://unused:1/voxgate';
sharedStateContract(redisImplementation('Redis Cluster', clusterUrl, unavailable));
bindingsBeforeIndexContract('Redis Cluster', clusterUrl, unavailable);
sharedStateContract(redisImplementation('Redis Sentinel', sentinelUrl, unavailable));
bindingsBeforeIndexContract('Redis Sentinel', sentinelUrl, unavailable);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref()),
  ]);
}

interface Failure {
  at: number;
  ms: number;
  op: string;
  key: string;
  error: string;
}

/**
 * Writes as the gateway does (a binding, a live call, a call event per round, one after the other) while a
 * consumer reads the events in a group and acks them, until stopped. Each acknowledged write is remembered.
 */
function startLoad(state: SharedState) {
  const aors: string[] = [];
  const calls: string[] = [];
  const events = new Set<string>();
  /** When each acknowledged event was published (epoch ms), for the diagnostic of one never delivered. */
  const publishedAt = new Map<string, number>();
  const received = new Set<string>();
  const failures: Failure[] = [];
  const consumerErrors: number[] = [];
  let ops = 0;
  let maxMs = 0;
  /** Operations that failed or took longer than 100 ms: [start, end]. */
  const disturbed: [number, number][] = [];
  let running = true;
  let drainDeadline = Infinity;
  const attempt = async (op: string, key: string, fn: () => Promise<unknown>): Promise<boolean> => {
    const start = Date.now();
    try {
      await withTimeout(fn(), 15_000);
      return true;
    } catch (err) {
      failures.push({
        at: start,
        ms: Date.now() - start,
        op,
        key,
        error: (err as Error).message.slice(0, 120),
      });
      return false;
    } finally {
      const end = Date.now();
      ops++;
      maxMs = Math.max(maxMs, end - start);
      if (end - start > 100 || failures.at(-1)?.at === start) disturbed.push([start, end]);
    }
  };
  const writer = (async () => {
    for (let i = 0; running; i++) {
      const aor = `sip:user${i}@acme.example`;
      if (
        await attempt('registrations.put', aor, () =>
          state.registrations.put(aor, binding(`sip:u${i}@192.0.2.1`, 300_000)),
        )
      )
        aors.push(aor);
      const callId = `call-${i}`;
      if (
        await attempt('calls.put', callId, () =>
          state.calls.put({
            callId,
            tenantId: 't1',
            from: aor,
            to: 'sip:x@y',
            state: 'setup',
            startedAt: Date.now(),
          }),
        )
      )
        calls.push(callId);
      if (
        await attempt('events.publish', 'call-events', () =>
          state.events.publish('call-events', { n: String(i) }),
        )
      ) {
        events.add(String(i));
        publishedAt.set(String(i), Date.now());
      }
      await sleep(5);
    }
  })();
  const consumer = (async () => {
    while (running || [...events].some((n) => !received.has(n))) {
      try {
        const stale = await withTimeout(
          state.events.claimStale('call-events', 'cdr', 'worker', 2000),
          15_000,
        );
        const got = await withTimeout(
          state.events.consume('call-events', 'cdr', 'worker', { count: 100, blockMs: 200 }),
          15_000,
        );
        const all = [...stale, ...got];
        for (const e of all) received.add(String(e.fields.n));
        if (all.length > 0)
          await state.events.ack(
            'call-events',
            'cdr',
            all.map((e) => e.id),
          );
      } catch {
        consumerErrors.push(Date.now());
        await sleep(50);
      }
      if (!running && Date.now() > drainDeadline) break;
    }
  })();
  return {
    aors,
    calls,
    events,
    publishedAt,
    received,
    failures,
    consumerErrors,
    stats: () => ({ ops, maxMs, disturbed }),
    /** Stops the writer, then lets the consumer catch up (30 s at most); resolves to how long that took. */
    async stop(): Promise<number> {
      running = false;
      await writer;
      const stoppedAt = Date.now();
      drainDeadline = stoppedAt + 30_000;
      await consumer;
      return Date.now() - stoppedAt;
    },
  };
}

/** Runs the load, kills a master, waits for the takeover and for writes to succeed again, checks nothing was lost. */
async function failover(
  t: TestContext,
  what: string,
  url: string,
  timeoutMs: number,
  /** What starts the failover, as the diagnostics say it: 'the kill', 'SENTINEL FAILOVER'… */
  event: string,
  kill: () => Promise<void>,
  promoted: () => Promise<boolean>,
) {
  const prefix = `voxgate-failover-${randomBytes(4).toString('hex')}:`;
  const state = await createRedisSharedState({ url, keyPrefix: prefix });
  try {
    // The group exists before the first event, as the worker's does.
    await state.events.consume('call-events', 'cdr', 'worker');
    const load = startLoad(state);
    await sleep(500);
    const killedAt = Date.now();
    await kill();
    let promotedAt = 0;
    for (const deadline = Date.now() + 30_000 + timeoutMs; Date.now() < deadline; await sleep(50)) {
      if (!promotedAt && (await promoted().catch(() => false))) promotedAt = Date.now();
      // Back to normal: promoted, and a second of writes with no failure.
      const lastFailure = Math.max(0, ...load.failures.map((f) => f.at + f.ms));
      if (promotedAt && Date.now() - Math.max(lastFailure, promotedAt) > 1000) break;
    }
    assert.ok(promotedAt, `${what}: the replica was not promoted within ${30 + timeoutMs / 1000} s`);
    const caughtUpMs = await load.stop();
    const { ops, maxMs, disturbed } = load.stats();
    const trouble =
      disturbed.length === 0
        ? 'none'
        : `from ${Math.min(...disturbed.map(([start]) => start)) - killedAt} to ` +
          `${Math.max(...disturbed.map(([, end]) => end)) - killedAt} ms after ${event}`;
    const failures = load.failures;
    const first = failures[0];
    const last = failures.at(-1);
    const outage = first && last ? last.at + last.ms - first.at : 0;
    t.diagnostic(
      `${what}: replica promoted ${promotedAt - killedAt} ms after ${event}; ${failures.length} of ${ops} operations ` +
        `failed, from ${first ? first.at - killedAt : '-'} ms to ${last ? last.at + last.ms - killedAt : '-'} ms ` +
        `after ${event} (failed-operation window ${outage} ms); slowest operation ${maxMs} ms; operations failed ` +
        `or slower than 100 ms: ${trouble}; consumer errors ` +
        `${load.consumerErrors.length}; the consumer caught up ${caughtUpMs} ms after the load stopped; first error: ` +
        `${first?.error ?? 'none'}`,
    );
    // Writes succeed after the failover, through the same client.
    const after = `sip:after@acme.example`;
    await state.registrations.put(after, binding('sip:after@192.0.2.9', 60_000));
    assert.equal((await state.registrations.list(after)).length, 1);
    // Every acknowledged write is still there, read through a new client, which asks the topology afresh where
    // the master is: the load's client could still be talking to the replaced master (Sentinel leaves it a
    // writable master for about 10 s after the promotion, then turns it into a replica and its data is gone).
    // Bindings, live calls, call events (in the stream, and delivered to the group).
    const fresh = await createRedisSharedState({ url, keyPrefix: prefix });
    try {
      const lostBindings = [];
      for (const aor of load.aors)
        if ((await fresh.registrations.list(aor)).length !== 1) lostBindings.push(aor);
      const lostCalls = [];
      for (const id of load.calls) if (!(await fresh.calls.get(id))) lostCalls.push(id);
      // A new group reads the stream from its start.
      const inStream = new Set(
        (await fresh.events.consume('call-events', 'audit', 'auditor', { count: 1_000_000 })).map((e) =>
          String(e.fields.n),
        ),
      );
      const notInStream = [...load.events].filter((n) => !inStream.has(n));
      const lostEvents = [...load.events].filter((n) => !load.received.has(n));
      if (lostEvents.length > 0) {
        // Where the group stands on the master now: whether the events were read there (and by whom) or not — or
        // the master's error (NOGROUP: the group lost), said rather than thrown over the assertions below.
        const key = `${prefix}stream:{call-events}`;
        const masterPort = url.startsWith('redis+sentinel')
          ? await (sentinel as RedisSentinelTopology).currentMasterPort()
          : await (cluster as RedisClusterTopology).masterOf(key);
        t.diagnostic(
          `${what}: never delivered ${lostEvents.map((n) => `${n} (published ${(load.publishedAt.get(n) ?? 0) - killedAt} ms after ${event})`).join(', ')}; ` +
            `on the master: groups ${JSON.stringify(await command(masterPort, 'XINFO', 'GROUPS', key).catch(String))}, ` +
            `pending ${JSON.stringify(await command(masterPort, 'XPENDING', key, 'cdr', '-', '+', '10').catch(String))}`,
        );
      }
      t.diagnostic(
        `${what}: acknowledged ${load.aors.length} bindings, ${load.calls.length} calls, ${load.events.size} events; ` +
          `lost ${lostBindings.length}, ${lostCalls.length}, ${notInStream.length}; never delivered ${lostEvents.length}`,
      );
      assert.deepEqual(lostBindings, [], 'acknowledged bindings lost');
      assert.deepEqual(lostCalls, [], 'acknowledged live calls lost');
      assert.deepEqual(notInStream, [], 'acknowledged call events lost');
      assert.deepEqual(lostEvents, [], 'acknowledged call events never delivered');
    } finally {
      await fresh.close();
    }
    assert.ok(load.aors.length > 0 && load.events.size > 0);
    // Operations fail or succeed within seconds; none hangs for the whole outage.
    assert.ok(maxMs < 10_000, `an operation waited ${maxMs} ms`);
  } finally {
    await state.close();
  }
}

/** Until `port` is a replica with its link to the master up (a demoted master resynced). */
async function replicaInSync(port: number): Promise<void> {
  for (const deadline = Date.now() + 20_000; ; await sleep(50)) {
    const info = String(await command(port, 'INFO', 'replication').catch(() => ''));
    if (info.includes('role:slave') && info.includes('master_link_status:up')) return;
    assert.ok(Date.now() < deadline, `port ${port} did not become a replica in sync`);
  }
}

// The two topologies fail over side by side (the Sentinel test waits about 10 s for Sentinel's INFO period to turn
// the old master into a replica before killing the new one).
describe('Redis failover under load', { skip: unavailable, concurrency: true }, () => {
  test('Sentinel: SENTINEL FAILOVER swaps master and replica, then the new master killed, the old one promoted again', async (t) => {
    const s = sentinel as RedisSentinelTopology;
    const isMaster = async (port: number) =>
      (await s.currentMasterPort()) === port && String(await command(port, 'ROLE')).startsWith('master');
    await failover(
      t,
      'Sentinel, graceful',
      s.url,
      s.downAfterMs,
      'SENTINEL FAILOVER',
      async () => void (await command(s.sentinels[0]?.port as number, 'SENTINEL', 'FAILOVER', s.masterName)),
      () => isMaster(s.replica.port),
    );
    // The old master is a replica of the new one, and the sentinels know it: ready to be promoted again.
    const waitFrom = Date.now();
    await replicaInSync(s.master.port);
    const syncedAfter = Date.now() - waitFrom;
    for (const deadline = Date.now() + 20_000; ; await sleep(100)) {
      const views = await Promise.all(
        s.sentinels.map(async (x) => {
          const replicas = (await command(x.port, 'SENTINEL', 'REPLICAS', s.masterName)) as string[][];
          return replicas.some((r) => {
            const f = Object.fromEntries(r.flatMap((v, i) => (i % 2 === 0 ? [[v, r[i + 1]]] : [])));
            return f.port === String(s.master.port) && f.flags === 'slave';
          });
        }),
      );
      if (views.every(Boolean)) break;
      assert.ok(Date.now() < deadline, 'the sentinels did not see the old master as a replica');
    }
    t.diagnostic(
      `the old master was a replica in sync ${syncedAfter} ms later, known as such by every sentinel ${Date.now() - waitFrom} ms later`,
    );
    await failover(
      t,
      `Sentinel (down-after-milliseconds ${s.downAfterMs})`,
      s.url,
      s.downAfterMs,
      'the kill',
      () => s.replica.kill(),
      () => isMaster(s.master.port),
    );
  });

  test('Cluster: CLUSTER FAILOVER on a replica, then a master killed, its replica takes over', async (t) => {
    const c = cluster as RedisClusterTopology;
    // The master of the call-events stream's slot: events, and a third of the bindings and calls, go through it.
    const firstPort = await c.masterOf('x:stream:{call-events}');
    const replicaPort = await c.replicaOf(firstPort);
    await failover(
      t,
      'Cluster, graceful',
      c.url,
      c.nodeTimeoutMs,
      'CLUSTER FAILOVER',
      async () => void (await command(replicaPort, 'CLUSTER', 'FAILOVER')),
      async () => (await c.masterOf('x:stream:{call-events}')) === replicaPort,
    );
    await replicaInSync(firstPort);
    await c.waitHealthy();
    const victimPort = replicaPort;
    const victim = c.nodes.find((n) => n.port === victimPort);
    assert.ok(victim);
    await failover(
      t,
      `Cluster (cluster-node-timeout ${c.nodeTimeoutMs})`,
      c.url,
      c.nodeTimeoutMs,
      'the kill',
      () => victim.kill(),
      async () => {
        const masters = await c.masters();
        return masters.length === 3 && !masters.includes(victimPort);
      },
    );
  });
});
