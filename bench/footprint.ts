/**
 * bench:footprint — the memory of each voxgate target at rest, next to Kamailio's and RTPengine's in the same
 * run. Each server is started alone, waited for (voxgate: /readyz 200; Kamailio: its UDP workers; RTPengine: an
 * ng ping), left idle --idle-seconds (10), then measured from /proc: RSS (VmRSS) and PSS (smaps_rollup: pages
 * shared between processes counted once), summed over every process of the server (Kamailio forks its workers).
 * For voxgate, /metrics tells what the RSS holds: the V8 heap, and the memory outside it (external: array
 * buffers, among them PGlite's WebAssembly memory in the all-in-one).
 *
 *   npm run bench:footprint [-- --idle-seconds=10 --runs=1]
 *
 * voxgate runs `all` on its embedded defaults (PGlite in a fresh data folder, shared state in memory), then
 * `sip-gateway`, `media-relay`, `api` and `worker` each on PostgreSQL (a scratch database on the server of
 * VOXGATE_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) and Redis
 * (VOXGATE_TEST_REDIS_URL, default redis://127.0.0.1:6379). Kamailio runs bench/fixtures/kamailio-registrar.cfg
 * (a registrar and proxy, 2 UDP workers, Debian's default memory sizes); RTPengine userspace (`--table=-1`, as
 * test/helpers/rtpengine.ts starts it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { findRtpengine, freeUdpPort, startRtpengine } from '../test/helpers/rtpengine.js';
import { stop } from './support.js';

const { values } = parseArgs({
  options: {
    'idle-seconds': { type: 'string', default: '10' },
    runs: { type: 'string', default: '1' },
    only: { type: 'string' },
  },
});
const idleMs = Number(values['idle-seconds']) * 1000;
const runs = Number(values.runs);
const only = values.only?.split(',');
const ROOT = join(import.meta.dirname, '..');
const MiB = 2 ** 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every process of the tree rooted at `pid`. */
function tree(pid: number): number[] {
  const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
  return [pid, ...children.flatMap(tree)];
}

function memoryOf(pids: readonly number[]): { rss: number; pss: number; processes: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    try {
      rss += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      pss +=
        Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      // the process ended meanwhile
    }
  }
  return { rss: rss / MiB, pss: pss / MiB, processes: pids.length };
}

interface Row {
  server: string;
  store: string;
  rss: number;
  pss: number;
  processes: number;
  heapTotal?: number;
  heapUsed?: number;
  external?: number;
}

