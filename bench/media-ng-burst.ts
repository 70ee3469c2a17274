/**
 * What the relay's ng socket holds through a stall: N offers (real SDPs, ~600 bytes, as the gateway sends
 * them) arrive while the relay's process is stopped (SIGSTOP) for `--stop-ms` — a collection, a CPU taken by
 * another process — and the bench counts those answered once it runs again, without retransmission: the rest
 * were dropped by the kernel when the socket's receive buffer was full (the gateway's ng client would resend
 * them after its 1 s timeout). Each `--buffers` entry is one relay process (`bench/media-relay-server.ts`).
 * Usage: node --import tsx bench/media-ng-burst.ts [--offers=300,1000,3000] [--stop-ms=200] [--buffers=0,default]
 *   (buffers in KiB; 0: the system's default, `default`: the ng server's own)
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encode } from '../src/media/index.js';
import { stop, waitForOutput } from './support.js';

const { values } = parseArgs({
  options: {
    offers: { type: 'string', default: '300,1000,3000' },
    'stop-ms': { type: 'string', default: '200' },
    buffers: { type: 'string', default: '0,default' },
  },
});
const stopMs = Number(values['stop-ms']);

const sdp = (i: number) =>
  `v=0\r\no=- ${i} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n` +
  `m=audio ${20000 + 2 * (i % 10000)} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n` +
  `a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n`;

async function burst(buffer: string, offers: number): Promise<string> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(import.meta.dirname, 'media-relay-server.ts'),
      '--port-min=50000',
      '--port-max=59999',
      '--timeout-ms=0',
      ...(buffer === 'default' ? [] : [`--ng-receive-buffer-kb=${buffer}`]),
    ],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  const port = Number(await waitForOutput(child, /^ng (\d+)$/m, 'stdout'));
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    socket.setRecvBufferSize(8 * 2 ** 20);
    const answered = new Set<string>();
    socket.on('message', (m) => answered.add(m.subarray(0, m.indexOf(0x20)).toString()));
    process.kill(child.pid!, 'SIGSTOP');
    const began = Date.now();
    for (let i = 0; i < offers; i++) {
      const body = encode({
        command: 'offer',
        'call-id': `burst-${i}`,
        'from-tag': `f${i}`,
        sdp: sdp(i),
        replace: ['origin', 'session-connection'],
        ICE: 'remove',
      });
      socket.send(Buffer.concat([Buffer.from(`c${i} `), body]), port, '127.0.0.1');
      // Let the sends go out (each is sent on the next tick) before the queue of them grows.
      if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    const sentMs = Date.now() - began;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, stopMs - sentMs)));
    process.kill(child.pid!, 'SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return `| ${buffer === 'default' ? "the server's default" : buffer === '0' ? "the system's" : `${buffer} KiB`} | ${offers} | ${sentMs} | ${answered.size} | ${offers - answered.size} |`;
  } finally {
    socket.close();
    process.kill(child.pid!, 'SIGCONT');
    await stop(child);
  }
}

console.log(
  `Offers sent to a relay stopped for ${stopMs} ms, answered once it ran again (no retransmission):\n`,
);
console.log('| ng receive buffer | offers | sent within ms | answered | dropped |');
console.log('|---|---|---|---|---|');
for (const offers of values.offers.split(',').map(Number))
  for (const buffer of values.buffers.split(',')) console.log(await burst(buffer, offers));
