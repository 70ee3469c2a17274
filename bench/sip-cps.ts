/**
 * bench:cps — calls per second through voxgate's B2BUA and, in the same run, through Kamailio 5.6 as a
 * minimal transaction-stateful proxy (bench/fixtures/kamailio-proxy.cfg). SIPp's built-in UAC plays a carrier
 * (from 127.0.0.2, matched by the trunk's CIDR) calling a DID; SIPp's built-in UAS plays the phone (registered
 * with digest for voxgate, the proxy's fixed next hop for Kamailio). Calls are set up, held 200 ms and torn down
 * (INVITE, 100, 180, 200, ACK, 200 ms, BYE, 200). For each offered rate: completed and failed calls, server CPU per
 * call, RSS; with media anchoring off and on (RTPengine in userspace mode, used by both).
 * Usage: npm run bench:cps [-- --rates=100,200,400,800 --seconds=10 --media=off,rtpengine --store=postgres,pglite]
 * `--store`: `postgres` runs `--target=sip-gateway` on PostgreSQL; `pglite` runs the all-in-one (`--target=all`,
 * no database URL: the embedded PGlite in a fresh data folder, CDRs written in the same process), as `npm start`.
 * `--workers=1,2`: one PostgreSQL run per entry with VOXGATE_SIP_WORKERS at that number; more than 1 (or `N:redis`)
 * runs on Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379/11), as several workers need.
 * `--udp=native,dgram`: the SIP port on the native batched UDP socket (VOXGATE_SIP_UDP=native, the default where
 * the addon is built; with workers, the primary's socket that each worker reads) and/or on Node.js dgram (with
 * workers, the socket cluster shares), a run each.
 * `--warmup=5`: seconds of calls at the first rate before the ladder, not counted, for every server alike: the
 * first step otherwise pays voxgate's JIT compilation (1.7 ms per call at 200/s against 1.0 at 400/s, 2026-12-04).
 * VOXGATE_* variables of the bench's environment reach voxgate, except those the bench sets itself.
 * BENCH_NODE_ARGS are node options for the voxgate process (e.g. --cpu-prof, --heapsnapshot-signal=SIGUSR2).
 * BENCH_HOLD_MS: how long each call is held before the caller's BYE (default 200).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { computeHa1 } from '../src/sip/index.js';
import {
  createNumberRepository,
  createSipUserRepository,
  createTenantRepository,
  createTrunkRepository,
  migrate,
  openDatabase,
} from '../src/store/index.js';
import { findRtpengine, startRtpengine, type RtpengineProcess } from '../test/helpers/rtpengine.js';
import {
  fmt,
  runSippStats,
  startKamailio,
  stop,
  usage,
  voxgateSettingsOfBench,
  waitForOutput,
  withScratchDatabase,
} from './support.js';
import { heapLimitArgs } from './memory-budgets.js';
import { sippPort as port } from '../test/helpers/sipp.js';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '100,200,400,800,1200,1600' },
    seconds: { type: 'string', default: '10' },
    media: { type: 'string', default: 'off,rtpengine' },
    servers: { type: 'string', default: 'voxgate,kamailio' },
    store: { type: 'string', default: 'postgres' },
    workers: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '5' },
    // The SIP port's socket in one process: native (the batched addon, the default where built) and/or dgram.
    udp: { type: 'string', default: 'native' },
  },
});
const rates = values.rates.split(',').map(Number);
const seconds = Number(values.seconds);
const warmupSeconds = Number(values.warmup);
const mediaModes = values.media.split(',') as ('off' | 'rtpengine')[];
const servers = new Set(values.servers.split(','));
const stores = values.store.split(',') as ('postgres' | 'pglite')[];
type WorkerRun = { workers: number; redis: boolean; udp: 'native' | 'dgram' };
const udpKinds = values.udp.split(',') as ('native' | 'dgram')[];
const workerRuns: WorkerRun[] = values.workers.split(',').flatMap((w) => {
  const workers = Number(w.split(':')[0]);
  const redis = workers > 1 || w.endsWith(':redis');
  return udpKinds.map((udp) => ({ workers, redis, udp }));
});
const ROOT = join(import.meta.dirname, '..');
const KAMAILIO_CFG = join(import.meta.dirname, 'fixtures', 'kamailio-proxy.cfg');
const REGISTER = join(ROOT, 'test', 'fixtures', 'sipp', 'register-digest.xml');
const DOMAIN = 'bench.example';
const DID = '+442079460000';

interface Row {
  server: string;
  media: string;
  rate: number;
  ok: number;
  failed: number;
  cpuMsPerCall: number;
  rssMiB: number;
}

/** SIPp's built-in UAS answering every INVITE 180 + 200, on `uasPort`, until stopped. */
function startUas(uasPort: number): ChildProcess {
  return spawn('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(uasPort), '-nostdin'], {
    stdio: 'ignore',
  });
}

