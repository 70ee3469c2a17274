/**
 * npm run soak — the mixed load of issue #22 (bench/mixed-load.ts) for minutes against a running target, or
 * against the all-in-one it starts itself (embedded defaults) when no --url is given:
 *
 *   npm run soak -- --minutes 30 --cps 30 --users 1000
 *   npm run soak -- --minutes 30 --cps 30 --users 1000 --url http://staging:8080 --sip staging:5060 --admin-key K
 *
 * Every --sample-seconds (5) it reads /metrics (no key needed; --metrics for another URL, e.g. one replica's):
 * RSS, heap used, event-loop lag p99, live calls and every voxgate_memory_structure_entries gauge. After the load
 * comes a rest (--settle-seconds, 40: every transaction ends 64·T1 = 32 s after its final response). Then:
 *   - slopes: least squares over the load after --warmup-minutes, heap < 0.5 MiB/min and RSS < 1 MiB/min;
 *   - RSS: the highest sample within config/memory-budgets.yml (--budget-target, default all);
 *   - heap back: the heap after the load within 20% of its post-warm-up level. The level is the lowest heap
 *     sample of the minute after the warm-up (the low points of V8's sawtooth are its heap after a GC). After the
 *     load, a local target is made to run a full GC (it writes a heap snapshot on SIGUSR2, V8 collects first) and
 *     the heap read after it; a remote one cannot be, and the lowest heap sample of the rest is taken instead;
 *   - no live call left (the API's live calls of the load's tenant, voxgate_calls_active) and no more than
 *     --max-unexpected-percent (0.1) of calls with another outcome than their class's (SIPp counts them).
 * --no-slopes leaves the slopes and the heap-back check out (a short run: too short for V8's heap to settle).
 * Writes soak.csv, soak.svg, soak.png, summary.json, summary.md and SIPp's error logs into --out (soak/); exits
 * 1 when a criterion fails.
 */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readMemoryBudgets } from './memory-budgets.js';
import { CALL_MIX, startLocalVoxgate, startMixedLoad, type LocalVoxgate } from './mixed-load.js';
import { leastSquares, troughs } from './soak-analysis.js';
import { plotSvg, renderPng } from './soak-plot.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    cps: { type: 'string', default: '30' },
    users: { type: 'string', default: '1000' },
    url: { type: 'string' },
    sip: { type: 'string' },
    'admin-key': { type: 'string' },
    metrics: { type: 'string' },
    'warmup-minutes': { type: 'string' },
    'settle-seconds': { type: 'string', default: '40' },
    'sample-seconds': { type: 'string', default: '5' },
    'register-every': { type: 'string', default: '50' },
    'budget-target': { type: 'string', default: 'all' },
    'max-heap-slope': { type: 'string', default: '0.5' },
    'max-rss-slope': { type: 'string', default: '1' },
    'heap-back-percent': { type: 'string', default: '20' },
    'max-unexpected-percent': { type: 'string', default: '0.1' },
    'no-slopes': { type: 'boolean', default: false },
    'keep-snapshot': { type: 'boolean', default: false },
    out: { type: 'string', default: 'soak' },
  },
});
const num = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number, not ${values[name]}`);
  return n;
};
const minutes = num('minutes');
const cps = num('cps');
const users = num('users');
const warmupMinutes = values['warmup-minutes']
  ? num('warmup-minutes')
  : Math.min(5, Math.max(1, minutes / 5));
const settle = num('settle-seconds');
const sampleMs = num('sample-seconds') * 1000;
const checkSlopes = !values['no-slopes'];
const budgetMiB = readMemoryBudgets().get(values['budget-target']!);
if (budgetMiB === undefined)
  throw new Error(`no budget for ${values['budget-target']} in config/memory-budgets.yml`);
const out = resolve(values.out!);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'voxgate-soak-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => console.error(`soak: ${new Date().toISOString().slice(11, 19)} ${msg}`);
const MiB = 2 ** 20;

let local: LocalVoxgate | undefined;
let httpUrl: string;
let sip: string;
let adminKey: string;
if (values.url) {
  httpUrl = values.url.replace(/\/$/, '');
  sip = values.sip ?? `${new URL(httpUrl).hostname}:5060`;
  const key = values['admin-key'] ?? process.env.VOXGATE_ADMIN_API_KEY;
  if (!key)
    throw new Error('--url needs --admin-key (or VOXGATE_ADMIN_API_KEY): the load provisions a tenant');
  adminKey = key;
} else {
  local = await startLocalVoxgate({
    dataDir: join(work, 'data'),
    nodeArgs: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${work}`],
  });
  ({ httpUrl, sip, adminKey } = local);
  log(`started the all-in-one, pid ${local.process.pid}: SIP ${sip}, HTTP ${httpUrl}`);
}
const metricsUrl = values.metrics ?? `${httpUrl}/metrics`;

