/**
 * What handing one SIP datagram from the worker that read it to the worker owning its
 * Call-ID costs, per way of handing it (docs/performance.md, "The gateway on every core"): a datagram on a
 * loopback UDP socket of the owner (what src/gateway/worker-dispatch.ts does), or a message on the cluster's
 * IPC channel (`process.send`, JSON and `advanced` serialization). CPU of both processes per datagram handed,
 * from process.cpuUsage; the datagram is a 900-byte INVITE-sized buffer.
 * Usage: node --import tsx bench/sip-worker-handoff.ts [--count=50000]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '50000' }, child: { type: 'string' } },
});
const count = Number(values.count);
const BATCH = 200;

type Report = { received: number; cpuUs: number };

if (values.child) {
  // The owner: counts what arrives, reports its CPU once `count` arrived (or on request).
  const start = process.cpuUsage();
  let received = 0;
  const report = () => {
    const used = process.cpuUsage(start);
    process.send!({ received, cpuUs: used.user + used.system } satisfies Report);
  };
  if (values.child === 'udp') {
    const socket = createSocket('udp4');
    socket.on('message', (packet) => {
      const length = packet[0]!;
      if (packet.readUInt16BE(1 + length) > 0) received++;
    });
    socket.bind({ address: '127.0.0.1', port: 0 }, () => {
      socket.setRecvBufferSize(4 * 2 ** 20); // as worker-dispatch.ts
      process.send!({ port: socket.address().port });
    });
  } else {
    process.send!({ port: 0 });
  }
  process.on('message', (m: { bytes?: Buffer | { data: number[] }; report?: boolean }) => {
    if (m.report) return report();
    if (m.bytes) received++;
  });
} else {
  const datagram = Buffer.alloc(900, 0x41);
  const envelope = Buffer.from([9, ...Buffer.from('127.0.0.2'), 0x13, 0xc4]);
  const run = async (mode: 'udp' | 'json' | 'advanced'): Promise<void> => {
    const child: ChildProcess = fork(process.argv[1]!, [`--child=${mode === 'udp' ? 'udp' : 'ipc'}`], {
      execArgv: process.execArgv,
      serialization: mode === 'advanced' ? 'advanced' : 'json',
    });
    const port = await new Promise<number>((resolve) =>
      child.once('message', (m: { port: number }) => resolve(m.port)),
    );
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind({ address: '127.0.0.1', port: 0 }, resolve));
    const started = process.cpuUsage();
    for (let sent = 0; sent < count; sent += BATCH) {
      for (let i = 0; i < BATCH; i++) {
        if (mode === 'udp') socket.send([envelope, datagram], port, '127.0.0.1');
        else child.send({ address: '127.0.0.2', port: 5060, bytes: datagram });
      }
      // Paced: the owner keeps up, as a gateway under its breaking point does.
      await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise((r) => setTimeout(r, 500));
    const own = process.cpuUsage(started);
    child.send({ report: true });
    const report = await new Promise<Report>((resolve) =>
      child.on('message', (m: Report & { port?: number }) => m.port === undefined && resolve(m)),
    );
    child.kill();
    socket.close();
    const senderUs = (own.user + own.system) / count;
    const ownerUs = report.cpuUs / Math.max(1, report.received);
    console.log(
      `| ${mode === 'udp' ? 'loopback UDP datagram' : `IPC process.send (${mode})`} | ${report.received} of ${count} | ` +
        `${senderUs.toFixed(1)} | ${ownerUs.toFixed(1)} | ${(senderUs + ownerUs).toFixed(1)} |`,
    );
  };
  console.log('| handed as | arrived | sender µs CPU per datagram | owner µs | total µs |');
  console.log('|---|---|---|---|---|');
  for (const mode of ['udp', 'json', 'advanced'] as const) await run(mode);
}
