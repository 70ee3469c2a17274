/**
 * Heap profile of the critical scenarios on one voxgate process (the all-in-one by default):
 * phones re-registering with digest, calls with G.711 through the media relay (90% answered and held ~2 s, 10%
 * busy), the API read once a second. SIPp plays every phone (Debian package sip-tester).
 *
 * Two phases of the same load, each followed by a rest (the load stopped, `--settle-seconds` for transactions
 * to end: 64·T1 = 32 s), and a heap snapshot at each rest (V8 runs a full GC before it writes one, so a snapshot
 * holds only what is still reachable):
 *   1. warm-up load (`--warmup-seconds`), rest, snapshot `before.heapsnapshot`;
 *   2. load (`--load-seconds`), rest, snapshot `after.heapsnapshot`.
 * Both rests see the same live state (the same registrations, no call, no transaction), so what the second
 * snapshot holds beyond the first is what the load left behind. Writes both snapshots, the /metrics text at each
 * rest and `summary.json` / `summary.md` (totals, the constructors that grew most, who holds them) into `--out`.
 * Fails when the retained heap grew more than `--budget-percent` (default 10%; docs/performance.md, Memory) or
 * when fewer than 95% of the calls went as expected.
 * Usage (after `npm run build`; scripts/ci/heap-profile.sh does both):
 *   node --import tsx bench/heap-profile.ts [--warmup-seconds=45 --load-seconds=120 --users=300 --cps=10 --out=heap-profile]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
import { freeUdpPort } from '../test/helpers/rtpengine.js';
import { heapGrowth, summarizeHeapSnapshot, type HeapSummary } from './heap-snapshot.js';
import { runSippStats, stop, type SippStats } from './support.js';

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
const load = Number(values['load-seconds']);
const settle = Number(values['settle-seconds']);
const users = Number(values.users);
const cps = Number(values.cps);
const registerEvery = Number(values['register-every']);
const budgetPercent = Number(values['budget-percent']);
const ROOT = join(import.meta.dirname, '..');
const SIPP = join(ROOT, 'test', 'fixtures', 'sipp');
const DOMAIN = 'load.example';
const PASSWORD = 'load-pass-1';
const KEY = `vxg_heap${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;
const out = resolve(values.out);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'voxgate-heap-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const port = () => 21_000 + 2 * Math.floor(Math.random() * 9_000);
const log = (msg: string) => console.error(`heap-profile: ${msg}`);

// Scenarios derived from the test fixtures: registration of many users from a CSV (-inf: SIPp takes the
// credentials of each line from an [authentication …] keyword in the file), and the callees'
// registration with a long expiry (they stay registered through the whole run without re-registering).
const register = readFileSync(join(SIPP, 'register-digest.xml'), 'utf8');
writeFileSync(
  join(work, 'register-users.xml'),
  register.replaceAll('[service]', '[field0]').replaceAll('[authentication]', '[field1]'),
);
writeFileSync(join(work, 'register-callee.xml'), register.replaceAll('Expires: 300', 'Expires: 3600'));
writeFileSync(
  join(work, 'users.csv'),
  [
    'SEQUENTIAL',
    ...Array.from(
      { length: users },
      (_, i) => `phone${i};[authentication username=phone${i} password=${PASSWORD}];`,
    ),
  ].join('\n') + '\n',
);

const ngPort = await freeUdpPort();
const rtpMin = 30_000 + 2 * Math.floor(Math.random() * 5_000);
const vx = spawn(
  process.execPath,
  [
    `--heapsnapshot-signal=SIGUSR2`,
    `--diagnostic-dir=${work}`,
    join(ROOT, 'dist/src/bin/voxgate.js'),
    `--target=${values.target}`,
  ],
  {
    env: {
      PATH: process.env.PATH,
      VOXGATE_DATA_DIR: join(work, 'data'),
      VOXGATE_SIP_HOST: '127.0.0.1',
      VOXGATE_SIP_PORT: '0',
      VOXGATE_SIP_WS_PORT: '0',
      VOXGATE_API_HOST: '127.0.0.1',
      VOXGATE_API_PORT: '0',
      VOXGATE_MEDIA_NG: `127.0.0.1:${ngPort}`,
      VOXGATE_RTP_PORT_MIN: String(rtpMin),
      VOXGATE_RTP_PORT_MAX: String(rtpMin + 1999),
      VOXGATE_ADMIN_API_KEY: KEY,
      VOXGATE_API_RATE_LIMIT_PER_MINUTE: '0',
      VOXGATE_SIP_AUTH_BAN_THRESHOLD: '10000',
      VOXGATE_SHUTDOWN_GRACE_SECONDS: '1',
      // SIPp's phones do not answer the registrar's OPTIONS keep-alives: with them on, their bindings would go.
      VOXGATE_SIP_KEEPALIVE_SECONDS: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const started = await new Promise<Record<string, unknown>[]>((resolveStart, reject) => {
  const lines: Record<string, unknown>[] = [];
  let text = '';
  const timer = setTimeout(() => reject(new Error('voxgate did not start')), 60_000);
  vx.once('exit', (code) => reject(new Error(`voxgate exited with ${code} before it started`)));
  vx.stdout!.on('data', (d: Buffer) => {
    text += d.toString();
    const parts = text.split('\n');
    text = parts.pop()!;
    for (const line of parts) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
      if (lines.at(-1)?.msg === 'voxgate started') {
        clearTimeout(timer);
        resolveStart(lines);
      }
    }
  });
});
const sipPort = started.find((l) => l.msg === 'SIP listening')?.udp as number;
const httpUrl = started.find((l) => l.msg === 'HTTP listening')?.address as string;
const target = `127.0.0.1:${sipPort}`;
log(`voxgate pid ${vx.pid}: SIP ${target}, HTTP ${httpUrl}`);

async function api(path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${httpUrl}/v1${path}`, {
    method: body ? 'POST' : 'GET',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const tenantId = (await api('/tenants', { name: 'Load', sipDomain: DOMAIN })).id as string;
for (const name of ['caller', 'answer', 'busy', ...Array.from({ length: users }, (_, i) => `phone${i}`)])
  await api(`/tenants/${tenantId}/users`, { username: name, password: PASSWORD });
log(`provisioned ${users + 3} users`);

function sipp(args: readonly string[]): ChildProcess {
  return spawn('sipp', [...args, '-nostdin'], { cwd: work, stdio: 'ignore' });
}
const auth = (user: string) => ['-au', user, '-ap', PASSWORD, '-key', 'domain', DOMAIN];

// The callees: registered once, then SIPp UASs on the registered ports (answer echoes the caller's RTP).
const callees: ChildProcess[] = [];
for (const [user, scenario] of [
  ['answer', 'uas-answer.xml'],
  ['busy', 'uas-busy.xml'],
] as const) {
  const p = port();
  const reg = await runSippStats([
    '-sf',
    join(work, 'register-callee.xml'),
    target,
    '-i',
    '127.0.0.1',
    '-p',
    String(p),
    '-m',
    '1',
    '-s',
    user,
    ...auth(user),
  ]);
  if (reg.ok !== 1) throw new Error(`${user} did not register`);
  callees.push(
    sipp([
      '-sf',
      join(SIPP, scenario),
      target,
      '-i',
      '127.0.0.1',
      '-p',
      String(p),
      '-mi',
      '127.0.0.1',
      '-mp',
      String(port()),
      '-rtp_echo',
      '-m',
      '1000000',
    ]),
  );
}
await sleep(300);

// The phones re-register from one address in every phase: the same bindings are refreshed, not added.
const phonesPort = port();
const callsOf = (perSecond: number, seconds: number) => Math.max(1, Math.round(perSecond * seconds));

/** SIPp's unexpected messages and failures go into the artifacts (`sipp-<name>-errors.log`). */
const errors = (name: string) => [
  '-trace_err',
  '-error_file',
  join(out, `sipp-${name}-errors.log`),
  ...(process.env.BENCH_SIPP_TRACE
    ? ['-trace_msg', '-message_file', join(out, `sipp-${name}-messages.log`)]
    : []),
];