/** SIPp's built-in UAC calling the DID at `rate` calls/s for `duration` s through `target`. */
async function callAtRate(target: string, rate: number, duration: number): ReturnType<typeof runSippStats> {
  return runSippStats([
    '-sn',
    'uac',
    target,
    '-i',
    '127.0.0.2',
    '-p',
    String(await port()),
    '-s',
    DID,
    '-r',
    String(rate),
    '-m',
    String(rate * duration),
    '-l',
    String(rate * 4),
    // Calls held 200 ms (BENCH_HOLD_MS): with no hold, a multi-worker proxy may pass the BYE before the ACK
    // (counted as a failure by the UAS), which measures the test, not the proxy.
    '-d',
    process.env.BENCH_HOLD_MS ?? '200',
    '-timeout',
    `${duration * 3 + 15}s`,
  ]);
}

async function ladder(server: string, media: string, pid: number, target: string): Promise<Row[]> {
  if (warmupSeconds > 0 && rates[0]) {
    const warm = await callAtRate(target, rates[0], warmupSeconds);
    console.error(`${server} media=${media} warm-up at ${rates[0]}/s: ${warm.ok} ok, ${warm.failed} failed`);
  }
  const rows: Row[] = [];
  for (const rate of rates) {
    const before = usage(pid);
    const stats = await callAtRate(target, rate, seconds);
    const after = usage(pid);
    const calls = stats.ok + stats.failed;
    const row = {
      server,
      media,
      rate,
      ok: stats.ok,
      failed: stats.failed + (rate * seconds - calls),
      cpuMsPerCall: calls ? (after.cpuMs - before.cpuMs) / calls : 0,
      rssMiB: after.rssBytes / 2 ** 20,
    };
    rows.push(row);
    console.error(
      `${server} media=${media} ${rate}/s: ${row.ok} ok, ${row.failed} failed, ` +
        `${fmt(row.cpuMsPerCall, 2)} ms CPU/call, ${fmt(row.rssMiB)} MiB` +
        (Object.keys(stats.failures).length > 0 ? ` (failures: ${JSON.stringify(stats.failures)})` : ''),
    );
    if (row.failed > rate * seconds * 0.05) break; // far past the breaking point: higher rates say nothing
  }
  return rows;
}

/** Where voxgate keeps its store: a PostgreSQL URL, or an embedded PGlite data folder. */
type Store = { url: string } | { dataDir: string };

async function provision(store: Store): Promise<void> {
  const db = await openDatabase(
    'url' in store
      ? { url: store.url, dataDir: 'unused' }
      : { dataDir: store.dataDir, pgliteTemplate: join(ROOT, 'dist', 'pglite-template.tar.gz') },
  );
  try {
    await migrate(db, join(ROOT, 'migrations'));
    const tenant = await createTenantRepository(db).create({ name: 'Bench', sipDomain: DOMAIN });
    const bob = await createSipUserRepository(db).create({
      tenantId: tenant.id,
      username: 'bob',
      ha1Md5: computeHa1('MD5', 'bob', DOMAIN, 'bench'),
      ha1Sha256: computeHa1('SHA-256', 'bob', DOMAIN, 'bench'),
    });
    await createNumberRepository(db).create({ tenantId: tenant.id, e164: DID, userId: bob.id });
    await createTrunkRepository(db).create({
      tenantId: tenant.id,
      name: 'carrier',
      host: '127.0.0.2',
      inboundCidrs: ['127.0.0.2/32'],
    });
  } finally {
    await db.close();
  }
}

