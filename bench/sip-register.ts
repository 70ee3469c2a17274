/**
 * bench:register — registrations with digest per second (REGISTER, 401 with a challenge, REGISTER with
 * credentials, 200: RFC 3261 §10 and §22.4) through voxgate's registrar and, in the same run, Kamailio 5.6's
 * (registrar + usrloc in memory + auth, bench/fixtures/kamailio-registrar.cfg), then the memory one binding
 * costs at `--bindings` distinct users.
 *
 * voxgate runs as the sip-gateway target on PostgreSQL (users inserted by SQL, their HA1 computed by
 * PostgreSQL) with its shared state in memory (no Redis: the bindings live in the process, as Kamailio's
 * usrloc does in its shared memory), MD5 digest. SIPp plays the phones from an injection file of users
 * (bench/fixtures/register-users.xml), each with its own Contact: one user, one binding. For each offered rate:
 * registrations completed (the 200) and failed, server CPU per registration, memory. Then `--bindings` users
 * register once each (at `--fill-rate`), and the memory grown divided by the bindings made is the cost of one
 * (RSS for voxgate; PSS summed over Kamailio's processes, so its shared memory counts once); for voxgate also
 * the heap a full GC keeps, from a heap snapshot before and after the fill, by constructor.
 * Usage: npm run bench:register [-- --rates=500,1000,2000,3000 --seconds=10 --users=10000 --bindings=100000]
 *   [--servers=voxgate,voxgate-dgram,kamailio] (`voxgate`: the SIP port on the native batched UDP socket,
 *   VOXGATE_SIP_UDP=native, its default where built; `voxgate-dgram`: on Node.js dgram)
 *   [--workers=1,2] (voxgate with VOXGATE_SIP_WORKERS=2 too, on Redis: BENCH_REDIS_URL, default database 11 of
 *   127.0.0.1:6379, flushed before the run; its CPU is the primary's and the workers' together; `1:redis` is
 *   one process on Redis, as each replica of a Kubernetes gateway runs; Redis's own CPU is not counted)
 * `--bindings=0` skips the memory step (rates only). VOXGATE_* variables of the bench's environment reach voxgate
 * (e.g. VOXGATE_SIP_UDP_RECEIVE_BUFFER_KB, its SIP socket's receive buffer), except those the bench sets itself;
 * of VOXGATE_DATA_DIR only memory:// does, which runs it without its registrations file (the bindings'
 * write-behind journal), as Kamailio's usrloc keeps none here. Profiling voxgate under the load:
 * BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' (the default folder is the bench's scratch folder, removed
 * at the end); BENCH_SERVER_LOG=<file> keeps the server's output (with BENCH_NODE_ARGS='--trace-gc', V8's lines).
 */
import { Redis } from 'ioredis';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createTenantRepository, migrate, openDatabase } from '../src/store/index.js';
import { heapGrowth, summarizeHeapSnapshot, type HeapSummary } from './heap-snapshot.js';
import { heapLimitArgs } from './memory-budgets.js';
import { sippPort as port } from '../test/helpers/sipp.js';
import {
  fmt,
  runSippStats,
  startKamailio,
  stop,
  usage,
  voxgateSettingsOfBench,
  waitForOutput,
  withScratchDatabase,
  type SippStats,
} from './support.js';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '500,1000,2000,3000,4000' },
    seconds: { type: 'string', default: '10' },
    users: { type: 'string', default: '10000' },
    bindings: { type: 'string', default: '100000' },
    'fill-rate': { type: 'string', default: '1000' },
    servers: { type: 'string', default: 'voxgate,kamailio' },
    // voxgate's SIP workers per run: 1 (bindings in the process) and/or N (VOXGATE_SIP_WORKERS=N, on Redis).
    workers: { type: 'string', default: '1' },
  },
});
/** Each run's SIP workers, and whether its shared state is in Redis (always with more than one worker). */
const workerRuns = values.workers.split(',').map((entry) => {
  const [count, store] = entry.split(':');
  const workers = Number(count);
  return { workers, redis: workers > 1 || store === 'redis' };
});
const rates = values.rates.split(',').map(Number);
const seconds = Number(values.seconds);
const users = Number(values.users);
const bindings = Number(values.bindings);
const fillRate = Number(values['fill-rate']);
/** New users registered between voxgate's two heap snapshots (after the RSS fill). */
const HEAP_FILL = 20_000;
/** Users provisioned past the fills, one registered before each memory reading (`settle`). */
const NUDGES = 8;
/**
 * How long voxgate's directory cache keeps a user's credentials (VOXGATE_DIRECTORY_CACHE_SECONDS, default 60):
 * a fill leaves up to 100,000 entries, which go only when a later insertion finds them expired.
 */
