/**
 * Heap profile of the critical scenarios on one voxgate process (the all-in-one by default):
 * the mixed load of bench/mixed-load.ts (phones re-registering with digest, calls with G.711 through the media
 * relay, 90% answered and held ~2 s, the rest busy, cancelled while ringing or not found; the API read once a
 * second). SIPp plays every phone (Debian package sip-tester).
 *
 * Two phases of the same load, each followed by a rest (the load stopped, `--settle-seconds` for transactions
 * to end: 64·T1 = 32 s), and a heap snapshot at each rest (V8 runs a full GC before it writes one, so a snapshot
 * holds only what is still reachable):
 *   1. warm-up load (`--warmup-seconds`), rest, snapshot `before.heapsnapshot`;
 *   2. load (`--load-seconds`), rest, snapshot `after.heapsnapshot`.
 * Both rests see the same live state (the same registrations, no call, no transaction), so what the second
 * snapshot holds beyond the first is what the load left behind. Writes both snapshots, the /metrics text at each
 * rest and `summary.json` / `summary.md` (totals, the constructors that grew most, who holds them) into `--out`.
 * Fails when the retained heap grew more than `--budget-percent` (default 10%; docs/performance.md, Memory), when
 * the process's RSS, sampled every second, went over its target's budget in config/memory-budgets.yml, or when
 * fewer than 95% of the calls went as expected.
 * Usage: `npm run bench:heap [-- --load-seconds=120 …]` (scripts/ci/heap-profile.sh: builds, then runs this), or
 * after `npm run build`:
 *   node --import tsx bench/heap-profile.ts [--warmup-seconds=45 --load-seconds=120 --users=300 --cps=10 --out=heap-profile]
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readMemoryBudgets } from './memory-budgets.js';
import { heapGrowth, summarizeHeapSnapshot, type HeapSummary } from './heap-snapshot.js';
import { startLocalVoxgate, startMixedLoad } from './mixed-load.js';

const { values } = parseArgs({
  options: {
    'warmup-seconds': { type: 'string', default: '45' },
    'load-seconds': { type: 'string', default: '120' },
    'settle-seconds': { type: 'string', default: '40' },
    users: { type: 'string', default: '300' },
    cps: { type: 'string', default: '10' },
    'register-every': { type: 'string', default: '50' },
    'budget-percent': { type: 'string', default: '10' },
    target: { type: 'string', default: 'all' },
    out: { type: 'string', default: 'heap-profile' },
  },
});
const warmup = Number(values['warmup-seconds']);
const loadSeconds = Number(values['load-seconds']);
const settle = Number(values['settle-seconds']);
const users = Number(values.users);
const cps = Number(values.cps);
const registerEvery = Number(values['register-every']);
const budgetPercent = Number(values['budget-percent']);
const out = resolve(values.out);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'voxgate-heap-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => console.error(`heap-profile: ${msg}`);

const local = await startLocalVoxgate({
  dataDir: join(work, 'data'),
  target: values.target,
  nodeArgs: [`--heapsnapshot-signal=SIGUSR2`, `--diagnostic-dir=${work}`],
});
const vx = local.process;
const httpUrl = local.httpUrl;
log(`voxgate pid ${vx.pid}: SIP ${local.sip}, HTTP ${httpUrl}`);
const load = await startMixedLoad({
  httpUrl,
  sip: local.sip,
  adminKey: local.adminKey,
  users,
  cps,
  registerEvery,
  work,
  errorsDir: out,
  log,
  runSeconds: warmup + settle + loadSeconds + settle + 120,
});

function rssMiB(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${vx.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

// The RSS budget of the target (config/memory-budgets.yml): the highest RSS of the whole run, sampled each second.
const rssBudgetMiB = readMemoryBudgets().get(values.target);
if (rssBudgetMiB === undefined)
  throw new Error(`no budget for ${values.target} in config/memory-budgets.yml`);
let rssPeakMiB = 0;
const rssSampler = setInterval(() => {
  rssPeakMiB = Math.max(rssPeakMiB, rssMiB());
}, 1000);
rssSampler.unref();

/** Scrapes /metrics into `<name>.metrics.txt`, then has voxgate write `<name>.heapsnapshot` (after a full GC). */
async function snapshot(name: string): Promise<{ summary: HeapSummary; rssMiB: number; metrics: string }> {
  const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
  writeFileSync(join(out, `${name}.metrics.txt`), metrics);
  const known = new Set(readdirSync(work));
  vx.kill('SIGUSR2');
  let file: string | undefined;
  for (let i = 0; i < 600 && !file; i++) {
    await sleep(500);
    file = readdirSync(work).find((f) => f.endsWith('.heapsnapshot') && !known.has(f));
  }
  if (!file) throw new Error('no heap snapshot written');
  // The snapshot is written on voxgate's main thread: when it answers HTTP again, the file is complete.
  await fetch(`${httpUrl}/metrics`).then((r) => r.text());
  let size = -1;
  while (statSync(join(work, file)).size !== size) {
    size = statSync(join(work, file)).size;
    await sleep(500);
  }
  const dest = join(out, `${name}.heapsnapshot`);
  renameSync(join(work, file), dest);
  const rss = rssMiB();
  const summary = summarizeHeapSnapshot(dest, [
    'Buffer',
    'Uint8Array',
    'ArrayBuffer',
    'Map',
    'Set',
    'Object',
  ]);
  const heapMiB = (summary.totalBytes - summary.largeBufferBytes) / 2 ** 20;
  log(`${name}: retained JS heap ${heapMiB.toFixed(1)} MiB, RSS ${rss.toFixed(1)} MiB`);
  return { summary, rssMiB: rss, metrics };
}

