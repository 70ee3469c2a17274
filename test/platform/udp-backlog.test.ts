// The SIP port's UDP queue as the kernel reports it (src/platform/udp-backlog.ts): read from /proc/net/udp for a
// socket whose process is stopped while datagrams pile up and are dropped; the watch's hysteresis; and the
// binary under a flood it cannot read in time (stopped with SIGSTOP): new requests answered 503 with Retry-After
// while its queue overflowed, served again once it drained.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { readUdpQueue, watchUdpBacklog, type UdpQueueReading } from '../../src/platform/udp-backlog.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';
import { sipRequest, udpRequest } from '../helpers/udp.js';
import { until } from '../helpers/rtp-party.js';

const skip = existsSync('/proc/net/udp') ? false : 'no /proc/net/udp (not Linux)';

/** Sends `count` datagrams of `size` bytes to `port` on loopback, and resolves once they are all sent. */
async function flood(port: number, count: number, payload: Buffer | string): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => socket.send(payload, port, '127.0.0.1', () => resolve()));
  }
  socket.close();
}

describe("the SIP port's UDP queue", { skip }, () => {
  test('readUdpQueue: the bytes queued and the datagrams dropped at a socket nobody reads', async () => {
    // A process binding a socket with a small buffer, then stopped: what arrives stays queued, then is dropped.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const s = require('node:dgram').createSocket({ type: 'udp4', recvBufferSize: 16384 });
         s.bind(0, '127.0.0.1', () => console.log(s.address().port));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
      const port = Number(line);
      const idle = readUdpQueue(port);
      assert.deepEqual(idle, { queuedBytes: 0, drops: 0 });
      child.kill('SIGSTOP');
      await flood(port, 300, Buffer.alloc(500, 1));
      const full = readUdpQueue(port);
      assert.ok(full, 'the socket is in /proc/net/udp');
      assert.ok(full.queuedBytes > 16384, `queued ${full.queuedBytes} bytes`);
      assert.ok(full.drops > 0, `dropped ${full.drops}`);
      assert.ok(full.drops < 300, 'not every datagram dropped: some were queued');
      assert.equal(readUdpQueue(1), undefined, 'a port nobody bound');
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('watchUdpBacklog: high after two readings in a row with a drop or a queue past the share, low after two calm ones under half of it', async () => {
    const readings: UdpQueueReading[] = [
      { queuedBytes: 0, drops: 7 }, // the first reading: drops before the watch are not counted
      { queuedBytes: 100, drops: 7 },
      { queuedBytes: 100, drops: 9 }, // dropped 2 once: a burst, not yet high
      { queuedBytes: 0, drops: 9 },
      { queuedBytes: 100, drops: 12 }, // dropped again
      { queuedBytes: 600, drops: 12 }, // and the queue past the share (0.5 of 1,000): two in a row, high
      { queuedBytes: 0, drops: 12 }, // calm 1
      { queuedBytes: 300, drops: 12 }, // between half and the share: not calm
      { queuedBytes: 0, drops: 12 }, // calm 1
      { queuedBytes: 0, drops: 12 }, // calm 2: low
      { queuedBytes: 600, drops: 12 },
      { queuedBytes: 0, drops: 15 }, // two in a row: high
      { queuedBytes: 0, drops: 0 }, // the socket bound again, its count from 0: calm 1, not a drop
      { queuedBytes: 0, drops: 0 }, // calm 2: low
    ];
    let at = 0;
    const changes: [boolean, number][] = [];
    let seen = 0;
    const watch = watchUdpBacklog({
      port: 5060,
      bufferBytes: () => 1000,
      highRatio: 0.5,
      intervalMs: 1,
      read: () => {
        seen = at;
        return readings[Math.min(at++, readings.length - 1)];
      },
      onChange: (high) => changes.push([high, seen]),
    });
    try {
      await until(() => at >= readings.length + 2);
      assert.deepEqual(changes, [
        [true, 5],
        [false, 9],
        [true, 11],
        [false, 13],
      ]);
      assert.equal(watch.high, false);
    } finally {
      watch.close();
    }
  });
});

describe('voxgate under a flood it cannot read in time', { skip }, () => {
  let vx: VoxgateProcess;
  before(async () => {
    // A small socket buffer (64 KiB asked) so that a few hundred datagrams overflow it.
    vx = await startVoxgate(['--target=all'], { VOXGATE_SIP_UDP_RECEIVE_BUFFER_KB: '64' });
  });
  after(async () => {
    if (vx.child.exitCode === null) {
      vx.child.kill('SIGCONT');
      await vx.stop();
    }
  });

  test('while the kernel drops at its SIP socket, new requests get 503 with Retry-After; after, 200 again', async () => {
    const port = vx.sipUdpPort!;
    assert.match((await udpRequest(port, sipRequest('OPTIONS', port))).toString('latin1'), /^SIP\/2\.0 200 /);
    // Stopped, the process reads nothing: a flood of OPTIONS fills its queue and the kernel drops the rest. Round
    // after round (the process let run a moment between them), so that readings in a row see drops, as a
    // sustained overload gives them and one burst does not.
    const overloaded = () => vx.logs.some((l) => String(l.msg).startsWith('SIP overload: the UDP socket'));
    for (let round = 0; round < 20 && !overloaded(); round++) {
      vx.child.kill('SIGSTOP');
      await flood(port, 600, sipRequest('OPTIONS', port));
      vx.child.kill('SIGCONT');
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    await until(overloaded, 5000);
    const warned = vx.logs.find((l) => String(l.msg).startsWith('SIP overload: the UDP socket'))!;
    assert.ok(Number(warned.dropped) > 0, JSON.stringify(warned));
    const refused = (await udpRequest(port, sipRequest('OPTIONS', port))).toString('latin1');
    assert.match(refused, /^SIP\/2\.0 503 /);
    assert.match(refused, /\r\nRetry-After: \d+/i);
    await until(
      () =>
        vx.logs.some(
          (l) => l.msg === 'SIP overload over: the UDP queue drained; new requests are taken again',
        ),
      15_000,
    );
    assert.match((await udpRequest(port, sipRequest('OPTIONS', port))).toString('latin1'), /^SIP\/2\.0 200 /);
    const metrics = await (await fetch(`${vx.httpUrl}/metrics`)).text();
    assert.match(metrics, /^voxgate_sip_requests_refused_total\{reason="overload"\} [1-9]\d*$/m);
    assert.match(metrics, /^voxgate_sip_overloaded 0$/m);
  });
});
