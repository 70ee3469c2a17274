import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import fc from 'fast-check';
import {
  createNgClient,
  createNgControlServer,
  encode,
  ngCommandChannel,
  ngDropChannel,
  type NgCommandEvent,
  type NgControlServer,
  type NgDropEvent,
} from '../../src/media/index.js';
import { createUdpProbe, readReply, type UdpProbe } from '../helpers/udp-probe.js';

function wire(cookie: string, body: Parameters<typeof encode>[0]): Buffer {
  return Buffer.concat([Buffer.from(`${cookie} `), encode(body)]);
}

describe('ng control server over UDP', () => {
  let server: NgControlServer;
  let port: number;
  let probe: UdpProbe;
  let offers = 0;
  const gate = { release: undefined as (() => void) | undefined };

  before(async () => {
    server = await createNgControlServer({
      host: '127.0.0.1',
      port: 0,
      handlers: {
        offer: async (args) => {
          offers++;
          return { sdp: `v=0 for ${String(args['call-id'])} #${offers}` };
        },
        // Answers only once the test lets it: the command is "in flight" until then.
        slow: () => new Promise((resolve) => (gate.release = () => resolve({ done: 1 }))),
        explode: () => {
          throw new Error('handler failed');
        },
        'throw-string': () => {
          throw 'not an Error';
        },
        'not-a-dict': () => ['a', 'list'] as never,
        unencodable: () => ({ ratio: 0.5 }),
        huge: () => ({ blob: Buffer.alloc(70_000) }),
        'load-limit': () => ({ result: 'load limit', message: 'too busy' }),
        'echo-from': (_args, from) => ({ port: from.port }),
      },
    });
    port = server.address().port;
    probe = await createUdpProbe();
  });
  after(async () => {
    await probe.close();
    await server.close();
  });

  test('ping → pong with the cookie echoed; default list and statistics are valid', async () => {
    assert.deepEqual(readReply(await probe.exchange('abc123 d7:command4:pinge', port, 'abc123')), {
      cookie: 'abc123',
      body: { result: 'pong' },
    });
    assert.deepEqual(readReply(await probe.exchange(wire('l1', { command: 'list' }), port, 'l1')).body, {
      result: 'ok',
      calls: [],
    });
    const stats = readReply(await probe.exchange(wire('s1', { command: 'statistics' }), port, 's1')).body;
    assert.equal(stats.result, 'ok');
    const statistics = stats.statistics as Record<string, Record<string, unknown>>;
    assert.equal(statistics.currentstatistics?.sessionstotal, 0);
    assert.match(String(statistics.totalstatistics?.uptime), /^\d+$/);
  });

  test('handlers get the arguments and the sender; their reply defaults to result ok', async () => {
    const r = readReply(await probe.exchange(wire('e1', { command: 'echo-from' }), port, 'e1'));
    assert.deepEqual(r.body, { result: 'ok', port: probe.port });
    const lim = readReply(await probe.exchange(wire('e2', { command: 'load-limit' }), port, 'e2'));
    assert.deepEqual(lim.body, { result: 'load limit', message: 'too busy' }, 'a handler may set result');
  });

  test('a retransmitted command gets the identical cached reply and runs once', async () => {
    const events: NgCommandEvent[] = [];
    const onEvent = (m: unknown) => events.push(m as NgCommandEvent);
    subscribe(ngCommandChannel.name, onEvent);
    try {
      const msg = wire('retx1', { command: 'offer', 'call-id': 'c1', sdp: 'v=0' });
      const before = offers;
      const first = await probe.exchange(msg, port, 'retx1');
      const again = await probe.exchange(msg, port, 'retx1');
      assert.deepEqual(again, first);
      assert.equal(offers, before + 1, 'the handler ran once');
      assert.equal(readReply(first).body.result, 'ok');
      assert.deepEqual(
        events.map((e) => [e.cookie, e.command, e.result, e.cached]),
        [
          ['retx1', 'offer', 'ok', false],
          ['retx1', 'offer', 'ok', true],
        ],
      );
      const other = await probe.exchange(wire('retx2', { command: 'offer', 'call-id': 'c1' }), port, 'retx2');
      assert.equal(offers, before + 2, 'a new cookie is a new command');
      assert.notDeepEqual(readReply(other).body, readReply(first).body);
    } finally {
      unsubscribe(ngCommandChannel.name, onEvent);
    }
  });

  test('the same cookie from another sender is another command', async () => {
    const msg = wire('shared-cookie', { command: 'offer', 'call-id': 'c2' });
    const before = offers;
    await probe.exchange(msg, port, 'shared-cookie');
    const other = await createUdpProbe();
    try {
      await other.exchange(msg, port, 'shared-cookie');
    } finally {
      await other.close();
    }
    assert.equal(offers, before + 2);
  });

  test('a retransmission while the command is still running is dropped; one reply answers it', async () => {
    const drops: NgDropEvent[] = [];
    const onDrop = (m: unknown) => drops.push(m as NgDropEvent);
    subscribe(ngDropChannel.name, onDrop);
    try {
      const msg = wire('slow1', { command: 'slow' });
      const reply = probe.exchange(msg, port, 'slow1');
      const dropped = new Promise<void>((resolve) => {
        const check = (m: unknown) => {
          if ((m as NgDropEvent).reason !== 'in-flight') return;
          unsubscribe(ngDropChannel.name, check);
          resolve();
        };
        subscribe(ngDropChannel.name, check);
      });
      probe.send(msg, port);
      await dropped;
      assert.ok(gate.release, 'the handler started');
      gate.release();
      assert.deepEqual(readReply(await reply).body, { result: 'ok', done: 1 });
      assert.deepEqual(
        drops.map((d) => d.reason),
        ['in-flight'],
      );
    } finally {
      unsubscribe(ngDropChannel.name, onDrop);
    }
  });

  test('error replies: RTPengine reasons for bad input; handler failures never crash', async () => {
    const ask = async (cookie: string, bytes: Buffer | string) =>
      readReply(await probe.exchange(bytes, port, cookie)).body;
    const error = (reason: string) => ({ result: 'error', 'error-reason': reason });
    assert.deepEqual(await ask('k1', 'k1 d7:command5:frobne'), error('Unrecognized command'));
    assert.deepEqual(await ask('k2', 'k2 de'), error('Dictionary contains no key "command"'));
    assert.deepEqual(await ask('k3', 'k3 d7:commandi1ee'), error('Dictionary contains no key "command"'));
    assert.deepEqual(await ask('k4', 'k4 d7:command4:ping'), error('Invalid NG data format'));
    assert.deepEqual(await ask('k5', 'k5 li1ee'), error('Invalid NG data format'));
    assert.deepEqual(await ask('k6', 'k6 '), error('Invalid NG data format'));
    assert.deepEqual(await ask('k6b', 'k6b d7:command4:pingexx'), error('Invalid NG data format'));
    assert.deepEqual(await ask('k7', 'k7 d7:command9:__proto__e'), error('Unrecognized command'));
    assert.deepEqual(await ask('k8', 'k8 d7:command7:explodee'), error('handler failed'));
    assert.deepEqual(await ask('k9', wire('k9', { command: 'throw-string' })), error('Internal error'));
    assert.equal((await ask('k10', wire('k10', { command: 'not-a-dict' }))).result, 'error');
    assert.equal((await ask('k11', wire('k11', { command: 'unencodable' }))).result, 'error');
    assert.deepEqual(
      await ask('k12', wire('k12', { command: 'huge' })),
      error('Reply too large for one datagram'),
    );
  });

  test('a datagram without a cookie is dropped without a reply', async () => {
    const drops: NgDropEvent[] = [];
    const onDrop = (m: unknown) => drops.push(m as NgDropEvent);
    subscribe(ngDropChannel.name, onDrop);
    try {
      const before = probe.received.length;
      probe.send('d7:command4:pinge', port);
      probe.send(' d7:command4:pinge', port);
      // Datagrams from one socket are handled in order: once this is answered, the two above were seen.
      await probe.exchange('after d7:command4:pinge', port, 'after');
      assert.equal(probe.received.length, before + 1, 'only the ping was answered');
      assert.deepEqual(
        drops.map((d) => d.reason),
        ['no-cookie', 'no-cookie'],
      );
    } finally {
      unsubscribe(ngDropChannel.name, onDrop);
    }
  });

  test('fuzz: every cookie-carrying random or mutated datagram gets exactly one well-formed reply', async () => {
    const commands = ['ping', 'list', 'statistics', 'offer', 'explode', 'nope'];
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)),
      fc
        .tuple(fc.constantFrom(...commands), fc.nat(), fc.integer({ min: 0, max: 255 }))
        .map(([command, at, byte]) => {
          const bytes = Buffer.from(encode({ command, 'call-id': 'fz', sdp: 'v=0' }));
          bytes[at % bytes.length] = byte;
          return bytes;
        }),
      fc.constantFrom(...commands).map((command) => encode({ command })),
    );
    const samples = fc.sample(body, 400);
    for (const [i, bytes] of samples.entries()) {
      const cookie = `fz${i}`;
      const reply = readReply(
        await probe.exchange(Buffer.concat([Buffer.from(`${cookie} `), bytes]), port, cookie),
      );
      assert.equal(reply.cookie, cookie);
      assert.ok(['ok', 'pong', 'error'].includes(String(reply.body.result)), String(reply.body.result));
      if (reply.body.result === 'error') assert.equal(typeof reply.body['error-reason'], 'string');
    }
  });

  test('fuzz: random datagrams never stop the server; it still answers ping afterwards', async () => {
    const blaster = await createUdpProbe();
    const client = createNgClient({ host: '127.0.0.1', port, timeoutMs: 200, retries: 25 });
    try {
      const samples = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), 2000);
      for (const [i, bytes] of samples.entries()) {
        blaster.send(Buffer.from(bytes), port);
        // Pace the burst a little; a loopback receive buffer still may drop some, which UDP allows.
        if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
      }
      await client.ping(); // retransmits if its ping is among the dropped
    } finally {
      await client.close();
      await blaster.close();
    }
  });
});

