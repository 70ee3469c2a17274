// The native batched UDP sockets (native/udp-batch, src/sip/transport/udp-batch.ts) against Node's dgram
// sockets as the far end: what the relay's data plane relies on — binding (and a taken port), the source of each
// packet, every packet of a burst larger than one batch delivered in order, the replies queued during a batch all
// sent, handlers keeping their packet (or, on the relay's lending sockets, reading it whole while it is lent), IPv6,
// the largest datagram, and closing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import {
  relaySockets,
  type PacketSource,
  type RelaySocket,
  type RelaySockets,
} from '../../src/media/index.js';
import { udpBatchSockets, type UdpBatchSockets } from '../../src/sip/index.js';
import { until } from '../helpers/rtp-party.js';

const native = udpBatchSockets();
// Under CI the addon is built by `npm test` (npm run build): its absence is a failure there.
const skip = native instanceof Error && !process.env.CI ? native.message : false;

async function peer(
  type: 'udp4' | 'udp6' = 'udp4',
): Promise<{ socket: Socket; port: number; got: Buffer[] }> {
  const socket = createSocket(type);
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1');
  await once(socket, 'listening');
  return { socket, port: socket.address().port, got };
}

async function bindFree(sockets: RelaySockets, host: string): Promise<{ socket: RelaySocket; port: number }> {
  for (let tries = 0; tries < 50; tries++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const socket = await sockets.bind(host, port);
    if (socket) return { socket, port };
  }
  throw new Error('no free port');
}

