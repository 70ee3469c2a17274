/**
 * bench:sip — SIP OPTIONS round trips through voxgate's SIP path (endpoint → transaction layer → router) and,
 * in the same run, through Kamailio answering statelessly (sl_send_reply), both driven by SIPp on loopback.
 * For each offered rate: calls completed and failed, mean response time (SIPp measures whole milliseconds),
 * server CPU per 1,000 requests, RSS at the end of the step.
 * Usage: npm run bench:sip [-- --rates=1000,4000,8000 --seconds=5]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '1000,4000,8000' },
    seconds: { type: 'string', default: '5' },
  },
});
const rates = values.rates.split(',').map(Number);
const seconds = Number(values.seconds);
const SCENARIO = join(import.meta.dirname, 'fixtures', 'options-uac.xml');
const KAMAILIO_CFG = join(import.meta.dirname, 'fixtures', 'kamailio-options.cfg');
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** CPU ms and RSS bytes of a process and its children (Kamailio forks workers). */
function usage(pid: number): { cpuMs: number; rssBytes: number } {
  const pids = [
    pid,
    ...spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map(Number),
  ];
  let ticks = 0;
  let rssPages = 0;
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
      rssPages += Number(fields[21]);
    } catch {
      // the process ended between pgrep and the read
    }
  }
  return { cpuMs: ticks * TICK_MS, rssBytes: rssPages * 4096 };
}

interface Row {
  server: string;
  rate: number;
  offered: number;
  ok: number;
  failed: number;
  meanMs: number;
  cpuMsPer1000: number;
  rssMiB: number;
}

function runSipp(port: number, rate: number): Promise<{ ok: number; failed: number; meanMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'voxgate-bench-'));
  const local = 20_000 + Math.floor(Math.random() * 20_000);
  return new Promise((resolve, reject) => {
    const child = spawn(
      'sipp',
      [
        '-sf',
        SCENARIO,
        `127.0.0.1:${port}`,
        '-i',
        '127.0.0.1',
        '-p',
        String(local),
        '-r',
        String(rate),
        '-m',
        String(rate * seconds),
        '-l',
        String(rate * 2),
        '-timeout',
        `${seconds * 3 + 10}s`,
        '-nostdin',
        '-trace_stat',
        '-fd',
        '1',
        '-stf',
        join(dir, 'stat.csv'),
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    child.on('error', reject);
    child.on('exit', () => {
      try {
        const lines = readFileSync(join(dir, 'stat.csv'), 'utf8').trim().split('\n');
        const head = lines[0]!.split(';');
        const last = lines.at(-1)!.split(';');
        const col = (name: string) => last[head.indexOf(name)] ?? '0';
        const rt = col('ResponseTime1(C)').split(':').map(Number); // hh:mm:ss:usec
        const meanMs = ((rt[0] ?? 0) * 3600 + (rt[1] ?? 0) * 60 + (rt[2] ?? 0)) * 1000 + (rt[3] ?? 0) / 1000;
        resolve({ ok: Number(col('SuccessfulCall(C)')), failed: Number(col('FailedCall(C)')), meanMs });
      } catch (err) {
        reject(err);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

async function measure(server: string, child: ChildProcess, port: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (const rate of rates) {
    const before = usage(child.pid!);
    const result = await runSipp(port, rate);
    const after = usage(child.pid!);
    const requests = result.ok + result.failed;
    rows.push({
      server,
      rate,
      offered: rate * seconds,
      ...result,
      cpuMsPer1000: requests ? ((after.cpuMs - before.cpuMs) / requests) * 1000 : 0,
      rssMiB: after.rssBytes / 2 ** 20,
    });
  }
  return rows;
}

function waitForOutput(child: ChildProcess, pattern: RegExp, stream: 'stdout' | 'stderr'): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in: ${text.slice(-500)}`)), 30_000);
    child[stream]!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = pattern.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] ?? m[0]);
      }
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const rows: Row[] = [];

// voxgate: the sip-gateway target on a scratch PostgreSQL database (the embedded PGlite would add its WASM
// heap to the RSS), shared state in memory.
const base = process.env.VOXGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `voxgate_bench_${process.pid}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
try {
  const url = new URL(base);
  url.pathname = `/${dbName}`;
  const vx = spawn(process.execPath, ['dist/src/bin/voxgate.js', '--target=sip-gateway'], {
    env: {
      PATH: process.env.PATH,
      VOXGATE_DATABASE_URL: url.toString(),
      VOXGATE_SIP_HOST: '127.0.0.1',
      VOXGATE_SIP_PORT: '0',
      VOXGATE_API_HOST: '127.0.0.1',
      VOXGATE_API_PORT: '0',
      VOXGATE_LOG_LEVEL: 'info',
      VOXGATE_SHUTDOWN_GRACE_SECONDS: '1',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = Number(await waitForOutput(vx, /"udp":(\d+)/, 'stdout'));
  rows.push(...(await measure('voxgate (1 process)', vx, port)));
  await stop(vx);
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}

// Kamailio 5.6, stateless 200, with one and with two worker processes.
for (const children of [1, 2]) {
  const port = 26_000 + children;
  const kam = spawn(
    'kamailio',
    [
      '-f',
      KAMAILIO_CFG,
      '-DD',
      '-E',
      '-l',
      `udp:127.0.0.1:${port}`,
      '-A',
      `KAMAILIO_CHILDREN=${children}`,
      '-P',
      join(tmpdir(), `kamailio-bench-${port}.pid`),
      '-Y',
      tmpdir(),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await waitForOutput(kam, /(init_tcp|sipdump|main\.c|INFO: <core>|listening on)/i, 'stderr').catch(
    () => undefined,
  );
  await new Promise((r) => setTimeout(r, 1000));
  rows.push(...(await measure(`Kamailio 5.6 (${children} worker${children > 1 ? 's' : ''})`, kam, port)));
  await stop(kam);
}

const fmt = (n: number, d = 1) => n.toFixed(d);
console.log(
  '| server | offered rate /s | completed | failed | mean response ms | server CPU ms per 1,000 | RSS MiB |',
);
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.server} | ${r.rate} | ${r.ok} | ${r.failed} | ${r.meanMs < 1 ? '<1' : fmt(r.meanMs)} | ${fmt(r.cpuMsPer1000)} | ${fmt(r.rssMiB)} |`,
  );
}