interface Sample {
  /** Seconds since the load started (negative before); `at` until the load starts. */
  t: number;
  readonly at: number;
  readonly phase: 'before' | 'warm-up' | 'load' | 'rest' | 'after-gc';
  readonly rss: number;
  readonly heap: number;
  /** V8's committed heap (what RSS holds of it) and the memory outside it (Buffers, WASM: PGlite). */
  readonly heapTotal: number;
  readonly external: number;
  readonly lagP99Ms: number;
  readonly callsActive: number;
  readonly structures: Record<string, number>;
  readonly callsTotal: Record<string, number>;
}

/** Prometheus text → series (`name{labels}`) → value. */
function parseMetrics(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    series.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return series;
}
const labelled = (series: Map<string, number>, name: string, label: string) =>
  Object.fromEntries(
    [...series]
      .map(([k, v]) => [new RegExp(`^${name}\\{.*${label}="([^"]*)"`).exec(k)?.[1], v] as const)
      .filter((e): e is readonly [string, number] => e[0] !== undefined),
  );

let loadStart: number;
let phase: Sample['phase'] = 'before';
const samples: Sample[] = [];
async function sample(as = phase): Promise<Sample | undefined> {
  try {
    const m = parseMetrics(await (await fetch(metricsUrl)).text());
    const s: Sample = {
      t: 0,
      at: Date.now(),
      phase: as,
      rss: (m.get('process_resident_memory_bytes') ?? NaN) / MiB,
      heap: (m.get('nodejs_heap_size_used_bytes') ?? NaN) / MiB,
      heapTotal: (m.get('nodejs_heap_size_total_bytes') ?? NaN) / MiB,
      external: (m.get('nodejs_external_memory_bytes') ?? NaN) / MiB,
      lagP99Ms: (m.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
      callsActive: m.get('voxgate_calls_active') ?? 0,
      structures: labelled(m, 'voxgate_memory_structure_entries', 'structure'),
      callsTotal: labelled(m, 'voxgate_calls_total', 'disposition'),
    };
    samples.push(s);
    return s;
  } catch (err) {
    log(`metrics not read: ${String(err)}`);
    return undefined;
  }
}
let sampling = true;
const sampler = (async () => {
  for (let next = Date.now(); sampling;) {
    await sample();
    next += sampleMs;
    await sleep(Math.max(0, next - Date.now()));
  }
})();

/** A local target runs a full GC: it writes a heap snapshot (SIGUSR2), and V8 collects before it writes one. */
async function forcedGc(): Promise<Sample | undefined> {
  if (!local) return undefined;
  const known = new Set(readdirSync(work));
  local.process.kill('SIGUSR2');
  let file: string | undefined;
  for (let i = 0; i < 600 && !file; i++) {
    await sleep(500);
    file = readdirSync(work).find((f) => f.endsWith('.heapsnapshot') && !known.has(f));
  }
  if (!file) throw new Error('no heap snapshot written');
  // Written on voxgate's main thread: once it answers HTTP again and the size holds, the file is complete.
  let size = -1;
  while (statSync(join(work, file)).size !== size) {
    size = statSync(join(work, file)).size;
    await sleep(1000);
  }
  if (values['keep-snapshot']) renameSync(join(work, file), join(out, 'after.heapsnapshot'));
  else rmSync(join(work, file));
  return sample('after-gc');
}

const loadSeconds = minutes * 60;
const mix = await startMixedLoad({
  httpUrl,
  sip,
  adminKey,
  users,
  cps,
  registerEvery: num('register-every'),
  work,
  errorsDir: out,
  log,
  runSeconds: loadSeconds + 120,
});
let exitCode: number;
try {
  await sleep(2 * sampleMs);
  log(
    `load: ${minutes} min of ${cps} calls/s (${Object.entries(CALL_MIX)
      .map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`)
      .join(
        ', ',
      )}), ${users} phones re-registering every ${values['register-every']} s; warm-up ${warmupMinutes} min`,
  );
  loadStart = Date.now();
  phase = 'warm-up';
  const warmupTimer = setTimeout(() => (phase = 'load'), warmupMinutes * 60_000);
  const result = await mix.phase(loadSeconds);
  clearTimeout(warmupTimer);
  const loadEnd = (Date.now() - loadStart) / 1000;
  phase = 'rest';
  log(`load done after ${(loadEnd / 60).toFixed(1)} min; rest ${settle} s`);
  await sleep(settle * 1000);
  sampling = false;
  await sampler;
  const liveLeft = await mix.liveCalls();
  const last = await sample('rest');
  const gc = await forcedGc();
  for (const s of samples) s.t = (s.at - loadStart) / 1000;

  // Least squares over the load after the warm-up, in MiB per minute: RSS through every sample, the heap
  // through its troughs (each major GC's low point; every sample's fit is given too, not judged).
  const steady = samples.filter((s) => s.phase === 'load' && s.t >= warmupMinutes * 60);
  const rssFit = leastSquares(steady.map((s) => [s.t / 60, s.rss]));
  const heapEveryFit = leastSquares(steady.map((s) => [s.t / 60, s.heap]));
  const heapTroughs = troughs(
    steady.map((s) => [s.t / 60, s.heap]),
    1,
  );
  const heapFit = leastSquares(heapTroughs);
  const firstMinute = steady.filter((s) => s.t < warmupMinutes * 60 + 60);
  const heapLevel = Math.min(...firstMinute.map((s) => s.heap));
  const rest = samples.filter((s) => s.phase === 'rest');
  const heapAfter = gc?.heap ?? Math.min(...rest.map((s) => s.heap));
  const heapBackPercent = (100 * (heapAfter - heapLevel)) / heapLevel;
  // Writing the heap snapshot (the forced GC) costs memory and blocks the loop: not part of the run's figures.
  const run = samples.filter((s) => s.phase !== 'after-gc');
  const rssPeak = Math.max(...run.map((s) => s.rss));
  // The first samples' histogram holds the start (compilation, migrations): lag is read under load only.
  const lags = samples.filter((s) => s.phase === 'warm-up' || s.phase === 'load').map((s) => s.lagP99Ms);
  const sortedLags = [...lags].sort((a, b) => a - b);
  const classes = Object.entries(result.calls);
  const offered = classes.reduce((a, [, c]) => a + c.offered, 0);
  const ok = classes.reduce((a, [, c]) => a + c.ok, 0);
  const unexpectedPercent = (100 * (offered - ok)) / offered;
  const loadSamples = samples.filter((s) => s.phase === 'warm-up' || s.phase === 'load');
  const dispositions = Object.fromEntries(
    Object.entries(last?.callsTotal ?? {}).map(([k, v]) => [k, v - (samples[0]?.callsTotal[k] ?? 0)]),
  );
  const r1 = (n: number) => +n.toFixed(1);
  const r2 = (n: number) => +n.toFixed(2);
  const summary = {
    target: local ? 'all-in-one started by the soak (embedded PGlite, memory shared state)' : httpUrl,
    metricsUrl: local ? '/metrics of the all-in-one' : metricsUrl,
    command: `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim(),
    loadStartedAt: new Date(loadStart).toISOString(),
    minutes,
    cps,
    users,
    warmupMinutes,
    settleSeconds: settle,
    samples: samples.length,
    slopesMiBPerMinute: {
      rss: r2(rssFit.slope),
      heapAfterGc: r2(heapFit.slope),
      heapTroughs: heapTroughs.length,
      heapEverySample: r2(heapEveryFit.slope),
    },
    rssMiB: {
      start: r1(samples[0]!.rss),
      endOfWarmup: r1(firstMinute[0]?.rss ?? NaN),
      endOfLoad: r1(loadSamples.at(-1)!.rss),
      afterRest: r1(last?.rss ?? NaN),
      peak: r1(rssPeak),
      budget: budgetMiB,
      budgetTarget: values['budget-target'],
    },
    heapMiB: {
      start: r1(samples[0]!.heap),
      postWarmupLevel: r1(heapLevel),
      endOfLoad: r1(loadSamples.at(-1)!.heap),
      restMin: r1(Math.min(...rest.map((s) => s.heap))),
      afterFullGc: gc ? r1(gc.heap) : null,
      afterLoad: r1(heapAfter),
      afterLoadVsLevelPercent: r1(heapBackPercent),
      measuredAs: gc
        ? 'after a full GC (heap snapshot) at the end of the rest'
        : 'lowest heap sample of the rest (no GC can be forced remotely)',
    },
    eventLoopLagP99Ms: {
      median: r1(sortedLags[Math.floor(sortedLags.length / 2)] ?? NaN),
      max: r1(sortedLags.at(-1) ?? NaN),
    },
    calls: {
      offered,
      asExpected: ok,
      unexpectedPercent: +unexpectedPercent.toFixed(3),
      byClass: Object.fromEntries(classes),
      dispositions,
    },
    registers: result.registers,
    apiReads: result.apiReads,
    liveCallsLeft: { api: liveLeft, callsActive: last?.callsActive ?? NaN },
    structuresAfterRest: last?.structures ?? {},
    structuresPeak: Object.fromEntries(
      [...new Set(samples.flatMap((s) => Object.keys(s.structures)))].map((k) => [
        k,
        Math.max(...samples.map((s) => s.structures[k] ?? 0)),
      ]),
    ),
  };
  const failures = [
    ...(checkSlopes && !(heapFit.slope < num('max-heap-slope'))
      ? [
          `heap slope ${r2(heapFit.slope)} MiB/min through ${heapTroughs.length} post-GC troughs (limit ${values['max-heap-slope']})`,
        ]
      : []),
    ...(checkSlopes && !(rssFit.slope < num('max-rss-slope'))
      ? [`RSS slope ${r2(rssFit.slope)} MiB/min (limit ${values['max-rss-slope']})`]
      : []),
    ...(rssPeak > budgetMiB ? [`RSS peaked at ${r1(rssPeak)} MiB (budget ${budgetMiB} MiB)`] : []),
    ...(checkSlopes && !(heapBackPercent <= num('heap-back-percent'))
      ? [
          `heap after the load ${r1(heapAfter)} MiB, ${r1(heapBackPercent)}% above its post-warm-up level ${r1(heapLevel)} MiB`,
        ]
      : []),
    ...(liveLeft !== 0 || (last?.callsActive ?? 0) !== 0
      ? [`live calls left: ${liveLeft} in the API, voxgate_calls_active ${last?.callsActive}`]
      : []),
    ...(!(unexpectedPercent <= num('max-unexpected-percent'))
      ? [`${offered - ok} of ${offered} calls did not go as expected (${r2(unexpectedPercent)}%)`]
      : []),
  ];
  const report = { ...summary, checks: { slopes: checkSlopes }, failures };
  writeFileSync(join(out, 'summary.json'), JSON.stringify(report, null, 2) + '\n');

  const structureNames = [...new Set(samples.flatMap((s) => Object.keys(s.structures)))].sort();
  writeFileSync(
    join(out, 'soak.csv'),
    [
      [
        't_seconds',
        'phase',
        'rss_mib',
        'heap_used_mib',
        'heap_total_mib',
        'external_mib',
        'eventloop_lag_p99_ms',
        'calls_active',
        ...structureNames,
      ],
      ...samples.map((s) => [
        s.t.toFixed(1),
        s.phase,
        s.rss.toFixed(2),
        s.heap.toFixed(2),
        s.heapTotal.toFixed(2),
        s.external.toFixed(2),
        s.lagP99Ms.toFixed(2),
        String(s.callsActive),
        ...structureNames.map((k) => String(s.structures[k] ?? '')),
      ]),
    ]
      .map((row) => row.join(','))
      .join('\n') + '\n',
  );
  const plotted = run;
  const svg = plotSvg({
    title: `voxgate soak: ${minutes} min, ${cps} calls/s, ${users} phones (${local ? 'all-in-one' : httpUrl})`,
    subtitle:
      `after warm-up: RSS slope ${r2(rssFit.slope)} MiB/min, heap slope ${r2(heapFit.slope)} MiB/min (its troughs); ` +
      `RSS peak ${r1(rssPeak)} MiB; ${ok}/${offered} calls as expected`,
    series: [
      {
        name: 'RSS (dashed: fit after warm-up)',
        color: '#1f77b4',
        points: plotted.map((s) => [s.t / 60, s.rss]),
        fit: { from: warmupMinutes, to: loadEnd / 60, ...rssFit },
      },
      {
        name: 'heap used (dashed: fit through its troughs after warm-up)',
        color: '#ff7f0e',
        points: plotted.map((s) => [s.t / 60, s.heap]),
        fit: { from: warmupMinutes, to: loadEnd / 60, ...heapFit },
      },
    ],
    spans: [
      { from: 0, to: warmupMinutes, label: 'warm-up', color: '#f0f0f0' },
      { from: loadEnd / 60, to: (plotted.at(-1)?.t ?? loadEnd) / 60, label: 'rest', color: '#e6f4e6' },
    ],
    budgetMiB,
  });
  writeFileSync(join(out, 'soak.svg'), svg);
  await renderPng(svg, join(out, 'soak.png')).catch((err: unknown) =>
    log(`soak.png not rendered (soak.svg is): ${String(err)}`),
  );
  const classRows = classes.map(
    ([k, c]) => `| ${k} | ${c.offered} | ${c.ok} | ${c.failed} | ${JSON.stringify(c.failures)} |`,
  );
  writeFileSync(
    join(out, 'summary.md'),
    [
      `# Soak: ${minutes} min, ${cps} calls/s, ${users} phones — ${failures.length ? 'FAILED' : 'passed'}`,
      '',
      `Command: \`${summary.command}\`; target: ${summary.target}.`,
      '',
      '| | start | post-warm-up | end of load | after the rest | peak | slope after warm-up |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| RSS MiB (budget ${budgetMiB}) | ${summary.rssMiB.start} | ${summary.rssMiB.endOfWarmup} | ${summary.rssMiB.endOfLoad} | ${summary.rssMiB.afterRest} | ${summary.rssMiB.peak} | ${summary.slopesMiBPerMinute.rss} MiB/min |`,
      `| heap used MiB | ${summary.heapMiB.start} | ${summary.heapMiB.postWarmupLevel} (level) | ${summary.heapMiB.endOfLoad} | ${summary.heapMiB.afterLoad} (${summary.heapMiB.measuredAs}) | ${r1(Math.max(...run.map((s) => s.heap)))} | ${summary.slopesMiBPerMinute.heapAfterGc} MiB/min through its ${heapTroughs.length} troughs (every sample: ${summary.slopesMiBPerMinute.heapEverySample}) |`,
      '',
      `Heap after the load: ${summary.heapMiB.afterLoadVsLevelPercent}% against its post-warm-up level. ` +
        `Event-loop lag p99 (per ${sampleMs / 1000} s sample): median ${summary.eventLoopLagP99Ms.median} ms, ` +
        `max ${summary.eventLoopLagP99Ms.max} ms. Live calls left: ${liveLeft} (API), ` +
        `voxgate_calls_active ${last?.callsActive}. REGISTER transactions: ${result.registers.ok}/${result.registers.offered}; ` +
        `API reads ${result.apiReads.ok} (failed ${result.apiReads.failed}).`,
      '',
      '| calls | offered | as expected | failed | SIPp failure counters |',
      '| --- | ---: | ---: | ---: | --- |',
      ...classRows,
      `| all | ${offered} | ${ok} | ${offered - ok} (${r2(unexpectedPercent)}%) | |`,
      '',
      `voxgate_calls_total by disposition during the run: ${JSON.stringify(dispositions)}`,
      '',
      ...(failures.length ? ['Failed:', ...failures.map((f) => `- ${f}`)] : ['Every criterion holds.']),
      '',
    ].join('\n'),
  );
  console.log(JSON.stringify(report));
  for (const f of failures) log(`FAILED: ${f}`);
  exitCode = failures.length > 0 ? 1 : 0;
} finally {
  sampling = false;
  await mix.close();
  await local?.stop();
  rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);
