/**
 * bench:media — N concurrent G.711 calls (two streams, 50 packets/s each way) relayed by voxgate's media relay
 * and, in the same run, by RTPengine in userspace mode (`--table=-1`), both driven over ng the same way. For
 * each relay and call count: loss, one-way latency through the relay (p50/p99; the `direct` rows are the same
 * load without a relay, so added latency = relay − direct), relay CPU per 1,000 packets, relay memory (PSS).
 * Latency twice: as read by the generator, and at receipt (the kernel's stamp as the relay's send delivered the
 * packet, `media-load.ts`), which leaves out the generator's own waits for a CPU: on a machine the generator
 * shares with the relay, the relay's latency is the one at receipt.
 * With `--srtp=yes` (the default) each relay also runs the same load with every caller speaking SDES-SRTP
 * and every callee plain RTP (`transport-protocol: RTP/AVP`, the relay decrypting one way and encrypting the
 * other): the `… SRTP↔RTP` rows.
 * Usage: npm run bench:media [-- --calls=50,100,200,400,800 --seconds=5 --relays=direct,voxgate,rtpengine --srtp=no]
 *   [--voxgate-variants='--min-semi-space-size=1'] (more voxgate relay processes, each with these Node options
 *   (';' between variants), taking turns with the others: e.g. to compare V8 settings side by side)
 * voxgate's relay runs with the heap flags its Deployment starts it with (`config/memory-budgets.yml`, media-relay:
 * `--max-old-space-size=160 --min-semi-space-size=16`); a variant's options come after them and win, so
 * `--min-semi-space-size=1` is V8's default young generation.
 * [--voxgate-udp=native,dgram] (voxgate's RTP sockets, a relay process each: `native` = the batched addon,
 *   its default where built (VOXGATE_MEDIA_UDP=auto); `dgram` = Node.js dgram, as before the addon)
 * [--generator-udp=native|dgram] (the load generator's own sockets: the addon's batched ones by default where it
 *   loads, each 1 ms slot's packets sent with one sendmmsg; dgram as before 2026-12-05, when the generator
 *   saturated its core from about 300 calls)
 * [--relay-loop-delay] (voxgate's relay also watches its event loop's delay, for the second table's column; off
 *   by default: the watch is a 1 ms timer in the relay whose CPU the relay's rows would count, `media-observe.ts`)
 * [--pin] (the generator — this process, all its threads — keeps to the first CPU this process may use and every
 *   relay to the others, so that a relay never waits for a CPU the generator holds, as on a media host of its
 *   own; needs two CPUs or more and taskset. Off by default: on two CPUs it did no better, the generator's
 *   collections still in the tail and voxgate's p99 worse — docs/performance.md, run of 2026-12-06 22:47)
 * `npm run bench:media` starts this process (the generator) with a 64 MiB young generation: with V8's default
 * its collections (about 3.5 MB of garbage a second at 400 calls, `--trace-gc`) fall in every 400-call step, 3 to
 * 5 of them of up to 14 ms, and add to every relay's latencies alike; run by hand, give `node` the same flags.
 * BENCH_RELAY_NODE_ARGS passes Node options to voxgate's relay process (e.g. `--cpu-prof --cpu-prof-dir=DIR`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { findRtpengine, freeUdpPort } from '../test/helpers/rtpengine.js';
import { heapLimitArgs } from './memory-budgets.js';
import { defaultGeneratorUdp, openLoad, type GeneratorUdp, type LoadResult } from './media-load.js';
import { attribute, observeSelf, schedstat, type SelfObservation } from './media-observe.js';
import { allowedCpus, fmt, onCpus, pinSelf, stop, usage, waitForOutput } from './support.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '50,100,200,400,600,800,1000,1200,1600' },
    seconds: { type: 'string', default: '5' },
    relays: { type: 'string', default: 'direct,voxgate,rtpengine' },
    srtp: { type: 'string', default: 'yes' },
    'voxgate-variants': { type: 'string', default: '' },
    'voxgate-udp': { type: 'string', default: 'native' },
    'generator-udp': { type: 'string', default: defaultGeneratorUdp() },
    'relay-loop-delay': { type: 'boolean', default: false },
    pin: { type: 'boolean', default: false },
  },
});
const generatorUdp = values['generator-udp'] as GeneratorUdp;
if (generatorUdp !== 'native' && generatorUdp !== 'dgram') {
  console.error(`bench:media: --generator-udp is native or dgram, not ${generatorUdp}`);
  process.exit(2);
}
const callCounts = values.calls.split(',').map(Number);
const seconds = Number(values.seconds);
const relays = values.relays.split(',') as ('direct' | 'voxgate' | 'rtpengine')[];
const WARMUP_MS = 1000;

/** The relays' CPUs when pinned (the generator has the first of the allowed ones); undefined: not pinned. */
const relayCpus = ((): number[] | undefined => {
  if (!values.pin) return undefined;
  const cpus = allowedCpus();
  if (cpus.length >= 2 && pinSelf(cpus.slice(0, 1))) return cpus.slice(1);
  console.error(
    `bench:media: --pin needs two CPUs or more and taskset (CPUs allowed: ${cpus.join(',') || '?'})`,
  );
  process.exit(2);
})();

