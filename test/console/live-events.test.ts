// GET /v1/tenants/{tenantId}/events/stream on the API alone, over memory and real Redis shared state:
// authentication and tenant scope before the stream starts, the tenant's call and registration events as
// webhook events, nothing of other tenants, nothing published before the stream's hub began, and every stream
// ended (and the process's consumer groups dropped) when the API stops.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  CALL_EVENTS_STREAM,
  encodeCallEvent,
  encodeRegistrationChange,
  REGISTRATION_EVENTS_STREAM,
} from '../../src/store/index.js';
import {
  createMemorySharedState,
  createRedisSharedState,
  type SharedState,
} from '../../src/store/shared-state/index.js';
import { startApiApp, type ApiApp } from '../helpers/api-app.js';
import { REDIS_URL, redisUp } from '../helpers/redis.js';
import { storeBackends } from '../helpers/store-backends.js';

interface SseMessage {
  id: string;
  event: string;
  data: { type: string; tenantId: string; data: Record<string, unknown> };
}

/** Reads a text/event-stream response into messages as they come. */
function reader(body: ReadableStream<Uint8Array>) {
  const messages: SseMessage[] = [];
  let text = '';
  let ended = false;
  const done = (async () => {
    for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      let end: number;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        const field = (name: string) =>
          block
            .split('\n')
            .find((l) => l.startsWith(`${name}: `))
            ?.slice(name.length + 2);
        const data = field('data');
        if (data) messages.push({ id: field('id')!, event: field('event')!, data: JSON.parse(data) });
      }
    }
    ended = true;
  })().catch(() => {
    ended = true;
  });
  return {
    messages,
    done,
    get ended() {
      return ended;
    },
    async waitFor(n: number, ms = 5000) {
      const deadline = Date.now() + ms;
      while (messages.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(messages.length >= n, `expected ${n} messages, got ${JSON.stringify(messages)}`);
    },
  };
}

const haveRedis = await redisUp();
const prefix = `voxgate-test-${randomBytes(4).toString('hex')}:`;

const kinds: {
  name: string;
  skip: string | false;
  make: () => Promise<SharedState>;
  /** The consumer groups left on a stream (Redis only). */
  groups?: (stream: string) => Promise<string[]>;
  cleanup?: () => Promise<void>;
}[] = [
  { name: 'memory', skip: false, make: async () => createMemorySharedState() },
  {
    name: 'Redis',
    skip: haveRedis ? false : `Redis not reachable at ${REDIS_URL}`,
    make: () => createRedisSharedState({ url: REDIS_URL, keyPrefix: prefix }),
    async groups(stream) {
      const admin = new Redis(REDIS_URL);
      try {
        const keys = await admin.keys(`${prefix}*${stream}*`);
        const names: string[] = [];
        for (const key of keys) {
          const info = (await admin.call('XINFO', 'GROUPS', key)) as unknown[][];
          for (const g of info) names.push(String(g[g.indexOf('name') + 1]));
        }
        return names;
      } finally {
        admin.disconnect();
      }
    },
    async cleanup() {
      const admin = new Redis(REDIS_URL);
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length > 0) await admin.del(...keys);
      admin.disconnect();
    },
  },
];