const DIRECTORY_CACHE_MS = Number(process.env.VOXGATE_DIRECTORY_CACHE_SECONDS ?? 60) * 1000;
/**
 * What a memory reading waits for after registrations: the last server transactions to end (Timer J: 64*T1 =
 * 32 s over UDP) and the directory cache's entries to expire.
 */
const SETTLE_MS = Math.max(40_000, DIRECTORY_CACHE_MS + 5_000);
const servers = new Set(values.servers.split(','));
const ROOT = join(import.meta.dirname, '..');
const SCENARIO = join(import.meta.dirname, 'fixtures', 'register-users.xml');
const KAMAILIO_CFG = join(import.meta.dirname, 'fixtures', 'kamailio-registrar.cfg');
const DOMAIN = 'register.example';
const PASSWORD = 'bench';
const work = mkdtempSync(join(tmpdir(), 'voxgate-register-'));
const log = (msg: string) => console.error(`bench:register: ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A SIPp injection file of `count` users from `first` (SEQUENTIAL: call n takes line n, wrapping around). */
function usersFile(name: string, first: number, count: number): string {
  const path = join(work, name);
  const lines = ['SEQUENTIAL'];
  for (let i = first; i < first + count; i++)
    lines.push(`u${i};[authentication username=u${i} password=${PASSWORD}]`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

interface Row {
  server: string;
  rate: number;
  ok: number;
  failed: number;
  cpuMsPerRegistration: number;
  memoryMiB: number;
}

/** SIPp registering `total` users of `file` at `rate` per second to `target`. */
async function register(target: string, file: string, rate: number, total: number): Promise<SippStats> {
  return runSippStats([
    '-sf',
    SCENARIO,
    target,
    '-inf',
    file,
    '-i',
    '127.0.0.1',
    '-p',
    String(await port()),
    '-key',
    'domain',
    DOMAIN,
    '-r',
    String(rate),
    '-m',
    String(total),
    '-l',
    String(rate * 4),
    '-timeout',
    `${Math.ceil(total / rate) * 3 + 15}s`,
  ]);
}

async function ladder(server: string, pid: number, target: string): Promise<Row[]> {
  const file = usersFile(`ladder-${pid}.csv`, 0, users);
  // One pass over the users first: every later REGISTER refreshes a binding (steady state, as phones do),
  // and voxgate's directory cache is warm, as Kamailio's fixed password is.
  await register(target, file, Math.min(fillRate, 1000), users);
  const rows: Row[] = [];
  for (const rate of rates) {
    const before = usage(pid);
    const stats = await register(target, file, rate, rate * seconds);
    const after = usage(pid);
    const done = stats.ok + stats.failed;
    const row: Row = {
      server,
      rate,
      ok: stats.ok,
      failed: stats.failed + (rate * seconds - done),
      cpuMsPerRegistration: done ? (after.cpuMs - before.cpuMs) / done : 0,
      memoryMiB: after.rssBytes / 2 ** 20,
    };
    rows.push(row);
    log(
      `${server} ${rate}/s: ${row.ok} ok, ${row.failed} failed, ${fmt(row.cpuMsPerRegistration, 3)} ms CPU ` +
        `per registration, ${fmt(row.memoryMiB)} MiB` +
        (Object.keys(stats.failures).length > 0 ? ` (failures: ${JSON.stringify(stats.failures)})` : ''),
    );
    if (row.failed > rate * seconds * 0.05) break; // far past the breaking point
  }
  return rows;
}

/**
 * A heap snapshot of voxgate now (SIGUSR2: V8 runs a full GC first, so it holds only what is reachable), summed
 * by constructor; the file is removed once read.
 */
async function heapNow(pid: number): Promise<HeapSummary> {
  const known = new Set(readdirSync(work));
  process.kill(pid, 'SIGUSR2');
  let file: string | undefined;
  for (let i = 0; i < 600 && !file; i++) {
    await sleep(500);
    file = readdirSync(work).find((f) => f.endsWith('.heapsnapshot') && !known.has(f));
  }
  if (!file) throw new Error('no heap snapshot written');
  // V8 writes the file on voxgate's main thread, after its GC: read once it has stopped growing, again if it
  // was read before the end.
  for (let tries = 0; ; tries++) {
    let size = -1;
    while (statSync(join(work, file)).size !== size || size === 0) {
      size = statSync(join(work, file)).size;
      await sleep(1000);
    }
    try {
      const summary = summarizeHeapSnapshot(join(work, file));
      rmSync(join(work, file));
      return summary;
    } catch (err) {
      if (!(err instanceof SyntaxError) || tries >= 30) throw err;
    }
  }
}

/**
 * Memory grown per binding when `bindings` users not seen before register once each: RSS (PSS for Kamailio's
 * processes), and for voxgate (`snapshotPid`) also the heap a full GC keeps per binding, from heap snapshots
 * around HEAP_FILL more new users, with the constructors that grew most. Every reading comes after `settle`, so
 * that each holds the bindings and what a binding keeps, not what the registrations just before it left: their
 * server transactions, and the directory cache's credentials (bounded, and gone a minute after a burst, once
 * a later registration finds them expired; the next user's registration is that one).
 */
async function perBinding(
  server: string,
  pid: number,
  target: string,
  snapshotPid?: number,
): Promise<string> {
  let nudged = 0;
  const settle = async () => {
    await sleep(SETTLE_MS);
    const nudge = users + bindings + HEAP_FILL + nudged++;
    await register(target, usersFile(`nudge-${pid}-${nudged}.csv`, nudge, 1), 1, 1);
    await sleep(2000);
  };
  const file = usersFile(`fill-${pid}.csv`, users, bindings);
  await settle();
  const before = usage(pid).rssBytes;
  const stats = await register(target, file, fillRate, bindings);
  await settle();
  const after = usage(pid).rssBytes;
  const perOne = (after - before) / Math.max(1, stats.ok);
  let line =
    `${server}: ${stats.ok} of ${bindings} new bindings (${stats.failed} failed), memory ` +
    `${fmt(before / 2 ** 20)} → ${fmt(after / 2 ** 20)} MiB: ${fmt(perOne / 1024, 2)} KiB per binding`;
  if (snapshotPid) {
    // Then the heap a full GC keeps, around HEAP_FILL more new users (a snapshot makes RSS grow: after the
    // RSS reading only).
    const heapBefore = await heapNow(snapshotPid);
    const more = await register(
      target,
      usersFile(`heap-fill-${pid}.csv`, users + bindings, HEAP_FILL),
      fillRate,
      HEAP_FILL,
    );
    await settle();
    const heapAfter = await heapNow(snapshotPid);
    const made = Math.max(1, more.ok);
    const grown = heapGrowth(heapBefore, heapAfter, 6)
      .map((g) => `${g.name} ${Math.round((g.bytesAfter - g.bytesBefore) / made)} B`)
      .join(', ');
    line +=
      `; heap after a full GC, ${more.ok} more bindings: ` +
      `${Math.round((heapAfter.totalBytes - heapBefore.totalBytes) / made)} B per binding (${grown})`;
  }
  log(line);
  return line;
}

async function provision(url: string): Promise<void> {
  const db = await openDatabase({ url, dataDir: 'unused' });
  try {
    await migrate(db, join(ROOT, 'migrations'));
    await createTenantRepository(db).create({ name: 'Bench', sipDomain: DOMAIN });
  } finally {
    await db.close();
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Every user's HA1 computed by PostgreSQL: MD5 (RFC 2617 §3.2.2.2) and SHA-256 (RFC 7616 §3.4.2).
    await client.query(
      `INSERT INTO sip_users (tenant_id, username, ha1_md5, ha1_sha256)
       SELECT t.id, 'u' || i,
              md5('u' || i || ':' || $1 || ':' || $2),
              encode(sha256(convert_to('u' || i || ':' || $1 || ':' || $2, 'UTF8')), 'hex')
       FROM tenants t, generate_series(0, $3::int - 1) AS i WHERE t.sip_domain = $1`,
      [DOMAIN, PASSWORD, users + bindings + HEAP_FILL + NUDGES],
    );
  } finally {
    await client.end();
  }
}

/** Empties the bench's Redis database: no registrations of an earlier run. */
async function flushBenchRedis(): Promise<void> {
  const redis = new Redis(process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/11');
  try {
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}

async function voxgate(
  url: string,
  udp: 'native' | 'dgram',
  workers: number,
  redis: boolean,
): Promise<{ rows: Row[]; binding: string }> {
  const name = `voxgate (${workers > 1 ? `${workers} workers` : '1 process'}${redis ? ', Redis' : ''}, ${udp} UDP)`;
  const sipPort = await port();
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const vx = spawn(
    process.execPath,
    [
      // The heap cap the sip-gateway Deployment runs with (config/memory-budgets.yml): RSS then follows what
      // is alive rather than how far V8 lets an uncapped heap grow between collections.
      ...heapLimitArgs('sip-gateway'),
      ...nodeArgs,
      // For perBinding's heap snapshots (V8 collects before it writes one).
      '--heapsnapshot-signal=SIGUSR2',
      `--diagnostic-dir=${work}`,
      join(ROOT, 'dist/src/bin/voxgate.js'),
      '--target=sip-gateway',
    ],
    {
      env: {
        // VOXGATE_* settings of the bench's own environment, except those set below.
        ...voxgateSettingsOfBench(),
        PATH: process.env.PATH,
        VOXGATE_DATABASE_URL: url,
        // The registrations file (write-behind of the in-memory bindings) in the scratch folder: not restored
        // from an earlier run's ./data. VOXGATE_DATA_DIR=memory:// in the bench's environment: none written, as
        // Kamailio's usrloc in db_mode 0 writes none.
        VOXGATE_DATA_DIR: process.env.VOXGATE_DATA_DIR === 'memory://' ? 'memory://' : work,
        VOXGATE_SIP_HOST: '127.0.0.1',
        VOXGATE_SIP_PORT: String(sipPort),
        VOXGATE_API_HOST: '127.0.0.1',
        VOXGATE_API_PORT: '0',
        VOXGATE_LOG_LEVEL: 'info',
        VOXGATE_SHUTDOWN_GRACE_SECONDS: '1',
        VOXGATE_SIP_DIGEST_ALGORITHMS: 'MD5',
        VOXGATE_SIP_KEEPALIVE_SECONDS: '0',
        VOXGATE_SIP_REGISTER_MAX_EXPIRES: '3600',
        // One source address plays every phone: it must not be banned for the 401s the challenge gives.
        VOXGATE_SIP_AUTH_BAN_THRESHOLD: '10000',
        VOXGATE_SIP_UDP: udp,
        // Several workers share registrations through Redis (BENCH_REDIS_URL, default database 11), flushed first.
        // Unset otherwise (spawn leaves out an undefined value), whatever the bench's environment holds: the run
        // is the one its name says.
        VOXGATE_SIP_WORKERS: workers > 1 ? String(workers) : undefined,
        VOXGATE_REDIS_URL: redis ? (process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/11') : undefined,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    await waitForOutput(vx, workers > 1 ? /"msg":"SIP workers ready"/ : /"msg":"voxgate started"/, 'stdout');
    const target = `127.0.0.1:${sipPort}`;
    const rows = await ladder(name, vx.pid!, target);
    if (bindings <= 0) return { rows, binding: `${name}: not measured (--bindings=0)` };
    if (redis) return { rows, binding: `${name}: not measured (the bindings are in Redis)` };
    return { rows, binding: await perBinding(name, vx.pid!, target, vx.pid!) };
  } finally {
    await stop(vx);
  }
}

async function kamailio(): Promise<{ rows: Row[]; binding: string }> {
  const kamPort = await port();
  const kam = startKamailio(KAMAILIO_CFG, kamPort);
  await sleep(1500);
  try {
    const target = `127.0.0.1:${kamPort}`;
    const rows = await ladder('Kamailio 5.6 (2 workers)', kam.pid!, target);
    if (bindings <= 0) return { rows, binding: 'Kamailio 5.6 (2 workers): not measured (--bindings=0)' };
    return { rows, binding: await perBinding('Kamailio 5.6 (2 workers)', kam.pid!, target) };
  } finally {
    await stop(kam);
  }
}

const results: { rows: Row[]; binding: string }[] = [];
try {
  for (const [server, udp] of [
    ['voxgate', 'native'],
    ['voxgate-dgram', 'dgram'],
  ] as const) {
    if (!servers.has(server)) continue;
    for (const { workers, redis } of workerRuns) {
      if (redis) await flushBenchRedis();
      results.push(
        await withScratchDatabase('register', async (url) => {
          await provision(url);
          return voxgate(url, udp, workers, redis);
        }),
      );
    }
  }
  if (servers.has('kamailio')) results.push(await kamailio());
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log(
  '| server | offered registrations/s | completed | failed | server CPU ms per registration | memory MiB |',
);
console.log('|---|---|---|---|---|---|');
for (const r of results.flatMap((x) => x.rows)) {
  console.log(
    `| ${r.server} | ${r.rate} | ${r.ok} | ${r.failed} | ${fmt(r.cpuMsPerRegistration, 3)} | ${fmt(r.memoryMiB)} |`,
  );
}
console.log('\nHighest rate with under 0.1% failed registrations:');
for (const { rows } of results) {
  const good = rows.filter((r) => r.failed <= r.rate * seconds * 0.001);
  const best = good.at(-1);
  const server = rows[0]?.server ?? '?';
  console.log(
    `- ${server}: ${best ? `${best.rate}/s at ${fmt(best.cpuMsPerRegistration, 3)} ms CPU per registration` : 'none'}`,
  );
}
console.log('\nMemory per binding:');
for (const { binding } of results) console.log(`- ${binding}`);