interface Row extends LoadResult {
  relay: string;
  cpuMsPer1000: number;
  cpuPct: number;
  pssMiB: number;
  /** Where the tail came from (the second table). */
  tail: TailRow;
}

interface TailRow {
  /** What voxgate's relay process saw of itself (none for RTPengine or without a relay). */
  relay?: SelfObservation;
  generator: SelfObservation;
  /** Run-queue wait of all the relay's / the generator's threads, ms per second of the step. */
  relayWaitMsPerS: number;
  generatorWaitMsPerS: number;
  attribution: ReturnType<typeof attribute>;
}

interface RelayProcess {
  name: string;
  ngPort?: number;
  pid?: number;
  /** The callers speak SDES-SRTP, the callees plain RTP. */
  srtp?: boolean;
  /** What the relay process observed of itself since the last call (voxgate's only). */
  take?(): Promise<SelfObservation>;
  stop(): Promise<void>;
}

async function startVoxgate(udp: string, variant = ''): Promise<RelayProcess> {
  const child = spawn(
    ...onCpus(relayCpus, process.execPath, [
      // e.g. BENCH_RELAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the relay under load.
      ...(process.env.BENCH_RELAY_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      // As deployed; the variant's options after them (V8 takes the last of a flag given twice).
      ...heapLimitArgs('media-relay'),
      ...variant.split(' ').filter(Boolean),
      '--import',
      'tsx',
      join(import.meta.dirname, 'media-relay-server.ts'),
      '--port-min=40000',
      '--port-max=49999',
      `--udp=${udp}`,
      ...(values['relay-loop-delay'] ? ['--loop-delay'] : []),
    ]),
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  const ngPort = Number(await waitForOutput(child, /^ng (\d+)$/m, 'stdout'));
  const take = () =>
    new Promise<SelfObservation>((resolve) => {
      child.once('message', (m) => resolve((m as { observed: SelfObservation }).observed));
      child.send('take');
    });
  const name = `voxgate (1 process, ${udp} UDP${variant ? `, ${variant}` : ''})`;
  return { name, ngPort, pid: child.pid!, take, stop: () => stop(child) };
}

async function startRtpengine(): Promise<RelayProcess> {
  const binary = findRtpengine();
  if (!binary) throw new Error('rtpengine not found: apt-get install rtpengine-daemon');
  const ngPort = await freeUdpPort();
  const child: ChildProcess = spawn(
    ...onCpus(relayCpus, binary, [
      '--config-file=none',
      '--table=-1',
      '--interface=127.0.0.1',
      `--listen-ng=127.0.0.1:${ngPort}`,
      '--foreground',
      '--log-stderr',
      '--log-level=4',
      '--delete-delay=0',
      '--port-min=20000',
      '--port-max=29999',
    ]),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr!.resume();
  // RTPengine answers ng once its threads run; the first offer waits for it (the ng client retries).
  await new Promise((r) => setTimeout(r, 1000));
  return { name: 'RTPengine userspace', ngPort, pid: child.pid!, stop: () => stop(child) };
}

/** The generator fell behind its schedule: the step measures the machine, not the relay. */
const generatorBound = (r: LoadResult) => r.sent < r.offered * 0.99 || r.tickLateP99Ms > 20;

/** The generator (this process) watches itself the same way as voxgate's relay. */
const generatorObserver = observeSelf({ loopDelay: false });

/** One step: `calls` calls on `relay` for `seconds`; the relay's CPU and memory from /proc around it. */
async function step(relay: RelayProcess, calls: number): Promise<Row> {
  const load = await openLoad(
    relay.ngPort,
    calls,
    `${relay.name.split(' ')[0]}-${relay.srtp ? 'srtp-' : ''}${calls}`,
    { srtp: relay.srtp === true, udp: generatorUdp },
  );
  try {
    await relay.take?.();
    generatorObserver.take();
    const waits = () => ({
      relay: relay.pid ? schedstat(relay.pid).waitMs : 0,
      generator: schedstat(process.pid).waitMs,
    });
    const waitBefore = waits();
    const before = relay.pid ? usage(relay.pid) : undefined;
    const t0 = performance.now();
    const result = await load.run(seconds, WARMUP_MS);
    const wall = performance.now() - t0;
    const after = relay.pid ? usage(relay.pid) : undefined;
    const waitAfter = waits();
    const relaySeen = await relay.take?.();
    const generatorSeen = generatorObserver.take();
    const tail: TailRow = {
      relay: relaySeen,
      generator: generatorSeen,
      relayWaitMsPerS: ((waitAfter.relay - waitBefore.relay) / wall) * 1000,
      generatorWaitMsPerS: ((waitAfter.generator - waitBefore.generator) / wall) * 1000,
      attribution: attribute(result.slow, relaySeen?.gc ?? [], generatorSeen.gc),
    };
    const cpuMs = before && after ? after.cpuMs - before.cpuMs : 0;
    const row: Row = {
      relay: relay.name,
      ...result,
      cpuMsPer1000: result.sentAll ? (cpuMs / result.sentAll) * 1000 : 0,
      cpuPct: (cpuMs / wall) * 100,
      pssMiB: (after?.rssBytes ?? 0) / 2 ** 20,
      tail,
    };
    console.error(
      `${row.relay} ${calls} calls: sent ${fmt((row.sent / row.offered) * 100, 1)}% of offered, loss ${fmt(row.lossPct, 3)}%, ` +
        `p50 ${fmt(row.p50Ms, 2)} ms, p99 ${fmt(row.p99Ms, 2)} ms` +
        (row.receipt
          ? ` (at receipt ${fmt(row.receipt.p50Ms, 3)} / ${fmt(row.receipt.p99Ms, 3)} / ${fmt(row.receipt.p999Ms, 3)} ms)`
          : '') +
        `, relay CPU ${fmt(row.cpuMsPer1000, 2)} ms/1000 ` +
        `(${fmt(row.cpuPct, 0)}%), generator late p99 ${fmt(row.tickLateP99Ms, 2)} ms`,
    );
    return row;
  } finally {
    await load.close();
  }
}

// All relays run for the whole bench and take turns at each call count, so that the background load of the
// machine (the generator shares it) weighs on each the same way.
const running: RelayProcess[] = [];
const rows: Row[] = [];
try {
  const udpKinds = values['voxgate-udp'].split(',').filter(Boolean);
  for (const kind of relays) {
    if (kind === 'voxgate') {
      for (const udp of udpKinds) running.push(await startVoxgate(udp));
      for (const variant of values['voxgate-variants'].split(';').filter(Boolean)) {
        running.push(await startVoxgate(udpKinds[0]!, variant.trim()));
      }
    } else {
      running.push(
        kind === 'rtpengine'
          ? await startRtpengine()
          : { name: 'direct (no relay)', stop: async () => undefined },
      );
    }
  }
  if (values.srtp === 'yes') {
    // The same processes, SRTP on the callers' side: rows of their own, taking turns like the others.
    for (const relay of running.filter((r) => r.ngPort !== undefined && !r.srtp)) {
      running.push({ ...relay, name: `${relay.name} SRTP↔RTP`, srtp: true, stop: async () => undefined });
    }
  }
  const done = new Set<RelayProcess>();
  for (const calls of callCounts) {
    for (const relay of running) {
      if (done.has(relay)) continue;
      const row = await step(relay, calls);
      rows.push(row);
      // Past the breaking point, or past what the generator can offer: higher counts say nothing more.
      if (row.lossPct > 2 || generatorBound(row)) done.add(relay);
    }
  }
} finally {
  for (const relay of running) await relay.stop();
  generatorObserver.stop();
}
rows.sort(
  (x, y) =>
    relays.findIndex((k) => x.relay.toLowerCase().startsWith(k)) -
      relays.findIndex((k) => y.relay.toLowerCase().startsWith(k)) ||
    Number(x.relay.includes('SRTP')) - Number(y.relay.includes('SRTP')) ||
    x.relay.length - y.relay.length ||
    x.calls - y.calls,
);

const direct = new Map(rows.filter((r) => r.relay.startsWith('direct')).map((r) => [r.calls, r]));
console.log(
  `Generator sockets: ${generatorUdp}; ${relayCpus ? `generator on CPU ${allowedCpus()[0]}, relays on CPU ${relayCpus.join(',')}` : 'every process on every CPU'}\n`,
);
const dash = (r: Row, text: string) => (r.relay.startsWith('direct') ? '–' : text);
console.log(
  '| relay | calls | packets/s offered | sent % | loss % | as read p50 / p99 ms | added p50 / p99 ms | at receipt p50 / p99 / p99.9 ms | added at receipt p99 ms | relay CPU ms per 1,000 packets | relay CPU % | relay PSS MiB | generator late p99 ms |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const base = direct.get(r.calls);
  const added = base ? `${fmt(r.p50Ms - base.p50Ms, 2)} / ${fmt(r.p99Ms - base.p99Ms, 2)}` : '?';
  const atReceipt = r.receipt
    ? `${fmt(r.receipt.p50Ms, 3)} / ${fmt(r.receipt.p99Ms, 3)} / ${fmt(r.receipt.p999Ms, 3)}`
    : '–';
  const addedAtReceipt = r.receipt && base?.receipt ? fmt(r.receipt.p99Ms - base.receipt.p99Ms, 3) : '?';
  console.log(
    `| ${r.relay} | ${r.calls} | ${r.calls * 100} | ${fmt((r.sent / r.offered) * 100, 1)} | ${fmt(r.lossPct, 3)} | ` +
      `${fmt(r.p50Ms, 2)} / ${fmt(r.p99Ms, 2)} | ${dash(r, added)} | ${atReceipt} | ${dash(r, addedAtReceipt)} | ${dash(r, fmt(r.cpuMsPer1000, 2))} | ` +
      `${dash(r, fmt(r.cpuPct, 0))} | ${dash(r, fmt(r.pssMiB, 1))} | ${fmt(r.tickLateP99Ms, 2)}${generatorBound(r) ? ' (generator-bound)' : ''} |`,
  );
}
console.log('\nHighest call count with under 0.1% loss while the generator kept up, and calls per core:');
for (const relay of [...new Set(rows.map((r) => r.relay))].filter((r) => !r.startsWith('direct'))) {
  const mine = rows.filter((r) => r.relay === relay);
  const best = mine.filter((r) => r.lossPct < 0.1 && !generatorBound(r)).at(-1);
  // CPU per call-second = 100 packets × CPU per packet; calls per core = 1 s / that. From the valid steps of
  // 200 calls and more (below, fixed costs weigh in).
  const steady = mine.filter((r) => r.calls >= 200 && !generatorBound(r));
  const cpu = steady.length ? steady.reduce((n, r) => n + r.cpuMsPer1000, 0) / steady.length : NaN;
  console.log(
    `- ${relay}: ${best ? `${best.calls} calls (${best.calls * 100} packets/s), p99 ${fmt(best.p99Ms, 2)} ms${best.receipt ? ` (at receipt ${fmt(best.receipt.p99Ms, 3)})` : ''}` : 'none'}; ` +
      (steady.length
        ? `${fmt(cpu, 2)} ms CPU per 1,000 packets → ${fmt(10_000 / cpu, 0)} calls per core`
        : 'no valid step of 200 calls or more for CPU per call'),
  );
}

console.log(
  "\nWhere the tail comes from (packets at or above the step's p99, at receipt where stamped; GC windows and loop delay of the measured step):\n",
);
console.log(
  '| relay | calls | p99 ms | slow packets in flight during a relay GC % | … during a generator GC % | bursts of slow packets (widest ms) | ' +
    'relay loop delay p99 / max ms | relay GCs: count, total / longest ms | generator GCs: count, total / longest ms | ' +
    'run-queue wait ms/s relay / generator | relay timers | relay young generation MiB |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
const gcs = (o: SelfObservation | undefined) => {
  if (!o) return '–';
  const d = o.gc.map((g) => g.end - g.start);
  return `${d.length}, ${fmt(
    d.reduce((n, x) => n + x, 0),
    1,
  )} / ${fmt(Math.max(0, ...d), 2)}`;
};
for (const r of rows) {
  const t = r.tail;
  const a = t.attribution;
  console.log(
    `| ${r.relay} | ${r.calls} | ${fmt(r.receipt?.p99Ms ?? r.p99Ms, 3)} | ${fmt(a.relayGcPct, 1)} | ${fmt(a.generatorGcPct, 1)} | ` +
      `${a.bursts} (${fmt(a.widestBurstMs, 1)}) | ` +
      `${t.relay?.loopDelay ? `${fmt(t.relay.loopDelay.p99, 2)} / ${fmt(t.relay.loopDelay.max, 1)}` : '–'} | ${gcs(t.relay)} | ${gcs(t.generator)} | ` +
      `${r.relay.startsWith('direct') ? '–' : fmt(t.relayWaitMsPerS, 1)} / ${fmt(t.generatorWaitMsPerS, 1)} | ${t.relay ? t.relay.timers : '–'} | ${t.relay ? fmt(t.relay.newSpaceMiB, 1) : '–'} |`,
  );
}
