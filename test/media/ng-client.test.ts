import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  BencodeError,
  NgBadReplyError,
  NgClientClosedError,
  NgErrorReply,
  NgTimeoutError,
  createNgClient,
  createNgControlServer,
  ngClientChannel,
  ngCommandChannel,
  type NgClientEvent,
  type NgCommandEvent,
  type NgControlServer,
} from '../../src/media/index.js';
import { createLossyRelay } from '../helpers/lossy-relay.js';
import { createUdpProbe, type UdpProbe } from '../helpers/udp-probe.js';
import { udpBatchSockets } from '../../src/sip/index.js';

// Each case on Node.js dgram and on the native batched sockets the sip-gateway gives its clients (under CI the
// addon is built by `npm test`: its absence is a failure there).
const native = udpBatchSockets();
if (native instanceof Error && process.env.CI) throw native;
const transports = [
  { transport: 'dgram', extra: {} },
  ...(native instanceof Error ? [] : [{ transport: 'native batched sockets', extra: { udp: native } }]),
];

/** Collects what a diagnostics channel publishes while `fn` runs. */
async function recording<T>(name: string | symbol, fn: () => Promise<void>): Promise<T[]> {
  const seen: T[] = [];
  const onMessage = (m: unknown) => seen.push(m as T);
  subscribe(name, onMessage);
  try {
    await fn();
  } finally {
    unsubscribe(name, onMessage);
  }
  return seen;
}

