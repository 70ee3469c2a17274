/**
 * stress:memory — a long signalling load (SIPp: OPTIONS pings and unauthenticated REGISTERs) against one
 * voxgate process; RSS is sampled every 5 s. Fails when RSS exceeds the target's budget
 * (config/memory-budgets.yml) or keeps growing after warm-up (least-squares slope over the last 75% of the run
 * above --max-growth MiB/min; at least the first minute is warm-up: transaction state needs 64*T1 to plateau).
 * Outside `npm test`: it runs for minutes.
 * Usage: npm run stress:memory [-- --minutes=10 --rate=1000 --target=all --max-growth=2]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readMemoryBudgets } from './memory-budgets.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    target: { type: 'string', default: 'all' },
    'max-growth': { type: 'string', default: '2' },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const maxGrowth = Number(values['max-growth']);
const budgetMiB = readMemoryBudgets().get(values.target);
if (budgetMiB === undefined)
  throw new Error(`no budget for target ${values.target} in config/memory-budgets.yml`);

const dataDir = mkdtempSync(join(tmpdir(), 'voxgate-stress-'));
const vx = spawn(process.execPath, ['dist/src/bin/voxgate.js', `--target=${values.target}`], {
  env: {
    PATH: process.env.PATH,
    VOXGATE_DATA_DIR: dataDir,
    VOXGATE_SIP_HOST: '127.0.0.1',
    VOXGATE_SIP_PORT: '0',
    VOXGATE_API_HOST: '127.0.0.1',
    VOXGATE_API_PORT: '0',
    VOXGATE_MEDIA_NG: '127.0.0.1:0',
    VOXGATE_SIP_AUTH_BAN_THRESHOLD: '10000',
    VOXGATE_SHUTDOWN_GRACE_SECONDS: '1',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise<number>((resolve, reject) => {
  let text = '';
  const timer = setTimeout(() => reject(new Error('voxgate did not start')), 30_000);
  vx.stdout!.on('data', (d: Buffer) => {
    text += d.toString();
    const m = /"udp":(\d+)/.exec(text);
    if (m) {
      clearTimeout(timer);
      resolve(Number(m[1]));
    }
  });
});

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function sipp(scenario: string, callRate: number): ChildProcess {
  const local = 20_000 + Math.floor(Math.random() * 20_000);
  return spawn(
    'sipp',
    [
      '-sf',
      join(import.meta.dirname, 'fixtures', scenario),
      `127.0.0.1:${port}`,
      '-i',
      '127.0.0.1',
      '-p',
      String(local),
      '-r',
      String(callRate),
      '-m',
      String(Math.round(callRate * minutes * 60)),
      '-l',
      String(callRate * 4),
      '-nostdin',
    ],
    { cwd: dataDir, stdio: 'ignore' },
  );
}

const loads = [sipp('options-uac.xml', rate / 2), sipp('register-challenge.xml', rate / 2)];
const samples: { t: number; rss: number }[] = [];
const start = Date.now();
while (loads.some((l) => l.exitCode === null) && Date.now() - start < minutes * 60_000 + 60_000) {
  await new Promise((r) => setTimeout(r, 5000));
  samples.push({ t: (Date.now() - start) / 60_000, rss: rssMiB(vx.pid!) });
}
for (const l of loads) l.kill();
vx.kill('SIGTERM');
await new Promise((r) => vx.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });

// Warm-up: the first quarter of the run, and at least the first minute — non-INVITE transactions live 64*T1
// (32 s) after their final response, so transaction state only reaches its plateau after that.
const steady = samples.filter((s, i) => i >= Math.floor(samples.length / 4) && s.t >= 1);
const n = steady.length;
const meanT = steady.reduce((a, s) => a + s.t, 0) / n;
const meanR = steady.reduce((a, s) => a + s.rss, 0) / n;
const slope =
  steady.reduce((a, s) => a + (s.t - meanT) * (s.rss - meanR), 0) /
  (steady.reduce((a, s) => a + (s.t - meanT) ** 2, 0) || 1);
const peak = Math.max(...samples.map((s) => s.rss));
console.log(
  JSON.stringify({
    target: values.target,
    minutes,
    rate,
    samples: samples.length,
    peakMiB: +peak.toFixed(1),
    budgetMiB,
    slopeMiBPerMin: +slope.toFixed(2),
    maxGrowth,
  }),
);
const failures = [
  ...(peak > budgetMiB
    ? [`peak RSS ${peak.toFixed(1)} MiB exceeds the ${values.target} budget of ${budgetMiB} MiB`]
    : []),
  ...(slope > maxGrowth
    ? [`RSS still grows ${slope.toFixed(2)} MiB/min after warm-up (limit ${maxGrowth})`]
    : []),
];
for (const f of failures) console.error(`stress:memory: ${f}`);
process.exit(failures.length > 0 ? 1 : 0);