/** One phase of the mixed load, `seconds` long; resolves when every SIPp of it has finished its calls. */
async function phase(
  seconds: number,
): Promise<{ answered: SippStats; busy: SippStats; registers: SippStats }> {
  // SIPp's -r is calls per -rp milliseconds: rates below 1/s are n per 10 s.
  const rated = (perSecond: number) => [
    '-r',
    String(Math.max(1, Math.round(perSecond * 10))),
    '-rp',
    '10000',
  ];
  const calls = (user: string, perSecond: number) =>
    runSippStats([
      '-sf',
      join(SIPP, 'uac-call.xml'),
      target,
      '-i',
      '127.0.0.1',
      '-p',
      String(port()),
      '-s',
      user,
      ...auth('caller'),
      '-key',
      'caller',
      'caller',
      '-mi',
      '127.0.0.1',
      '-mp',
      String(port()),
      ...rated(perSecond),
      '-m',
      String(callsOf(perSecond, seconds)),
      '-l',
      String(Math.ceil(perSecond * 10) + 10),
      '-timeout',
      `${seconds + 60}s`,
      ...errors(`calls-${user}`),
    ]);
  const registers = runSippStats([
    '-sf',
    join(work, 'register-users.xml'),
    target,
    '-i',
    '127.0.0.1',
    '-p',
    String(phonesPort),
    '-inf',
    join(work, 'users.csv'),
    '-key',
    'domain',
    DOMAIN,
    ...rated(users / registerEvery),
    '-m',
    String(Math.max(1, Math.round((users / registerEvery) * seconds))),
    '-timeout',
    `${seconds + 60}s`,
    ...errors('registers'),
  ]);
  let reading = true;
  const reader = (async () => {
    while (reading) {
      await api(`/tenants/${tenantId}/calls/live`).catch(() => undefined);
      await sleep(1000);
    }
  })();
  const [answered, busy, regs] = await Promise.all([
    calls('answer', cps * 0.9),
    calls('busy', cps * 0.1),
    registers,
  ]);
  reading = false;
  await reader;
  return { answered, busy, registers: regs };
}