async function voxgate(
  store: Store,
  relay: RtpengineProcess | undefined,
  run: WorkerRun = { workers: 1, redis: false, udp: udpKinds[0]! },
): Promise<Row[]> {
  const sipPort = await port();
  const scratch = await mkdtemp(join(tmpdir(), 'voxgate-cps-state-'));
  // Profiling the server under load: BENCH_NODE_ARGS='--cpu-prof' or '--heapsnapshot-signal=SIGUSR2'.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const script = join(ROOT, 'dist/src/bin/voxgate.js');
  const target = 'url' in store ? 'sip-gateway' : 'all';
  // The heap cap the target's Deployment (or `npm start`) runs with (config/memory-budgets.yml): RSS then follows
  // what is alive rather than how far V8 lets an uncapped heap run ahead of it between major collections.
  const vx = spawn(process.execPath, [...heapLimitArgs(target), ...nodeArgs, script, `--target=${target}`], {
    env: {
      // VOXGATE_* settings of the bench's own environment reach the server, except those the bench sets below.
      ...voxgateSettingsOfBench(),
      PATH: process.env.PATH,
      // The all-in-one's relay control on a free port (its media is not used: the gateway's relays are set).
      ...('url' in store
        ? // The registrations file in a scratch folder of this run: bindings a gateway of an earlier run wrote to
          // ./data (SIPp UAS ports long closed) would otherwise be restored, and every call forked to them too.
          { VOXGATE_DATABASE_URL: store.url, VOXGATE_DATA_DIR: scratch }
        : { VOXGATE_DATA_DIR: store.dataDir, VOXGATE_MEDIA_NG: `127.0.0.1:${await port()}` }),
      VOXGATE_SIP_WS_PORT: '0',
      VOXGATE_SIP_HOST: '127.0.0.1',
      VOXGATE_SIP_PORT: String(sipPort),
      VOXGATE_API_HOST: '127.0.0.1',
      VOXGATE_API_PORT: '0',
      VOXGATE_LOG_LEVEL: 'info',
      VOXGATE_SHUTDOWN_GRACE_SECONDS: '1',
      VOXGATE_SIP_DIGEST_ALGORITHMS: 'MD5,SHA-256',
      VOXGATE_SIP_KEEPALIVE_SECONDS: '0',
      VOXGATE_CALL_MEDIA_TIMEOUT_SECONDS: '0',
      VOXGATE_GATEWAY_MEDIA_RELAYS: relay ? `127.0.0.1:${relay.ngPort}` : 'off',
      VOXGATE_SIP_WORKERS: String(run.workers),
      VOXGATE_SIP_UDP: run.udp,
      ...(run.redis ? { VOXGATE_REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/11' } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    // Several workers: each says "voxgate started" for itself, the primary when all listen.
    await waitForOutput(
      vx,
      run.workers > 1 ? /"msg":"SIP workers ready"/ : /"msg":"voxgate started"/,
      'stdout',
    );
    const uasPort = await port();
    const reg = await runSippStats([
      '-sf',
      REGISTER,
      `127.0.0.1:${sipPort}`,
      '-i',
      '127.0.0.1',
      '-p',
      String(uasPort),
      '-m',
      '1',
      '-s',
      'bob',
      '-au',
      'bob',
      '-ap',
      'bench',
      '-key',
      'domain',
      DOMAIN,
    ]);
    if (reg.ok !== 1) throw new Error('the SIPp UAS could not register with voxgate');
    const uas = startUas(uasPort);
    await new Promise((r) => setTimeout(r, 500));
    try {
      return await ladder(
        !('url' in store)
          ? `voxgate all-in-one (PGlite, ${run.udp} UDP)`
          : run.workers > 1
            ? `voxgate (${run.workers} workers, Redis, ${run.udp} UDP)`
            : `voxgate (1 process${run.redis ? ', Redis' : ''}, ${run.udp} UDP)`,
        relay ? 'RTPengine' : 'off',
        vx.pid!,
        `127.0.0.1:${sipPort}`,
      );
    } finally {
      await stop(uas);
    }
  } finally {
    await stop(vx);
    await rm(scratch, { recursive: true, force: true });
  }
}

async function kamailio(relay: RtpengineProcess | undefined): Promise<Row[]> {
  const uasPort = await port();
  const kamPort = await port();
  const defines = ['-A', `UAS="sip:127.0.0.1:${uasPort}"`];
  if (relay) defines.push('-A', `RTPENGINE="udp:127.0.0.1:${relay.ngPort}"`);
  const kam = startKamailio(KAMAILIO_CFG, kamPort, defines);
  const uas = startUas(uasPort);
  await new Promise((r) => setTimeout(r, 1500));
  try {
    return await ladder(
      'Kamailio 5.6 (2 workers)',
      relay ? 'RTPengine' : 'off',
      kam.pid!,
      `127.0.0.1:${kamPort}`,
    );
  } finally {
    await stop(uas);
    await stop(kam);
  }
}

/** voxgate on each store of `--store`: PostgreSQL (the scratch database), or a fresh PGlite folder. */
async function voxgateOn(url: string, relay: RtpengineProcess | undefined): Promise<Row[]> {
  const out: Row[] = [];
  for (const kind of stores) {
    if (kind === 'postgres') {
      for (const run of workerRuns) out.push(...(await voxgate({ url }, relay, run)));
      continue;
    }
    const dataDir = await mkdtemp(join(tmpdir(), 'voxgate-cps-'));
    try {
      await provision({ dataDir });
      out.push(...(await voxgate({ dataDir }, relay)));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return out;
}

const rows: Row[] = [];
await withScratchDatabase('cps', async (url) => {
  if (stores.includes('postgres')) await provision({ url });
  for (const media of mediaModes) {
    const binary = media === 'rtpengine' ? findRtpengine() : undefined;
    if (media === 'rtpengine' && !binary)
      throw new Error('rtpengine not found: apt-get install rtpengine-daemon');
    for (const server of ['voxgate', 'kamailio'].filter((s) => servers.has(s))) {
      // A fresh RTPengine per server: a step past the breaking point leaves sessions whose offer timed out
      // at the server but reached RTPengine, alive until RTPengine's own timeout, and the next server would
      // pay for them. 20,000 ports: 5,000 calls at once, far above what any step holds.
      const relay = binary ? await startRtpengine(binary, 20_000) : undefined;
      try {
        if (server === 'kamailio') rows.push(...(await kamailio(relay)));
        else rows.push(...(await voxgateOn(url, relay)));
      } finally {
        await relay?.stop();
      }
    }
  }
});

console.log(
  '| server | media | offered calls/s | completed | failed | server CPU ms per call | memory (PSS) MiB |',
);
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.server} | ${r.media} | ${r.rate} | ${r.ok} | ${r.failed} | ${fmt(r.cpuMsPerCall, 2)} | ${fmt(r.rssMiB)} |`,
  );
}
console.log('\nHighest rate with under 0.1% failed calls:');
for (const media of mediaModes.map((m) => (m === 'off' ? 'off' : 'RTPengine'))) {
  for (const server of [...new Set(rows.map((r) => r.server))]) {
    const good = rows.filter(
      (r) => r.server === server && r.media === media && r.failed <= r.rate * seconds * 0.001,
    );
    const best = good.at(-1);
    console.log(
      `- ${server}, media ${media}: ${best ? `${best.rate}/s at ${fmt(best.cpuMsPerCall, 2)} ms CPU per call` : 'none'}`,
    );
  }
}