describe('native batched UDP sockets', { skip }, () => {
  let sockets: RelaySockets;
  const opened: RelaySocket[] = [];
  const peers: Socket[] = [];
  before(() => {
    assert.ok(!(native instanceof Error), native instanceof Error ? native.message : '');
    sockets = native as RelaySockets;
  });
  after(() => {
    for (const s of opened) s.close();
    for (const p of peers) p.close();
  });
  const open = async (host = '127.0.0.1') => {
    const bound = await bindFree(sockets, host);
    opened.push(bound.socket);
    return bound;
  };
  const far = async (type: 'udp4' | 'udp6' = 'udp4') => {
    const p = await peer(type);
    peers.push(p.socket);
    return p;
  };

  test('VOXGATE_MEDIA_UDP: auto and native take the addon here, dgram takes Node.js dgram', () => {
    assert.equal(relaySockets('auto').sockets.kind, 'native');
    assert.equal(relaySockets('native').sockets.kind, 'native');
    assert.equal(relaySockets('dgram').sockets.kind, 'dgram');
  });

  test('a port already bound is refused (undefined; open() says EADDRINUSE); port 0 takes a free one', async () => {
    const { port } = await open();
    assert.equal(await sockets.bind('127.0.0.1', port), undefined);
    const refused = (native as UdpBatchSockets).open('127.0.0.1', port);
    assert.ok(refused instanceof Error);
    assert.equal(refused.code, 'EADDRINUSE');
    const any = (native as UdpBatchSockets).open('127.0.0.1', 0);
    assert.ok(!(any instanceof Error));
    opened.push(any);
    assert.ok(any.localPort() > 0);
    // SO_RCVBUF: Linux reports twice what it granted (its bookkeeping).
    assert.ok(any.setReceiveBuffer(65_536));
    assert.equal(any.receiveBuffer(), 131_072);
  });

  test('packets arrive with their source; a reply sent from the handler reaches the sender', async () => {
    const { socket, port } = await open();
    const p = await far();
    const sources: PacketSource[] = [];
    socket.onPacket = (packet, from) => {
      sources.push(from);
      socket.send(Buffer.concat([Buffer.from('re:'), packet]), from.port, from.address);
    };
    p.socket.send('hello', port, '127.0.0.1');
    await until(() => p.got.length === 1);
    assert.equal(p.got[0]!.toString(), 're:hello');
    assert.deepEqual(sources, [{ address: '127.0.0.1', port: p.port }]);
  });

  test('500 packets in bursts of 100 (more than a batch) on two sockets: all delivered in order, all replies sent', async () => {
    const a = await open();
    const b = await open();
    const p = await far();
    const seen: Record<string, number[]> = { a: [], b: [] };
    const kept: Buffer[] = [];
    for (const [name, s] of [
      ['a', a],
      ['b', b],
    ] as const) {
      s.socket.onPacket = (packet, from) => {
        kept.push(packet);
        seen[name]!.push(packet.readUInt32BE(0));
        s.socket.send(packet, from.port, from.address);
      };
    }
    // Rounds of 100 (more than one batch of 64): a larger burst would overflow the far end's receive buffer
    // (212,992 bytes by default) with the replies, which is the kernel's loss, not the relay's.
    for (let round = 0; round < 5; round++) {
      for (let i = round * 50; i < (round + 1) * 50; i++) {
        const packet = Buffer.alloc(172, i & 0xff);
        packet.writeUInt32BE(i, 0);
        p.socket.send(packet, a.port, '127.0.0.1');
        p.socket.send(packet, b.port, '127.0.0.1');
      }
      await until(() => p.got.length === (round + 1) * 100, 5000);
    }
    const ordered = Array.from({ length: 250 }, (_, i) => i);
    assert.deepEqual(seen.a, ordered);
    assert.deepEqual(seen.b, ordered);
    // Each handler's packet is its own: none was overwritten by a later batch.
    for (const packet of kept) {
      assert.equal(packet.length, 172);
      assert.equal(packet[171], packet.readUInt32BE(0) & 0xff);
    }
    assert.equal(p.got.filter((m) => m.length === 172).length, 500);
  });

  test("a lending socket (the relay's): each packet whole while the handler runs, in bursts of mixed lengths, the source reused", async () => {
    const relay = relaySockets('native').sockets;
    const bound = await bindFree(relay, '127.0.0.1');
    opened.push(bound.socket);
    const p = await far();
    const lengths = [172, 60, 172, 172, 1200, 12];
    const seen: { n: number; length: number; whole: boolean }[] = [];
    const sources = new Set<PacketSource>();
    bound.socket.onPacket = (packet, from) => {
      const n = packet.readUInt32BE(0);
      seen.push({ n, length: packet.length, whole: packet.every((byte, i) => i < 4 || byte === (n & 0xff)) });
      sources.add(from);
      assert.deepEqual({ ...from }, { address: '127.0.0.1', port: p.port, receivedAt: 0 });
      // A relay sends the lent packet on: the send copies it before the view is reused.
      bound.socket.send(packet, from.port, from.address);
    };
    for (let round = 0; round < 4; round++) {
      for (let i = round * 100; i < (round + 1) * 100; i++) {
        const packet = Buffer.alloc(lengths[i % lengths.length]!, i & 0xff);
        packet.writeUInt32BE(i, 0);
        p.socket.send(packet, bound.port, '127.0.0.1');
      }
      await until(() => p.got.length === (round + 1) * 100, 5000);
    }
    assert.deepEqual(
      seen.map((s) => s.n),
      Array.from({ length: 400 }, (_, i) => i),
    );
    assert.deepEqual(
      seen.filter((s) => !s.whole || s.length !== lengths[s.n % lengths.length]),
      [],
    );
    assert.equal(sources.size, 1, 'one source object lent for every packet');
    // What went back out is what came in, packet by packet.
    for (const echoed of p.got) {
      const n = echoed.readUInt32BE(0);
      assert.equal(echoed.length, lengths[n % lengths.length]);
      assert.equal(echoed[echoed.length - 1], echoed.length > 4 ? n & 0xff : echoed[3]);
    }
  });

  test('a send outside a batch (a timer) goes at once', async () => {
    const { socket } = await open();
    const p = await far();
    socket.send(Buffer.from('from a timer'), p.port, '127.0.0.1');
    await until(() => p.got.length === 1);
    assert.equal(p.got[0]!.toString(), 'from a timer');
  });

  test("stamped receipts: the kernel's arrival time, taken before the process was free to read; unstamped sockets carry none", async () => {
    const batch = native as UdpBatchSockets;
    const open = () => {
      const socket = batch.open('127.0.0.1', 0);
      if (socket instanceof Error) throw socket;
      return socket;
    };
    const [stamped, lent, plain, sender] = [open(), open(), open(), open()];
    try {
      assert.equal(stamped.stampReceipts(), true);
      assert.equal(lent.stampReceipts(), true);
      lent.lend = true;
      const got: { socket: string; receivedAt: number | undefined }[] = [];
      stamped.onPacket = (_, from) => got.push({ socket: 'stamped', receivedAt: from.receivedAt });
      lent.onPacket = (_, from) => got.push({ socket: 'lent', receivedAt: from.receivedAt });
      plain.onPacket = (_, from) => got.push({ socket: 'plain', receivedAt: from.receivedAt });
      const before = batch.realtimeMs();
      // Outside a batch a send goes at once, and loopback delivers it within the send.
      for (const to of [stamped, lent, plain])
        sender.send(Buffer.from('stamp me'), to.localPort(), '127.0.0.1');
      // This process is busy for 60 ms before it reads anything.
      while (batch.realtimeMs() < before + 60);
      const busyUntil = batch.realtimeMs();
      await until(() => got.length === 3);
      const of = (socket: string) => got.find((g) => g.socket === socket)!.receivedAt;
      for (const socket of ['stamped', 'lent']) {
        const at = of(socket)!;
        assert.ok(at >= before, `${socket}: stamped at ${at}, not before the send at ${before}`);
        assert.ok(at < busyUntil - 30, `${socket}: stamped at ${at - before} ms, at arrival, not when read`);
      }
      assert.equal(of('plain'), undefined, 'a socket that did not ask has no stamp');
      assert.ok(Math.abs(batch.realtimeMs() - Date.now()) < 50, 'realtimeMs is the system clock');
    } finally {
      for (const socket of [stamped, lent, plain, sender]) socket.close();
    }
  });

  test('corked: sends wait for the last uncork(), then leave in order', async () => {
    const { socket } = await open();
    const p = await far();
    const batch = native as UdpBatchSockets;
    batch.cork();
    batch.cork();
    for (const text of ['one', 'two', 'three']) socket.send(Buffer.from(text), p.port, '127.0.0.1');
    batch.uncork();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(p.got, [], 'nothing left before the last uncork');
    batch.uncork();
    await until(() => p.got.length === 3);
    assert.deepEqual(
      (p.got as Buffer[]).map((m) => m.toString()),
      ['one', 'two', 'three'],
    );
  });

  test('a socket opened for child processes (openShared) is read where it is adopted; a file is not adopted', async () => {
    const batch = native as UdpBatchSockets;
    const fd = batch.openShared('127.0.0.1', 0);
    assert.ok(typeof fd === 'number', String(fd));
    const socket = batch.adopt(fd, '127.0.0.1');
    assert.ok(!(socket instanceof Error), String(socket));
    opened.push(socket);
    const got: string[] = [];
    socket.onPacket = (packet) => got.push(packet.toString());
    const p = await far();
    p.socket.send('shared', socket.localPort(), '127.0.0.1');
    await until(() => got.length === 1);
    assert.deepEqual(got, ['shared']);
    const file = openSync(process.execPath, 'r');
    try {
      const refused = batch.adopt(file, '127.0.0.1');
      assert.ok(refused instanceof Error);
      assert.equal(refused.code, 'ENOTSOCK');
    } finally {
      closeSync(file);
    }
  });

  test('IPv6: a socket on ::1 receives with the IPv6 source and replies', async () => {
    const { socket, port } = await open('::1');
    const p = await far('udp6');
    const sources: PacketSource[] = [];
    socket.onPacket = (packet, from) => {
      sources.push(from);
      socket.send(packet, from.port, from.address);
    };
    p.socket.send('six', port, '::1');
    await until(() => p.got.length === 1);
    assert.deepEqual(sources, [{ address: '::1', port: p.port }]);
  });

  test('IPv6: replies queued while a batch is handled, and sends while corked, reach each party in order', async () => {
    const { socket, port } = await open('::1');
    const [p, q] = [await far('udp6'), await far('udp6')];
    socket.onPacket = (packet, from) => socket.send(packet, from.port, from.address);
    for (let i = 0; i < 40; i++) {
      p.socket.send(`p${i}`, port, '::1');
      q.socket.send(`q${i}`, port, '::1');
    }
    await until(() => p.got.length === 40 && q.got.length === 40);
    assert.deepEqual(
      p.got.map(String),
      Array.from({ length: 40 }, (_, i) => `p${i}`),
    );
    assert.deepEqual(
      q.got.map(String),
      Array.from({ length: 40 }, (_, i) => `q${i}`),
    );
    const batch = native as UdpBatchSockets;
    batch.cork();
    for (let i = 0; i < 3; i++) socket.send(Buffer.from(`corked${i}`), p.port, '::1');
    assert.equal(p.got.length, 40, 'nothing leaves while corked');
    batch.uncork();
    await until(() => p.got.length === 43);
    assert.deepEqual(p.got.slice(40).map(String), ['corked0', 'corked1', 'corked2']);
  });

  test('IPv6: an IPv4 party of a dual-stack socket is answered at its mapped address; a scoped address is sent at once', async () => {
    const { socket, port } = await open('::');
    const p = await far('udp4');
    const sources: PacketSource[] = [];
    socket.onPacket = (packet, from) => {
      sources.push(from);
      socket.send(packet, from.port, from.address);
    };
    p.socket.send('four', port, '127.0.0.1');
    await until(() => p.got.length === 1);
    assert.equal(String(p.got[0]), 'four');
    assert.equal(sources[0]!.port, p.port);
    // A zone index is not an address the queue carries: it goes through sendto at once (refused here, as the
    // zone does not exist), and the queue's other sends are not disturbed.
    const batch = native as UdpBatchSockets;
    batch.cork();
    assert.doesNotThrow(() => socket.send(Buffer.from('scoped'), 9, 'fe80::1%nonexistent0'));
    socket.send(Buffer.from('after'), p.port, '127.0.0.1');
    batch.uncork();
    await until(() => p.got.length === 2);
    assert.equal(String(p.got[1]), 'after');
  });

  test('the largest datagram UDP carries over IPv4 (65,507 bytes) passes whole, and is relayed whole', async () => {
    const { socket, port } = await open();
    const p = await far();
    p.socket.setSendBufferSize(1 << 20);
    const sizes: number[] = [];
    socket.onPacket = (packet, from) => {
      sizes.push(packet.length);
      socket.send(packet, from.port, from.address);
    };
    p.socket.send(Buffer.alloc(65_507, 7), port, '127.0.0.1');
    await until(() => p.got.length === 1);
    assert.deepEqual(sizes, [65_507]);
    assert.equal(p.got[0]!.length, 65_507);
    assert.equal((native as UdpBatchSockets).stats().truncated, 0);
  });

  test('closed: no more packets reach the handler, the port can be bound again, sends are ignored', async () => {
    const { socket, port } = await open();
    const p = await far();
    let count = 0;
    socket.onPacket = () => count++;
    p.socket.send('one', port, '127.0.0.1');
    await until(() => count === 1);
    socket.close();
    socket.send(Buffer.from('after close'), p.port, '127.0.0.1');
    const again = await sockets.bind('127.0.0.1', port);
    assert.ok(again, 'the port is free again');
    opened.push(again);
    p.socket.send('two', port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(count, 1);
    assert.equal(p.got.length, 0);
  });
});