const structures = (metrics: string) =>
  Object.fromEntries(
    metrics
      .split('\n')
      .filter((l) =>
        /^(voxgate_memory_structure_entries|voxgate_sip_transactions|voxgate_registrations|voxgate_calls_live)/.test(
          l,
        ),
      )
      .map((l) => {
        const i = l.lastIndexOf(' ');
        return [l.slice(0, i), Number(l.slice(i + 1))];
      }),
  );

let exitCode: number;
try {
  log(`warm-up: ${warmup} s of ${cps} calls/s and ${users} phones re-registering every ${registerEvery} s`);
  const first = await load.phase(warmup);
  await sleep(settle * 1000);
  const before = await snapshot('before');
  log(`load: ${loadSeconds} s`);
  const t0 = Date.now();
  const second = await load.phase(loadSeconds);
  const loadMinutes = (Date.now() - t0) / 60_000;
  await sleep(settle * 1000);
  const after = await snapshot('after');
  rssPeakMiB = Math.max(rssPeakMiB, before.rssMiB, after.rssMiB);

  // The budget is on the JS heap: the retained heap without PGlite's WASM memory (reported apart).
  const js = (s: HeapSummary) => s.totalBytes - s.largeBufferBytes;
  const growthBytes = js(after.summary) - js(before.summary);
  const growthPercent = (100 * growthBytes) / js(before.summary);
  const calls = Object.values(second.calls);
  const offered = calls.reduce((a, s) => a + s.offered, 0);
  const ok = calls.reduce((a, s) => a + s.ok, 0);
  const mib = (n: number) => +(n / 2 ** 20).toFixed(2);
  const top = heapGrowth(before.summary, after.summary);
  const summary = {
    target: values.target,
    warmupSeconds: warmup,
    loadSeconds,
    settleSeconds: settle,
    users,
    cps,
    calls: { offered, ok, warmup: first, load: second },
    retainedHeapMiB: { before: mib(before.summary.totalBytes), after: mib(after.summary.totalBytes) },
    retainedJsHeapMiB: { before: mib(js(before.summary)), after: mib(js(after.summary)) },
    wasmMemoryMiB: {
      before: mib(before.summary.largeBufferBytes),
      after: mib(after.summary.largeBufferBytes),
    },
    growthMiB: mib(growthBytes),
    growthPercent: +growthPercent.toFixed(1),
    growthMiBPerLoadMinute: +(mib(growthBytes) / loadMinutes).toFixed(2),
    budgetPercent,
    rssMiB: {
      before: +before.rssMiB.toFixed(1),
      after: +after.rssMiB.toFixed(1),
      peak: +rssPeakMiB.toFixed(1),
      budget: rssBudgetMiB,
    },
    structures: { before: structures(before.metrics), after: structures(after.metrics) },
    grew: top.map((g) => ({ ...g, bytesBefore: g.bytesBefore, bytesAfter: g.bytesAfter })),
    retainersAfter: Object.fromEntries(
      [...after.summary.retainers].map(([k, by]) => [
        k,
        Object.fromEntries([...by].sort((a, b) => b[1] - a[1]).slice(0, 8)),
      ]),
    ),
  };
  writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  writeFileSync(
    join(out, 'summary.md'),
    [
      `# Heap profile — ${values.target}, ${users} phones, ${cps} calls/s, ${loadSeconds} s of load`,
      '',
      `Retained JS heap after a full GC (without PGlite's WASM memory): ${summary.retainedJsHeapMiB.before} MiB ` +
        `at rest after the warm-up, ${summary.retainedJsHeapMiB.after} MiB at rest after the load ` +
        `(${summary.growthMiB} MiB, ${summary.growthPercent}%; budget ${budgetPercent}%). WASM memory ` +
        `${summary.wasmMemoryMiB.before} → ${summary.wasmMemoryMiB.after} MiB. RSS peak ${summary.rssMiB.peak} MiB ` +
        `(budget ${rssBudgetMiB} MiB, config/memory-budgets.yml). Calls: ${ok}/${offered} as expected.`,
      '',
      '| constructor | count before | count after | KiB before | KiB after |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...top.map(
        (g) =>
          `| ${g.name} | ${g.countBefore} | ${g.countAfter} | ${(g.bytesBefore / 1024).toFixed(0)} | ${(g.bytesAfter / 1024).toFixed(0)} |`,
      ),
      '',
    ].join('\n'),
  );
  console.log(JSON.stringify({ ...summary, grew: summary.grew.slice(0, 10), retainersAfter: undefined }));
  const failures = [
    ...(growthPercent > budgetPercent
      ? [`retained heap grew ${growthPercent.toFixed(1)}% (budget ${budgetPercent}%)`]
      : []),
    ...(rssPeakMiB > rssBudgetMiB
      ? [`RSS peaked at ${rssPeakMiB.toFixed(1)} MiB (budget ${rssBudgetMiB} MiB for ${values.target})`]
      : []),
    ...(ok < offered * 0.95 ? [`only ${ok} of ${offered} calls went as expected`] : []),
  ];
  for (const f of failures) console.error(`heap-profile: FAILED: ${f}`);
  exitCode = failures.length > 0 ? 1 : 0;
} finally {
  clearInterval(rssSampler);
  await load.close();
  await local.stop();
  rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);
