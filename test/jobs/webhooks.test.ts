import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  sendWebhook,
  webhookDeliveryJob,
  webhookFanoutJob,
  type WebhookDeliveryJob,
} from '../../src/jobs/index.js';
import {
  CALL_EVENTS_STREAM,
  createTenantRepository,
  createWebhookRepository,
  encodeCallEvent,
  encodeRegistrationChange,
  migrate,
  openDatabase,
  parseWebhookAllow,
  REGISTRATION_EVENTS_STREAM,
  type CallEvent,
  type Database,
  type WebhookEvent,
  type WebhookEventType,
  type WebhookRepository,
} from '../../src/store/index.js';
import { createMemorySharedState, type SharedState } from '../../src/store/shared-state/index.js';
import { Registry } from '../../src/observability/index.js';
import { collectDataMetrics } from '../../src/platform/data-metrics.js';
import { MIGRATIONS_DIR } from '../helpers/store-backends.js';

const ALLOW = parseWebhookAllow('127.0.0.1')!;
const SECRET = 'receiver-secret-0123456789';

interface Received {
  event: WebhookEvent;
  headers: IncomingMessage['headers'];
}

/**
 * A receiver as an application would write one: it verifies `Voxgate-Signature` over the raw body (and a
 * timestamp within 5 minutes) before it believes anything, and answers with `answer`.
 */