async function voxgate(target: string, env: Record<string, string>, store: string): Promise<Row> {
  const dataDir = mkdtempSync(join(tmpdir(), 'voxgate-footprint-'));
  const vx: ChildProcess = spawn(
    process.execPath,
    [join(ROOT, 'dist/src/bin/voxgate.js'), `--target=${target}`],
    {
      env: {
        PATH: process.env.PATH,
        VOXGATE_DATA_DIR: dataDir,
        VOXGATE_SIP_HOST: '127.0.0.1',
        VOXGATE_SIP_PORT: '0',
        VOXGATE_SIP_WS_PORT: '0',
        VOXGATE_API_HOST: '127.0.0.1',
        VOXGATE_API_PORT: '0',
        VOXGATE_MEDIA_NG: `127.0.0.1:${await freeUdpPort()}`,
        VOXGATE_SHUTDOWN_GRACE_SECONDS: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(
        () => reject(new Error(`${target} did not start: ${text.slice(-500)}`)),
        120_000,
      );
      vx.once('exit', (code) => reject(new Error(`${target} exited with ${code}`)));
      vx.stdout!.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /"address":"(http:\/\/[^"]+)"/.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    for (let i = 0; (await fetch(`${url}/readyz`).then((r) => r.status)) !== 200; i++) {
      if (i > 600) throw new Error(`${target} not ready`);
      await sleep(200);
    }
    await sleep(idleMs);
    const mem = memoryOf(tree(vx.pid!));
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1]) / MiB;
    return {
      server: `voxgate ${target}`,
      store,
      ...mem,
      heapTotal: metric('nodejs_heap_size_total_bytes'),
      heapUsed: metric('nodejs_heap_size_used_bytes'),
      external: metric('nodejs_external_memory_bytes'),
    };
  } finally {
    await stop(vx);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function kamailio(): Promise<Row> {
  const port = await freeUdpPort();
  const kam = spawn(
    'kamailio',
    [
      '-f',
      join(import.meta.dirname, 'fixtures', 'kamailio-registrar.cfg'),
      '-DD',
      '-E',
      '-l',
      `udp:127.0.0.1:${port}`,
      '-P',
      join(tmpdir(), `kamailio-footprint-${port}.pid`),
      '-Y',
      tmpdir(),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  kam.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  try {
    // Main process, 2 UDP workers, the timer, the slow timer and others: wait until the tree stops growing.
    let n = 0;
    for (let i = 0; i < 50; i++) {
      await sleep(200);
      if (kam.exitCode !== null) throw new Error(`kamailio exited: ${stderr}`);
      const now = tree(kam.pid!).length;
      if (now === n && n > 3) break;
      n = now;
    }
    await sleep(idleMs);
    return {
      server: 'Kamailio (registrar, 2 workers)',
      store: 'memory (usrloc)',
      ...memoryOf(tree(kam.pid!)),
    };
  } finally {
    await stop(kam);
  }
}

async function rtpengine(): Promise<Row> {
  const binary = findRtpengine();
  if (!binary) throw new Error('rtpengine not found: apt-get install rtpengine-daemon');
  const relay = await startRtpengine(binary, 10_000);
  try {
    // The helper gives no pid: the daemon is the rtpengine process listening on this run's ng port.
    const pids = spawnSync('pgrep', ['-f', `listen-ng=127.0.0.1:${relay.ngPort}`], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map(Number);
    if (pids.length !== 1) throw new Error(`rtpengine process not found (${pids.join(',')})`);
    await sleep(idleMs);
    return { server: 'RTPengine (userspace, 10,000 ports)', store: '—', ...memoryOf(tree(pids[0]!)) };
  } finally {
    await relay.stop();
  }
}

const base = process.env.VOXGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.VOXGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const dbName = `voxgate_footprint_${process.pid}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const dbUrl = new URL(base);
dbUrl.pathname = `/${dbName}`;
const external = { VOXGATE_DATABASE_URL: dbUrl.toString(), VOXGATE_REDIS_URL: redisUrl };
const servers: [string, () => Promise<Row>][] = [
  ['all', () => voxgate('all', {}, 'PGlite, memory')],
  ...['sip-gateway', 'media-relay', 'api', 'worker'].map(
    (t) => [t, () => voxgate(t, external, 'PostgreSQL, Redis')] as [string, () => Promise<Row>],
  ),
  ['kamailio', kamailio],
  ['rtpengine', rtpengine],
];
const rows: Row[] = [];
try {
  // The PostgreSQL targets need the schema: the api target migrates it (each target does at start).
  for (let run = 0; run < runs; run++)
    for (const [name, measure] of servers) {
      if (only && !only.includes(name)) continue;
      const row = await measure();
      console.error(`footprint: ${row.server}: RSS ${row.rss.toFixed(1)} MiB, PSS ${row.pss.toFixed(1)} MiB`);
      rows.push(row);
    }
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}

// The median of the runs of each server.
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const merged = [...new Set(rows.map((r) => r.server))].map((server) => {
  const of = rows.filter((r) => r.server === server);
  const pick = (k: keyof Row) =>
    of[0]![k] === undefined ? undefined : median(of.map((r) => r[k] as number));
  return {
    ...of[0]!,
    rss: pick('rss')!,
    pss: pick('pss')!,
    heapTotal: pick('heapTotal'),
    external: pick('external'),
  };
});
const kam = merged.find((r) => r.server.startsWith('Kamailio'));
const rtp = merged.find((r) => r.server.startsWith('RTPengine'));
const f = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '—' : n.toFixed(1));
const ratio = (n: number, of: Row | undefined) => (of ? `${(n / of.rss).toFixed(1)}×` : '—');
console.log(
  `| server | store / state | processes | RSS MiB | PSS MiB | V8 heap used / total MiB | external MiB | RSS / Kamailio | RSS / RTPengine |`,
);
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of merged)
  console.log(
    `| ${r.server} | ${r.store} | ${r.processes} | ${f(r.rss)} | ${f(r.pss)} | ${r.heapUsed === undefined ? '—' : `${f(r.heapUsed)} / ${f(r.heapTotal)}`} | ${f(r.external)} | ${ratio(r.rss, kam)} | ${ratio(r.rss, rtp)} |`,
  );