for (const { transport, extra } of transports) {
  describe(`ng client against the voxgate ng server (${transport})`, () => {
    let server: NgControlServer;
    let offers = 0;

    before(async () => {
      server = await createNgControlServer({
        host: '127.0.0.1',
        port: 0,
        handlers: {
          offer: (args) => {
            offers++;
            return { sdp: `rewritten ${String(args.sdp)}`, 'call-id': args['call-id'] ?? '' };
          },
          busy: () => ({ result: 'load limit', message: 'too busy' }),
          fail: () => {
            throw new Error('no such call');
          },
          'no-result': () => ({ result: 7 }),
        },
      });
    });
    after(() => server.close());

    test('ping, and a command with arguments, each under a fresh cookie', async () => {
      const client = createNgClient({ ...extra, host: '127.0.0.1', port: server.address().port });
      try {
        const events = await recording<NgCommandEvent>(ngCommandChannel.name, async () => {
          await client.ping();
          const reply = await client.request('offer', { 'call-id': 'abc', sdp: 'v=0' });
          assert.deepEqual(reply, { result: 'ok', sdp: 'rewritten v=0', 'call-id': 'abc' });
        });
        assert.deepEqual(
          events.map((e) => e.command),
          ['ping', 'offer'],
        );
        assert.notEqual(events[0]?.cookie, events[1]?.cookie);
      } finally {
        await client.close();
      }
    });

    test('error replies become NgErrorReply with the reason', async () => {
      const client = createNgClient({ ...extra, host: '127.0.0.1', port: server.address().port });
      try {
        await assert.rejects(client.request('frobnicate'), (err: unknown) => {
          assert.ok(err instanceof NgErrorReply);
          assert.equal(err.code, 'NG_ERROR_REPLY');
          assert.equal(err.result, 'error');
          assert.equal(err.reason, 'Unrecognized command');
          assert.equal(err.command, 'frobnicate');
          return true;
        });
        await assert.rejects(
          client.request('fail'),
          (err: unknown) => err instanceof NgErrorReply && err.reason === 'no such call',
        );
        await assert.rejects(
          client.request('busy'),
          (err: unknown) =>
            err instanceof NgErrorReply && err.result === 'load limit' && err.reason === 'too busy',
        );
        await assert.rejects(client.request('no-result'), NgBadReplyError);
      } finally {
        await client.close();
      }
    });

    test('a lost reply: the client retransmits the same cookie, the server answers from its cache', async () => {
      const relay = await createLossyRelay(server.address().port, 1);
      const client = createNgClient({
        ...extra,
        host: '127.0.0.1',
        port: relay.port,
        timeoutMs: 100,
        retries: 5,
      });
      const before = offers;
      try {
        let clientEvents: NgClientEvent[] = [];
        const serverEvents = await recording<NgCommandEvent>(ngCommandChannel.name, async () => {
          clientEvents = await recording<NgClientEvent>(ngClientChannel.name, async () => {
            const reply = await client.request('offer', { 'call-id': 'lossy', sdp: 'v=0' });
            assert.equal(reply.sdp, 'rewritten v=0');
          });
        });
        assert.equal(relay.dropped(), 1);
        assert.equal(offers, before + 1, 'the handler ran once');
        assert.equal(clientEvents.length, 1);
        assert.equal(clientEvents[0]?.outcome, 'ok');
        assert.ok((clientEvents[0]?.attempts ?? 0) >= 2, 'retransmitted');
        const cookie = clientEvents[0]?.cookie;
        assert.ok(serverEvents.length >= 2);
        assert.ok(
          serverEvents.every((e) => e.cookie === cookie),
          'every attempt carried the same cookie',
        );
        assert.deepEqual(
          serverEvents.map((e) => e.cached),
          [false, ...serverEvents.slice(1).map(() => true)],
        );
      } finally {
        await client.close();
        await relay.close();
      }
    });
  });

  describe(`ng client against a hand-driven peer (${transport})`, () => {
    let peer: UdpProbe;
    before(async () => {
      peer = await createUdpProbe();
    });
    after(() => peer.close());

    test('no reply: NgTimeoutError after 1 + retries identical datagrams', async () => {
      const client = createNgClient({
        ...extra,
        host: '127.0.0.1',
        port: peer.port,
        timeoutMs: 20,
        retries: 3,
      });
      const before = peer.received.length;
      try {
        await assert.rejects(client.request('ping'), (err: unknown) => {
          assert.ok(err instanceof NgTimeoutError);
          assert.equal(err.code, 'NG_TIMEOUT');
          assert.equal(err.attempts, 4);
          return true;
        });
        const sent = peer.received.slice(before);
        assert.equal(sent.length, 4);
        assert.ok(
          sent.every((d) => d.equals(sent[0]!)),
          'retransmissions are byte-identical',
        );
      } finally {
        await client.close();
      }
    });

    /** Has the client send `command`, answers it with `reply(cookie)`, and returns the request's promise. */
    async function answered(command: string, reply: (cookie: string) => (string | Buffer)[]) {
      const client = createNgClient({
        ...extra,
        host: '127.0.0.1',
        port: peer.port,
        timeoutMs: 5000,
        retries: 0,
      });
      const next = peer.next();
      const result = client.request(command);
      const { datagram, from } = await next;
      const cookie = datagram.toString('latin1', 0, datagram.indexOf(0x20));
      for (const bytes of reply(cookie)) peer.send(bytes, from.port);
      return { result, client };
    }

    test('stray replies with other cookies are ignored; the matching one is taken', async () => {
      const { result, client } = await answered('list', (cookie) => [
        'someone-else d6:result5:error12:error-reason3:bade',
        'garbage without a body',
        `${cookie} d5:callsl2:c1e6:result2:oke`,
      ]);
      try {
        assert.deepEqual(await result, { calls: ['c1'], result: 'ok' });
      } finally {
        await client.close();
      }
    });

    test('an unreadable reply under our cookie is NgBadReplyError', async () => {
      const { result, client } = await answered('list', (cookie) => [`${cookie} d6:result`]);
      try {
        await assert.rejects(
          result,
          (err: unknown) => err instanceof NgBadReplyError && err.code === 'NG_BAD_REPLY',
        );
      } finally {
        await client.close();
      }
    });

    test('ping answered with something other than pong is NgBadReplyError', async () => {
      const client = createNgClient({
        ...extra,
        host: '127.0.0.1',
        port: peer.port,
        timeoutMs: 5000,
        retries: 0,
      });
      try {
        const next = peer.next();
        const ping = client.ping();
        const { datagram, from } = await next;
        const cookie = datagram.toString('latin1', 0, datagram.indexOf(0x20));
        peer.send(`${cookie} d6:result2:oke`, from.port);
        await assert.rejects(ping, NgBadReplyError);
      } finally {
        await client.close();
      }
    });

    test('close() rejects pending requests; requests after close reject at once', async () => {
      const client = createNgClient({
        ...extra,
        host: '127.0.0.1',
        port: peer.port,
        timeoutMs: 5000,
        retries: 0,
      });
      const next = peer.next();
      const pending = client.request('offer', { sdp: 'v=0' });
      await next;
      await client.close();
      await assert.rejects(
        pending,
        (err: unknown) => err instanceof NgClientClosedError && err.code === 'NG_CLIENT_CLOSED',
      );
      await assert.rejects(client.request('ping'), NgClientClosedError);
      await client.close(); // idempotent
    });

    test('arguments bencode cannot carry reject with BencodeError before anything is sent', async () => {
      const client = createNgClient({ ...extra, host: '127.0.0.1', port: peer.port });
      const before = peer.received.length;
      try {
        await assert.rejects(client.request('offer', { ratio: 0.5 }), BencodeError);
        assert.equal(peer.received.length, before);
      } finally {
        await client.close();
      }
    });
  });
}