async function receiver(
  secret: string,
  answer: (event: WebhookEvent, n: number, res: ServerResponse) => void = (_e, _n, res) =>
    void res.writeHead(204).end(),
): Promise<{ url: string; got: Received[]; forged: number; close(): Promise<void>; server: Server }> {
  const got: Received[] = [];
  let forged = 0;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = String(req.headers['voxgate-signature'] ?? '');
      const t = /(?:^|,)t=(\d+)/.exec(header)?.[1];
      const v1 = /(?:^|,)v1=([0-9a-f]{64})/.exec(header)?.[1];
      const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
      if (
        !t ||
        !v1 ||
        Math.abs(Date.now() / 1000 - Number(t)) > 300 ||
        !timingSafeEqual(expected, Buffer.from(v1, 'hex'))
      ) {
        forged++;
        res.writeHead(400).end();
        return;
      }
      const event = JSON.parse(body) as WebhookEvent;
      got.push({ event, headers: req.headers });
      answer(event, got.filter((g) => g.event.id === event.id).length, res);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    get forged() {
      return forged;
    },
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const call = (tenantId: string, callId: string, type: CallEvent['type']): CallEvent => ({
  type,
  callId,
  tenantId,
  direction: 'internal',
  from: 'sip:alice@acme.example',
  to: 'sip:bob@acme.example',
  startedAt: Date.now() - 10_000,
  ...(type === 'ringing' ? { ringingAt: Date.now() - 8_000 } : {}),
  ...(type === 'answered' || type === 'ended' ? { answeredAt: Date.now() - 5_000 } : {}),
  ...(type === 'ended'
    ? { endedAt: Date.now(), disposition: 'answered' as const, sipCode: 200, hangupBy: 'caller' as const }
    : {}),
});

describe('webhook delivery by the worker', () => {
  let db: Database;
  let state: SharedState;
  let hooks: WebhookRepository;
  let tenant: string;
  let other: string;

  before(async () => {
    db = await openDatabase({ dataDir: 'memory://' });
    await migrate(db, MIGRATIONS_DIR);
    state = createMemorySharedState();
    hooks = createWebhookRepository(db);
    const tenants = createTenantRepository(db);
    tenant = (await tenants.create({ name: 'Acme', sipDomain: 'acme.example' })).id;
    other = (await tenants.create({ name: 'Other', sipDomain: 'other.example' })).id;
  });
  after(async () => {
    await state.close();
    await db.close();
  });

  const fanout = () =>
    webhookFanoutJob({ events: state.events, webhooks: hooks, consumer: 'test' }).run(
      new AbortController().signal,
    );

  const delivery = (overrides: Partial<Parameters<typeof webhookDeliveryJob>[0]> = {}) =>
    webhookDeliveryJob({
      webhooks: hooks,
      allow: ALLOW,
      timeoutMs: 5000,
      concurrency: 4,
      retryForMs: 86_400_000,
      backoff: { firstMs: 1, maxMs: 10 },
      ...overrides,
    });

  /** Runs the delivery job until `done` holds (a bounded number of rounds, not a time). */
  const deliverUntil = async (job: WebhookDeliveryJob, done: () => boolean | Promise<boolean>) => {
    for (let round = 0; round < 500; round++) {
      await job.run(new AbortController().signal);
      await job.settle();
      if (await done()) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.fail('the deliveries did not reach the expected state');
  };

  const subscribe = async (url: string, events: WebhookEventType[], tenantId = tenant) =>
    hooks.create({ tenantId, url, events, secret: SECRET });

  test('events from the streams reach a real receiver, signed; other tenants and event types do not', async () => {
    const rx = await receiver(SECRET);
    const otherRx = await receiver(SECRET);
    try {
      const all = await subscribe(rx.url, [
        'call.started',
        'call.ringing',
        'call.answered',
        'call.ended',
        'registration.changed',
      ]);
      const endedOnly = await subscribe(otherRx.url, ['call.ended'], other);
      for (const type of ['started', 'ringing', 'answered', 'ended'] as const)
        await state.events.publish(CALL_EVENTS_STREAM, encodeCallEvent(call(tenant, 'call-1', type)));
      await state.events.publish(
        REGISTRATION_EVENTS_STREAM,
        encodeRegistrationChange({
          kind: 'registered',
          tenantId: tenant,
          aor: 'sip:alice@acme.example',
          contact: 'sip:alice@192.0.2.5:5060',
          at: Date.now(),
          transport: 'udp',
          expiresInSeconds: 3600,
        }),
      );
      await state.events.publish(CALL_EVENTS_STREAM, { not: 'an event' });
      await fanout();
      const job = delivery();
      await deliverUntil(job, () => rx.got.length >= 5);
      assert.equal(rx.forged, 0, 'every delivery carries a valid signature');
      const byType = new Map(rx.got.map((g) => [g.event.type, g]));
      assert.deepEqual([...byType.keys()].sort(), [
        'call.answered',
        'call.ended',
        'call.ringing',
        'call.started',
        'registration.changed',
      ]);
      const ringing = byType.get('call.ringing')!.event;
      assert.ok(ringing.occurredAt < byType.get('call.answered')!.event.occurredAt, 'when it rang');
      const ended = byType.get('call.ended')!;
      assert.equal(ended.event.tenantId, tenant);
      assert.equal(ended.headers['voxgate-event-id'], ended.event.id);
      assert.equal(ended.headers['content-type'], 'application/json');
      assert.match(ended.event.occurredAt, /^\d{4}-\d\d-\d\dT/);
      assert.equal(ended.event.data.callId, 'call-1');
      assert.equal(ended.event.data.disposition, 'answered', 'call.ended carries the CDR');
      assert.equal(ended.event.data.durationSeconds, 5);
      assert.equal(byType.get('registration.changed')!.event.data.kind, 'registered');
      assert.equal(otherRx.got.length, 0, "another tenant's webhook gets none of these");

      const log = await hooks.deliveries(tenant, all.id, { limit: 10 });
      assert.equal(log.length, 5);
      assert.ok(log.every((d) => d.state === 'delivered' && d.attempts === 1 && d.lastStatus === 204));
      assert.deepEqual(await hooks.deliveries(other, endedOnly.id, { limit: 10 }), []);

      // The stream delivered again (a worker died before acking): the same event is not recorded twice.
      for (const type of ['started', 'answered', 'ended'] as const)
        await state.events.publish(CALL_EVENTS_STREAM, encodeCallEvent(call(tenant, 'call-1', type)));
      await fanout();
      assert.equal((await hooks.deliveries(tenant, all.id, { limit: 10 })).length, 5);
      await hooks.delete(tenant, all.id);
    } finally {
      await rx.close();
      await otherRx.close();
    }
  });

  test('a receiver answering 500 then 200 gets the event once more and no more', async () => {
    const rx = await receiver(SECRET, (_e, n, res) => void res.writeHead(n === 1 ? 500 : 200).end('ok'));
    const registry = new Registry();
    const stopMetrics = collectDataMetrics(registry, undefined);
    try {
      const hook = await subscribe(rx.url, ['call.ended']);
      await state.events.publish(CALL_EVENTS_STREAM, encodeCallEvent(call(tenant, 'call-2', 'ended')));
      await fanout();
      const job = delivery();
      const delivered = async () =>
        (await hooks.deliveries(tenant, hook.id, { limit: 10 }))[0]?.state === 'delivered';
      await deliverUntil(job, delivered);
      // More rounds find nothing due.
      for (let i = 0; i < 5; i++) {
        await job.run(new AbortController().signal);
        await job.settle();
      }
      assert.equal(rx.got.length, 2);
      assert.equal(rx.got[0]!.event.id, rx.got[1]!.event.id, 'the same event id: receivers de-duplicate');
      assert.equal(rx.got[0]!.headers['voxgate-delivery-attempt'], '1');
      assert.equal(rx.got[1]!.headers['voxgate-delivery-attempt'], '2');
      const [entry] = await hooks.deliveries(tenant, hook.id, { limit: 10 });
      assert.equal(entry!.attempts, 2);
      assert.equal(entry!.lastStatus, 200);
      const metrics = await registry.metrics();
      assert.match(metrics, /voxgate_webhook_attempts_total\{outcome="retry"\} 1/);
      assert.match(metrics, /voxgate_webhook_attempts_total\{outcome="delivered"\} 1/);
      await hooks.delete(tenant, hook.id);
    } finally {
      stopMetrics();
      await rx.close();
    }
  });

  test('a redirect is not followed; a receiver that keeps failing is given up after the retry period', async () => {
    const target = await receiver(SECRET);
    const rx = await receiver(
      SECRET,
      (_e, _n, res) => void res.writeHead(302, { location: target.url }).end(),
    );
    try {
      const hook = await subscribe(rx.url, ['call.ended']);
      await state.events.publish(CALL_EVENTS_STREAM, encodeCallEvent(call(tenant, 'call-3', 'ended')));
      await fanout();
      const job = delivery({ retryForMs: 200 });
      await deliverUntil(
        job,
        async () => (await hooks.deliveries(tenant, hook.id, { limit: 10 }))[0]?.state === 'failed',
      );
      assert.ok(rx.got.length >= 1);
      assert.equal(target.got.length, 0, 'the Location was never requested');
      const [entry] = await hooks.deliveries(tenant, hook.id, { limit: 10 });
      assert.equal(entry!.lastStatus, 302);
      assert.match(entry!.lastError ?? '', /redirect to http:\/\/127\.0\.0\.1:\d+\/hook not followed/);
      assert.equal(entry!.attempts, rx.got.length);
      await hooks.delete(tenant, hook.id);
    } finally {
      await rx.close();
      await target.close();
    }
  });

  test('a receiver that never answers holds only its own slots; the others are delivered meanwhile', async () => {
    const stuck = await receiver(SECRET, () => undefined); // reads the request, never answers
    const rx = await receiver(SECRET);
    try {
      const slow = await subscribe(stuck.url, ['call.started']);
      const fast = await subscribe(rx.url, ['call.started']);
      for (let i = 0; i < 10; i++)
        await state.events.publish(
          CALL_EVENTS_STREAM,
          encodeCallEvent(call(tenant, `call-4-${i}`, 'started')),
        );
      await fanout();
      const job = delivery({ timeoutMs: 600_000, concurrency: 2 });
      for (let round = 0; round < 500 && rx.got.length < 10; round++) {
        await job.run(new AbortController().signal);
        assert.ok((job.inFlight.get(slow.id) ?? 0) <= 2, 'at most `concurrency` in flight to one webhook');
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(rx.got.length, 10, 'every event reached the working receiver');
      assert.equal(job.inFlight.get(slow.id), 2, 'two attempts still wait on the stuck receiver');
      const slowLog = await hooks.deliveries(tenant, slow.id, { limit: 20, state: 'pending' });
      assert.equal(slowLog.length, 10, 'none of the stuck ones is lost');
      await stuck.close(); // the waiting attempts fail now and are retried later
      await job.settle();
      assert.ok((await hooks.deliveries(tenant, fast.id, { limit: 20, state: 'delivered' })).length === 10);
      await hooks.delete(tenant, slow.id);
      await hooks.delete(tenant, fast.id);
    } finally {
      await rx.close();
    }
  });

  test('the sender connects only to allowed addresses, as resolved at connection time', async () => {
    const rx = await receiver(SECRET);
    try {
      const port = new URL(rx.url).port;
      const request = {
        secret: SECRET,
        payload: '{}',
        eventId: 'evt_x',
        eventType: 'call.ended',
        attempt: 1,
      };
      // A name that passed the API's check (public) and now resolves to loopback: DNS rebinding.
      const rebound = await sendWebhook(
        { ...request, url: `http://rebind.example:${port}/hook` },
        {
          allow: parseWebhookAllow('public')!,
          timeoutMs: 5000,
          lookup: (_host, _options, callback) => callback(null, [{ address: '127.0.0.1', family: 4 }]),
        },
      );
      assert.ok(
        'error' in rebound && /127\.0\.0\.1: not an allowed/.test(rebound.error),
        JSON.stringify(rebound),
      );
      const literal = await sendWebhook(
        { ...request, url: rx.url },
        { allow: parseWebhookAllow('public')!, timeoutMs: 5000 },
      );
      assert.ok('error' in literal && /not an allowed/.test(literal.error));
      assert.equal(rx.got.length + rx.forged, 0, 'nothing reached the receiver');
      const allowed = await sendWebhook({ ...request, url: rx.url }, { allow: ALLOW, timeoutMs: 5000 });
      assert.deepEqual(allowed, { status: 204 });
    } finally {
      await rx.close();
    }
  });
});

test('the fan-out reads a stream again only after a full read; a short one ends that stream for the run', async () => {
  const state = createMemorySharedState();
  try {
    const reads: number[] = [];
    const enqueued: string[] = [];
    const job = webhookFanoutJob({
      events: {
        claimStale: (...args) => state.events.claimStale(...args),
        ack: (...args) => state.events.ack(...args),
        consume: async (...args) => {
          const entries = await state.events.consume(...args);
          if (args[0] === CALL_EVENTS_STREAM) reads.push(entries.length);
          return entries;
        },
      },
      webhooks: {
        subscribedTypes: async (tenants) => new Map(tenants.map((t) => [t, new Set(['call.ended'])])),
        enqueue: async (events: readonly WebhookEvent[]) => {
          enqueued.push(...events.map((e) => e.type));
          return events.length;
        },
      },
      consumer: 'test',
      batch: 2,
    });
    const tenantId = '00000000-0000-4000-8000-000000000001';
    for (const n of [1, 2, 3, 4, 5])
      await state.events.publish(CALL_EVENTS_STREAM, encodeCallEvent(call(tenantId, `c${n}`, 'ended')));
    await job.run(new AbortController().signal);
    assert.deepEqual(reads, [2, 2, 1], 'two full reads, then a short one');
    assert.equal(enqueued.length, 5);
  } finally {
    await state.close();
  }
});

test('the fan-out builds and records only the events an enabled subscription of their tenant takes', async () => {
  const state = createMemorySharedState();
  try {
    const subscriber = '00000000-0000-4000-8000-000000000001';
    const silent = '00000000-0000-4000-8000-000000000002';
    const asked: string[][] = [];
    const enqueued: WebhookEvent[] = [];
    const poison: string[] = [];
    const job = webhookFanoutJob({
      events: state.events,
      webhooks: {
        subscribedTypes: async (tenants) => {
          asked.push([...tenants].sort());
          return new Map([[subscriber, new Set(['call.ended'])]]);
        },
        enqueue: async (events: readonly WebhookEvent[]) => {
          enqueued.push(...events);
          return events.length;
        },
      },
      consumer: 'test',
      onPoison: (_stream, entry) => poison.push(entry.id),
    });
    await state.events.publish(CALL_EVENTS_STREAM, encodeCallEvent(call(subscriber, 'c1', 'started')));
    await state.events.publish(CALL_EVENTS_STREAM, encodeCallEvent(call(subscriber, 'c1', 'ended')));
    await state.events.publish(CALL_EVENTS_STREAM, encodeCallEvent(call(silent, 'c2', 'ended')));
    // Not readable: of a tenant without subscriptions (skipped unread), and with no tenant at all (reported).
    await state.events.publish(CALL_EVENTS_STREAM, { tenantId: silent, type: 'ended' });
    const noTenant = await state.events.publish(CALL_EVENTS_STREAM, { type: 'ended' });
    await job.run(new AbortController().signal);
    assert.deepEqual(asked, [[subscriber, silent].sort()]);
    assert.deepEqual(
      enqueued.map((e) => [e.tenantId, e.type, e.data.callId]),
      [[subscriber, 'call.ended', 'c1']],
    );
    assert.deepEqual(poison, [noTenant]);
    assert.deepEqual(
      await state.events.claimStale(CALL_EVENTS_STREAM, 'webhooks', 'other', 0, 10),
      [],
      'every entry acknowledged',
    );
  } finally {
    await state.close();
  }
});