for (const kind of kinds)
  describe(`live events (SSE) on the API, ${kind.name} shared state`, { skip: kind.skip }, () => {
    let api: ApiApp;
    let base: string;
    let cleanup: () => Promise<void>;
    let a: string;
    let b: string;
    before(async () => {
      const [backend] = await storeBackends();
      const opened = await backend!.open();
      api = await startApiApp(opened.db, { state: await kind.make() });
      cleanup = async () => {
        await opened.db.close();
        await opened.cleanup();
        await kind.cleanup?.();
      };
      base = await api.listen();
      a = await api.tenant('Alpha');
      b = await api.tenant('Beta');
    });
    after(async () => {
      await api.close();
      await cleanup();
    });

    const registration = (tenantId: string, user: string) =>
      encodeRegistrationChange({
        kind: 'registered',
        tenantId,
        aor: `sip:${user}@example`,
        contact: `sip:${user}@192.0.2.1:5060`,
        at: Date.now(),
        transport: 'udp',
        expiresInSeconds: 600,
      });

    test('no key 401, another tenant’s key 404; the own tenant’s events only, from the start of the stream on', async () => {
      const url = `${base}/v1/tenants/${a}/events/stream`;
      assert.equal((await fetch(url)).status, 401);
      const foreign = await fetch(url, {
        headers: { authorization: `Bearer ${await api.key(b, 'viewer')}` },
      });
      assert.equal(foreign.status, 404);
      assert.match(foreign.headers.get('content-type') ?? '', /problem\+json/);

      const controller = new AbortController();
      const res = await fetch(url, {
        headers: { authorization: `Bearer ${await api.key(a, 'viewer')}` },
        signal: controller.signal,
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const stream = reader(res.body!);
      try {
        await api.state.events.publish(REGISTRATION_EVENTS_STREAM, registration(b, 'mallory'));
        await api.state.events.publish(REGISTRATION_EVENTS_STREAM, registration(a, 'alice'));
        const now = Date.now();
        await api.state.events.publish(
          CALL_EVENTS_STREAM,
          encodeCallEvent({
            type: 'answered',
            callId: 'call-1@example',
            tenantId: a,
            direction: 'internal',
            from: 'sip:alice@example',
            to: 'sip:bob@example',
            startedAt: now - 2000,
            answeredAt: now,
          }),
        );
        await stream.waitFor(2);
        await new Promise((r) => setTimeout(r, 200));
        // The two streams are read side by side: their events may interleave either way.
        const byType = new Map(stream.messages.map((m) => [m.event, m]));
        assert.equal(stream.messages.length, 2, JSON.stringify(stream.messages));
        assert.ok(stream.messages.every((m) => m.data.tenantId === a));
        assert.equal(byType.get('registration.changed')?.data.data.aor, 'sip:alice@example');
        assert.equal(byType.get('call.answered')?.data.data.callId, 'call-1@example');
        assert.equal(byType.get('call.answered')?.data.data.answeredAt, new Date(now).toISOString());
        assert.match(stream.messages[0]!.id, /^\d+-\d+$/);
      } finally {
        controller.abort();
      }
    });

    test('a platform key may follow any tenant; a stream opened later does not get what came before it', async () => {
      const controller = new AbortController();
      const res = await fetch(`${base}/v1/tenants/${b}/events/stream`, {
        headers: { authorization: `Bearer ${await api.key(null, 'viewer')}` },
        signal: controller.signal,
      });
      assert.equal(res.status, 200);
      const stream = reader(res.body!);
      try {
        // mallory's registration of the previous test was published before this stream: not replayed.
        await api.state.events.publish(REGISTRATION_EVENTS_STREAM, registration(b, 'carol'));
        await stream.waitFor(1);
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(
          stream.messages.map((m) => m.data.data.aor),
          ['sip:carol@example'],
        );
      } finally {
        controller.abort();
      }
    });

    test('the API stopping ends the open streams', async () => {
      const res = await fetch(`${base}/v1/tenants/${a}/events/stream`, {
        headers: { authorization: `Bearer ${await api.key(a, 'viewer')}` },
      });
      assert.equal(res.status, 200);
      const stream = reader(res.body!);
      if (kind.groups) {
        assert.ok(
          (await kind.groups(REGISTRATION_EVENTS_STREAM)).some((g) => g.startsWith('api-events:')),
          'the process follows the stream in a group of its own',
        );
      }
      const closing = api.close();
      await Promise.race([
        stream.done,
        new Promise((_, reject) => setTimeout(() => reject(new Error('the stream did not end')), 5000)),
      ]);
      assert.ok(stream.ended);
      await closing;
      if (kind.groups) {
        assert.deepEqual(await kind.groups(REGISTRATION_EVENTS_STREAM), [], 'the group was dropped');
        assert.deepEqual(await kind.groups(CALL_EVENTS_STREAM), []);
      }
      // after() closes again: harmless.
      api.close = async () => undefined;
    });
  });
