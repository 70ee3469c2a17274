// The Sentinel failover gate (src/store/shared-state/sentinel-failover-gate.ts) reacting to a sentinel's Pub/Sub
// announcements. A plain Redis stands in for the sentinel's Pub/Sub here: the messages are published on the
// channels and in the format Sentinel uses (its "Sentinel API" documentation); a real Sentinel failover through
// the gate is test/store/shared-state.topologies.test.ts.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createSentinelFailoverGate } from '../../src/store/shared-state/sentinel-failover-gate.js';

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

function gate(masterName: string, options: { maxHoldMs?: number; connections?: Redis[] } = {}) {
  return createSentinelFailoverGate({
    sentinels: [{ host, port }],
    masterName,
    connections: () => options.connections ?? [],
    retryStrategy: () => 100,
    maxHoldMs: options.maxHoldMs ?? 60_000,
  });
}

describe('Sentinel failover gate', { skip: up ? false : `Redis not reachable at ${host}:${port}` }, () => {
  test('+try-failover for our master holds operations; another master does not; -failover-abort lets them go', async () => {
    const name = `m-${randomBytes(4).toString('hex')}`;
    const g = gate(name);
    try {
      await g.listening();
      assert.equal(g.passage(), undefined, 'nothing held without a failover');
      await publisher.publish('+try-failover', 'master other-master 192.0.2.1 6379');
      await publisher.publish('+try-failover', `master ${name} 192.0.2.1 6379`);
      for (let i = 0; i < 200 && !g.passage(); i++) await new Promise((r) => setTimeout(r, 5));
      const held = g.passage();
      assert.ok(held, 'a failover of our master holds operations');
      assert.equal(await settled(held), false);
      // A message of another master's failover does not end ours.
      await publisher.publish('-failover-abort-not-elected', 'master other-master 192.0.2.1 6379');
      assert.equal(await settled(held), false);
      await publisher.publish('-failover-abort-not-elected', `master ${name} 192.0.2.1 6379`);
      await held;
      assert.equal(g.passage(), undefined);
    } finally {
      g.close();
    }
  });

  test('+switch-master for our master closes and opens the connections again, then lets operations go', async () => {
    const name = `m-${randomBytes(4).toString('hex')}`;
    const connection = new Redis({ host, port, retryStrategy: () => 10 });
    connection.on('error', () => undefined);
    await new Promise((r) => connection.once('ready', r));
    const g = gate(name, { connections: [connection] });
    try {
      await g.listening();
      await publisher.publish('+try-failover', `master ${name} 192.0.2.1 6379`);
      for (let i = 0; i < 200 && !g.passage(); i++) await new Promise((r) => setTimeout(r, 5));
      const held = g.passage();
      assert.ok(held);
      const reopened = new Promise((r) => connection.once('close', () => connection.once('ready', r)));
      await publisher.publish('+switch-master', `${name} 192.0.2.1 6379 192.0.2.2 6379`);
      await held;
      await reopened;
      assert.equal(await connection.ping(), 'PONG');
      assert.equal(g.passage(), undefined);
    } finally {
      g.close();
      connection.disconnect();
    }
  });

  test('operations are held maxHoldMs at most when the failover never ends (its sentinel died)', async () => {
    const name = `m-${randomBytes(4).toString('hex')}`;
    const g = gate(name, { maxHoldMs: 200 });
    try {
      await g.listening();
      await publisher.publish('+try-failover', `master ${name} 192.0.2.1 6379`);
      for (let i = 0; i < 200 && !g.passage(); i++) await new Promise((r) => setTimeout(r, 5));
      const held = g.passage();
      assert.ok(held);
      await held;
      assert.equal(g.passage(), undefined);
    } finally {
      g.close();
    }
  });

  test('close lets held operations go', async () => {
    const name = `m-${randomBytes(4).toString('hex')}`;
    const g = gate(name);
    await g.listening();
    await publisher.publish('+try-failover', `master ${name} 192.0.2.1 6379`);
    for (let i = 0; i < 200 && !g.passage(); i++) await new Promise((r) => setTimeout(r, 5));
    const held = g.passage();
    assert.ok(held);
    g.close();
    await held;
  });
});
