import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { UdpTransport } from '../../src/sip/transport/udp-transport.js';
import type { SendFailure } from '../../src/sip/transport/send-failure.js';
import { udpBatchSockets, type UdpBatchSockets } from '../../src/sip/transport/udp-batch.js';

/** A UDP socket on 127.0.0.1 that collects what it receives. */
async function receiver() {
  const socket = createSocket('udp4');
  const got: string[] = [];
  socket.on('message', (m) => got.push(m.toString()));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  // Gives up after a while (loopback delivers at once): the assertions after it then say what was missing.
  const waitFor = async (n: number) => {
    for (let i = 0; i < 400 && got.length < n; i++) await new Promise((r) => setTimeout(r, 5));
  };
  return { socket, got, waitFor, port: socket.address().port };
}

const nextTurn = () => new Promise((r) => setImmediate(r));

// On Node's dgram the transport holds a turn's sends itself; on the native socket outside a batch they go at
// once. Both keep the order, send what was queued before closing, and tell a failed send late.
const nativeSockets = udpBatchSockets();
const kinds: [string, UdpBatchSockets | undefined][] = [['dgram', undefined]];
if (!(nativeSockets instanceof Error)) kinds.push(['native', nativeSockets]);
else if (process.env.CI) throw nativeSockets;

for (const [kind, native] of kinds) {
  describe(`UDP sends of one event loop turn leave together at its end (${kind} socket)`, () => {
    test('in the order they were sent', async () => {
      const peer = await receiver();
      const udp = await UdpTransport.bind('127.0.0.1', 0, 65_535, () => undefined, undefined, native);
      try {
        for (let i = 0; i < 5; i++)
          assert.equal(udp.send(Buffer.from(`m${i}`), { address: '127.0.0.1', port: peer.port }), undefined);
        await peer.waitFor(5);
        assert.deepEqual(peer.got, ['m0', 'm1', 'm2', 'm3', 'm4']);
      } finally {
        await udp.close();
        peer.socket.close();
      }
    });

    test('close() sends what the turn queued before closing the socket', async () => {
      const peer = await receiver();
      const udp = await UdpTransport.bind('127.0.0.1', 0, 65_535, () => undefined, undefined, native);
      const failures: SendFailure[] = [];
      udp.send(Buffer.from('last words'), { address: '127.0.0.1', port: peer.port }, (f) => failures.push(f));
      await udp.close();
      await peer.waitFor(1);
      assert.deepEqual(peer.got, ['last words']);
      assert.deepEqual(failures, []);
      peer.socket.close();
    });

    test('a socket that cannot send (closed) is told to onLateFailure, not thrown', async () => {
      const udp = await UdpTransport.bind('127.0.0.1', 0, 65_535, () => undefined, undefined, native);
      await udp.close();
      const failures: SendFailure[] = [];
      const now = udp.send(Buffer.from('x'), { address: '127.0.0.1', port: 9 }, (f) => failures.push(f));
      assert.equal(now, undefined);
      await nextTurn();
      assert.equal(failures.length, 1);
      assert.equal(failures[0]?.reason, 'socket-error');
    });

    test('a destination that must not be used is still refused at once', async () => {
      const udp = await UdpTransport.bind('127.0.0.1', 0, 65_535, () => undefined, undefined, native);
      try {
        assert.equal(udp.send(Buffer.from('x'), { address: '127.0.0.1', port: 0 })?.reason, 'bad-port');
      } finally {
        await udp.close();
      }
    });
  });
}