function rssMiB(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${vx.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

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
  const first = await phase(warmup);
  await sleep(settle * 1000);
  const before = await snapshot('before');
  log(`load: ${load} s`);
  const t0 = Date.now();
  const second = await phase(load);
  const loadMinutes = (Date.now() - t0) / 60_000;
  await sleep(settle * 1000);
  const after = await snapshot('after');

  // The budget is on the JS heap: the retained heap without PGlite's WASM memory (reported apart).
  const js = (s: HeapSummary) => s.totalBytes - s.largeBufferBytes;
  const growthBytes = js(after.summary) - js(before.summary);
  const growthPercent = (100 * growthBytes) / js(before.summary);
  const calls = [second.answered, second.busy];
  const offered = callsOf(cps * 0.9, load) + callsOf(cps * 0.1, load);
  const ok = calls.reduce((a, s) => a + s.ok, 0);
  const mib = (n: number) => +(n / 2 ** 20).toFixed(2);
  const top = heapGrowth(before.summary, after.summary);
  const summary = {
    target: values.target,
    warmupSeconds: warmup,
    loadSeconds: load,
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
    rssMiB: { before: +before.rssMiB.toFixed(1), after: +after.rssMiB.toFixed(1) },
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
      `# Heap profile — ${values.target}, ${users} phones, ${cps} calls/s, ${load} s of load`,
      '',
      `Retained JS heap after a full GC (without PGlite's WASM memory): ${summary.retainedJsHeapMiB.before} MiB ` +
        `at rest after the warm-up, ${summary.retainedJsHeapMiB.after} MiB at rest after the load ` +
        `(${summary.growthMiB} MiB, ${summary.growthPercent}%; budget ${budgetPercent}%). WASM memory ` +
        `${summary.wasmMemoryMiB.before} → ${summary.wasmMemoryMiB.after} MiB. Calls: ${ok}/${offered} as expected.`,
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
    ...(ok < offered * 0.95 ? [`only ${ok} of ${offered} calls went as expected`] : []),
  ];
  for (const f of failures) console.error(`heap-profile: FAILED: ${f}`);
  exitCode = failures.length > 0 ? 1 : 0;
} finally {
  for (const c of callees) await stop(c);
  await stop(vx);
  rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);
