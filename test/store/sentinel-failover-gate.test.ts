// The Sentinel failover gate (src/store/shared-state/sentinel-failover-gate.ts) reacting to a sentinel's Pub/Sub
// announcements. A plain Redis stands in for the sentinel's Pub/Sub here: the messages are published on the
// channels and in the format Sentinel uses (its "Sentinel API" documentation); a real Sentinel failover through
// the gate is test/store/shared-state.topologies.test.ts.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  createSentinelFailoverGate,
  sentinelFailoverChannel,
  type SentinelFailoverEvent,
} from '../../src/store/shared-state/sentinel-failover-gate.js';

const host = '127.0.0.1';
const port = Number(process.env.VOXGATE_TEST_REDIS_PORT ?? 6379);

const publisher = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0 });
publisher.on('error', () => undefined);
const up = await publisher.connect().then(
  () => true,
  (err: unknown) => {
    if (process.env.CI)
      throw new Error(`Redis is required in CI and is not reachable at ${host}:${port}`, { cause: err });
    return false;
  },
);
after(() => publisher.disconnect());

/** Whether `p` has settled after the pending callbacks ran. */
async function settled(p: Promise<void> | undefined): Promise<boolean> {
  if (!p) return true;
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

/** A gate on the stand-in sentinel, with its main connection open to the same Redis. */
async function gate(masterName: string, options: { maxHoldMs?: number } = {}) {
  const main = new Redis({ host, port, retryStrategy: () => 10 });
  main.on('error', () => undefined);
  await new Promise((r) => main.once('ready', r));
  const g = createSentinelFailoverGate({
    sentinels: [{ host, port }],
    masterName,
    main,
    others: () => [],
    retryStrategy: () => 100,
    maxHoldMs: options.maxHoldMs ?? 60_000,
  });
  await g.listening();
  return {
    ...g,
    main,
    close() {
      g.close();
      main.disconnect();
    },
  };
}

/** The gate's diagnostics events for `masterName` while `fn` runs. */
async function recording(masterName: string, fn: () => Promise<void>): Promise<SentinelFailoverEvent[]> {
  const events: SentinelFailoverEvent[] = [];
  const onEvent = (m: unknown) => {
    if ((m as SentinelFailoverEvent).masterName === masterName) events.push(m as SentinelFailoverEvent);
  };
  subscribe(sentinelFailoverChannel.name, onEvent);
  try {
    await fn();
  } finally {
    unsubscribe(sentinelFailoverChannel.name, onEvent);
  }
  return events;
}

/** Until the gate holds operations (the message published went through Redis to its subscriber). */
async function heldBy(g: { passage(): Promise<void> | undefined }): Promise<{ held: Promise<void> }> {
  for (let i = 0; i < 200 && !g.passage(); i++) await new Promise((r) => setTimeout(r, 5));
  const held = g.passage();
  assert.ok(held, 'operations are held');
  return { held };
}

describe('Sentinel failover gate', { skip: up ? false : `Redis not reachable at ${host}:${port}` }, () => {
  test('+try-failover for our master holds operations; another master does not; -failover-abort lets them go', async () => {
    const name = `m-${randomBytes(4).toString('hex')}`;
    const g = await gate(name);
    try {
      const events = await recording(name, async () => {
        assert.equal(g.passage(), undefined, 'nothing held without a failover');
        await publisher.publish('+try-failover', 'master other-master 192.0.2.1 6379');
        await publisher.publish('+try-failover', `master ${name} 192.0.2.1 6379`);
        const { held } = await heldBy(g);
        assert.equal(await settled(held), false);
        // A message of another master's failover does not end ours.
        await publisher.publish('-failover-abort-not-elected', 'master other-master 192.0.2.1 6379');
        assert.equal(await settled(held), false);
        await publisher.publish('-failover-abort-not-elected', `master ${name} 192.0.2.1 6379`);
        await held;
        assert.equal(g.passage(), undefined);
      });
      assert.deepEqual(
        events.map((e) => (e.kind === 'held' ? e.kind : `${e.kind} ${e.reason}`)),
        ['held', 'released ended'],
      );
    } finally {
      g.close();
    }
  });

  test('+switch-master to where the connection already is: operations go on, no reconnection', async () => {
    const name = `m-${randomBytes(4).toString('hex')}`;
    const g = await gate(name);
    try {
      await publisher.publish('+try-failover', `master ${name} 192.0.2.1 6379`);
      const { held } = await heldBy(g);
      let closes = 0;
      g.main.on('close', () => closes++);
      // The stand-in Redis as the new master. Moving a connection to it from the old master is the Sentinel
      // failover of test/store/shared-state.topologies.test.ts.
      const events = await recording(name, async () => {
        await publisher.publish('+switch-master', `${name} 192.0.2.1 6379 ${host} ${port}`);
        await held;
      });
      assert.deepEqual(
        events.map((e) => (e.kind === 'released' ? [e.reason, e.newMaster] : [e.kind])),
        [['switched', `${host}:${port}`]],
      );
      assert.equal(closes, 0);
      assert.equal(await g.main.ping(), 'PONG');
      assert.equal(g.passage(), undefined);
    } finally {
      g.close();
    }
  });

  test('+switch-master to a master the connection does not reach: opened again and again, operations held, until maxHoldMs', async () => {
    const name = `m-${randomBytes(4).toString('hex')}`;
    const g = await gate(name, { maxHoldMs: 500 });
    try {
      let readies = 0;
      g.main.on('ready', () => readies++);
      // As a sentinel that has not heard of the switch would: the connection reaches another server.
      await publisher.publish('+switch-master', `${name} ${host} ${port} 192.0.2.2 6379`);
      const { held } = await heldBy(g);
      await held;
      assert.ok(readies >= 2, `the connection was opened again ${readies} times`);
      assert.equal(g.passage(), undefined);
    } finally {
      g.close();
    }
  });

  test('operations are held maxHoldMs at most when the failover never ends (its sentinel died)', async () => {
    const name = `m-${randomBytes(4).toString('hex')}`;
    const g = await gate(name, { maxHoldMs: 200 });
    try {
      const events = await recording(name, async () => {
        await publisher.publish('+try-failover', `master ${name} 192.0.2.1 6379`);
        await heldBy(g);
        await g.passage();
      });
      assert.equal(g.passage(), undefined);
      assert.deepEqual(
        events.map((e) => (e.kind === 'released' ? e.reason : e.kind)),
        ['held', 'timeout'],
      );
    } finally {
      g.close();
    }
  });

  test('close lets held operations go', async () => {
    const name = `m-${randomBytes(4).toString('hex')}`;
    const g = await gate(name);
    await publisher.publish('+try-failover', `master ${name} 192.0.2.1 6379`);
    const { held } = await heldBy(g);
    g.close();
    await held;
  });
});
