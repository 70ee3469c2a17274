/**
 * bench:sip — SIP OPTIONS round trips through voxgate's SIP path (endpoint → transaction layer → router) and,
 * in the same run, through Kamailio answering statelessly (sl_send_reply), both driven by SIPp on loopback.
 * For each offered rate: calls completed and failed, mean response time (SIPp measures whole milliseconds),
 * server CPU per 1,000 requests, RSS at the end of the step.
 * Usage: npm run bench:sip [-- --rates=1000,4000,8000 --seconds=5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { fmt, runSippStats, stop, usage, waitForOutput, type SippStats } from './support.js';
import { sippPort } from '../test/helpers/sipp.js';

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

async function runSipp(port: number, rate: number): Promise<SippStats> {
  const local = await sippPort();
  return runSippStats([
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
  ]);
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

console.log(
  '| server | offered rate /s | completed | failed | mean response ms | server CPU ms per 1,000 | RSS MiB |',
);
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.server} | ${r.rate} | ${r.ok} | ${r.failed} | ${r.meanMs < 1 ? '<1' : fmt(r.meanMs)} | ${fmt(r.cpuMsPer1000)} | ${fmt(r.rssMiB)} |`,
  );
}
