// Several workers share the webhook work: two fan-outs in one Redis consumer group and two delivery jobs on one
// PostgreSQL database (FOR UPDATE SKIP LOCKED and leases) deliver every event, each once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { webhookDeliveryJob, webhookFanoutJob } from '../../src/jobs/index.js';
import {
  CALL_EVENTS_STREAM,
  createTenantRepository,
  createWebhookRepository,
  encodeCallEvent,
  migrate,
  openDatabase,
  parseWebhookAllow,
  type WebhookEvent,
} from '../../src/store/index.js';
import { createRedisSharedState } from '../../src/store/shared-state/index.js';
import { createScratchDatabase, postgresAvailable } from '../helpers/postgres.js';
import { REDIS_URL, redisUp } from '../helpers/redis.js';
import { MIGRATIONS_DIR } from '../helpers/store-backends.js';

const ready = (await postgresAvailable()) && (await redisUp());

test(
  'two workers on PostgreSQL and Redis deliver each of 60 events once',
  { skip: ready ? false : 'PostgreSQL or Redis not reachable' },
  async () => {
    const scratch = await createScratchDatabase();
    const db = await openDatabase({ url: scratch.url, dataDir: 'unused', poolSize: 4 });
    const prefix = `vxtest:${randomBytes(4).toString('hex')}:`;
    const states = [
      await createRedisSharedState({ url: REDIS_URL, keyPrefix: prefix }),
      await createRedisSharedState({ url: REDIS_URL, keyPrefix: prefix }),
    ];
    const received = new Map<string, number>();
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const { id } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookEvent;
        received.set(id, (received.get(id) ?? 0) + 1);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await migrate(db, MIGRATIONS_DIR);
      const tenant = (await createTenantRepository(db).create({ name: 'Acme', sipDomain: 'acme.example' }))
        .id;
      const hooks = createWebhookRepository(db);
      await hooks.create({
        tenantId: tenant,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        events: ['call.started'],
        secret: 'shared-secret-0123456789',
      });
      for (let i = 0; i < 60; i++) {
        await states[0]!.events.publish(
          CALL_EVENTS_STREAM,
          encodeCallEvent({
            type: 'started',
            callId: `shared-${i}`,
            tenantId: tenant,
            direction: 'internal',
            from: 'sip:alice@acme.example',
            to: 'sip:bob@acme.example',
            startedAt: Date.now(),
          }),
        );
      }
      const workers = states.map((state, n) => ({
        fanout: webhookFanoutJob({ events: state.events, webhooks: hooks, consumer: `w${n}`, batch: 7 }),
        delivery: webhookDeliveryJob({
          webhooks: hooks,
          allow: parseWebhookAllow('127.0.0.1')!,
          timeoutMs: 5000,
          concurrency: 3,
          retryForMs: 3_600_000,
          backoff: { firstMs: 1, maxMs: 10 },
        }),
      }));
      const signal = new AbortController().signal;
      await Promise.all(workers.map((w) => w.fanout.run(signal)));
      for (let round = 0; round < 500 && received.size < 60; round++) {
        await Promise.all(workers.map((w) => w.delivery.run(signal)));
        await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(workers.map((w) => w.delivery.settle()));
      assert.equal(received.size, 60, 'every event delivered');
      assert.deepEqual(
        [...received.values()].filter((n) => n !== 1),
        [],
        'none twice',
      );
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      for (const s of states) await s.close();
      await db.close();
      await scratch.drop();
    }
  },
);
