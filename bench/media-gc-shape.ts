/**
 * What the young-generation floor does to the relay's collections, without the network: 2 million "packets",
 * each leaving the garbage dgram leaves per datagram relayed — a Buffer with its own backing store (as
 * `UDPWrap::OnRecv` makes one per datagram), a RemoteInfo-shaped object, a one-element send list, a closure, a
 * SendWrap-shaped object — against 800 long-lived per-stream counters. Prints CPU per packet and the scavenges'
 * count and pauses. `--pooled` makes each packet's bytes a view on one shared ArrayBuffer instead (no backing
 * store per packet), to tell the backing stores' share of the pauses from the objects'.
 * Usage: node --max-old-space-size=160 --min-semi-space-size=16 --import tsx bench/media-gc-shape.ts [--pooled]
 *   (compare `--min-semi-space-size=1`, V8's default start, and the relay's 16; same machine, one after the other)
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { pooled: { type: 'boolean', default: false } } });
const PACKETS = 2_000_000;

const pauses: number[] = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const detail = (e as { detail?: unknown }).detail as { kind?: number } | undefined;
    if (detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) pauses.push(e.duration);
  }
});
observer.observe({ entryTypes: ['gc'] });

const streams = Array.from({ length: 800 }, () => ({ packets: 0, bytes: 0 }));
const pool = new ArrayBuffer(1024 * 172);
let sink = 0;
const began = process.cpuUsage();
for (let i = 0; i < PACKETS; i++) {
  const bytes = values.pooled ? new Uint8Array(pool, (i & 1023) * 172, 172) : Buffer.allocUnsafeSlow(172);
  bytes[0] = 0x80;
  const from = { address: '127.0.0.1', family: 'IPv4', port: 30000 + (i & 1023), size: 172 };
  const list = [bytes];
  const afterLookup = (ip: string) => {
    sink += list.length + ip.length;
  };
  afterLookup(from.address);
  const request = { list, address: from.address, port: from.port };
  const stream = streams[i % 800]!;
  stream.packets++;
  stream.bytes += request.list[0]!.length;
  // Let the collections' observer run now and then, as the relay's event loop would.
  if ((i & 4095) === 0) await new Promise((resolve) => setImmediate(resolve));
}
const cpu = process.cpuUsage(began);
await new Promise((resolve) => setTimeout(resolve, 50));
observer.disconnect();
pauses.sort((a, b) => a - b);
const total = pauses.reduce((n, p) => n + p, 0);
console.log(
  `${process.execArgv.filter((a) => a.startsWith('--m')).join(' ') || 'V8 defaults'}${values.pooled ? ', pooled' : ''}: ` +
    `CPU ${(((cpu.user + cpu.system) * 1000) / PACKETS).toFixed(0)} ns per packet; ${pauses.length} scavenges, ` +
    `${total.toFixed(1)} ms in all, mean ${(total / pauses.length).toFixed(2)}, median ` +
    `${pauses[pauses.length >> 1]?.toFixed(2)}, longest ${pauses.at(-1)?.toFixed(2)} ms (sink ${sink % 10})`,
);