describe('ng control server lifecycle and cache bounds', () => {
  test('cacheTtlMs: 0 turns the cache off: a repeated cookie runs again', async () => {
    let runs = 0;
    const server = await createNgControlServer({
      host: '127.0.0.1',
      port: 0,
      cacheTtlMs: 0,
      handlers: { count: () => ({ runs: ++runs }) },
    });
    const probe = await createUdpProbe();
    try {
      const msg = wire('same', { command: 'count' });
      const a = readReply(await probe.exchange(msg, server.address().port, 'same')).body;
      const b = readReply(await probe.exchange(msg, server.address().port, 'same')).body;
      assert.deepEqual([a.runs, b.runs], [1, 2]);
    } finally {
      await probe.close();
      await server.close();
    }
  });

  test('cacheMaxEntries bounds the cache: the oldest reply is forgotten first', async () => {
    let runs = 0;
    const server = await createNgControlServer({
      host: '127.0.0.1',
      port: 0,
      cacheMaxEntries: 2,
      handlers: { count: () => ({ runs: ++runs }) },
    });
    const probe = await createUdpProbe();
    const port = server.address().port;
    const ask = async (cookie: string) =>
      readReply(await probe.exchange(wire(cookie, { command: 'count' }), port, cookie)).body.runs;
    try {
      assert.deepEqual([await ask('a'), await ask('b'), await ask('c')], [1, 2, 3]);
      assert.equal(await ask('c'), 3, 'c is cached');
      assert.equal(await ask('b'), 2, 'b is cached');
      assert.equal(await ask('a'), 4, 'a was evicted and ran again');
    } finally {
      await probe.close();
      await server.close();
    }
  });

  test('cacheMaxBytes bounds the bytes the cached replies hold: large replies evict the oldest', async () => {
    // Found by the socket fuzzer: offers whose rewritten SDP is near 64 KiB, each under a fresh cookie, kept
    // 10,000 replies (about 640 MiB) in the cache for 30 s.
    let runs = 0;
    const server = await createNgControlServer({
      host: '127.0.0.1',
      port: 0,
      cacheMaxBytes: 2500,
      handlers: {
        big: () => ({ runs: ++runs, blob: 'x'.repeat(1000) }),
        huge: () => ({ runs: ++runs, blob: 'x'.repeat(3000) }),
      },
    });
    const probe = await createUdpProbe();
    const port = server.address().port;
    const ask = async (cookie: string, command = 'big') =>
      readReply(await probe.exchange(wire(cookie, { command }), port, cookie)).body.runs;
    try {
      assert.deepEqual([await ask('a'), await ask('b')], [1, 2]);
      assert.equal(await ask('b'), 2, 'two replies of ~1 KiB fit: b is cached');
      assert.equal(await ask('a'), 1, 'a is cached');
      assert.equal(await ask('c'), 3, 'c runs');
      assert.equal(await ask('a'), 4, 'a, the oldest, made room for c and ran again');
      assert.equal(await ask('c'), 3, 'c is cached');
      assert.equal(await ask('h', 'huge'), 5);
      assert.equal(await ask('h', 'huge'), 6, 'a reply over the whole bound is not kept');
    } finally {
      await probe.close();
      await server.close();
    }
  });

  test('cached replies expire after cacheTtlMs', async () => {
    let runs = 0;
    const server = await createNgControlServer({
      host: '127.0.0.1',
      port: 0,
      cacheTtlMs: 5,
      handlers: { count: () => ({ runs: ++runs }) },
    });
    const probe = await createUdpProbe();
    const port = server.address().port;
    try {
      const msg = wire('ttl', { command: 'count' });
      assert.equal(readReply(await probe.exchange(msg, port, 'ttl')).body.runs, 1);
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(readReply(await probe.exchange(msg, port, 'ttl')).body.runs, 2, 'expired, ran again');
    } finally {
      await probe.close();
      await server.close();
    }
  });

  test('close() while a handler runs: no reply, no crash, the port is free again', async () => {
    const gate = { release: () => {} };
    let markStarted!: () => void;
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    const server = await createNgControlServer({
      host: '127.0.0.1',
      port: 0,
      handlers: {
        slow: () =>
          new Promise((resolve) => {
            gate.release = () => resolve({ late: 1 });
            markStarted();
          }),
      },
    });
    const port = server.address().port;
    const probe = await createUdpProbe();
    try {
      probe.send(wire('late', { command: 'slow' }), port);
      await started;
      await server.close();
      await server.close(); // idempotent
      gate.release();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(probe.received.length, 0);
      const again = await createNgControlServer({ host: '127.0.0.1', port });
      assert.equal(again.address().port, port);
      await again.close();
    } finally {
      await probe.close();
    }
  });

  test('the socket asks for a 4 MiB receive buffer (a stall queues offers instead of dropping them); 0 keeps the system default', async () => {
    const sized = await createNgControlServer({ host: '127.0.0.1', port: 0 });
    const system = await createNgControlServer({ host: '127.0.0.1', port: 0, receiveBufferBytes: 0 });
    try {
      // Linux grants min(asked, net.core.rmem_max) and reports twice that; rmem_max is at least the default.
      assert.ok(
        sized.receiveBufferSize() > system.receiveBufferSize(),
        `${sized.receiveBufferSize()} B against the system's ${system.receiveBufferSize()} B`,
      );
    } finally {
      await sized.close();
      await system.close();
    }
  });

  test('binding a port in use rejects with the socket error', async () => {
    const first = await createNgControlServer({ host: '127.0.0.1', port: 0 });
    try {
      await assert.rejects(
        createNgControlServer({ host: '127.0.0.1', port: first.address().port }),
        (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE',
      );
    } finally {
      await first.close();
    }
  });
});
