// Real Redis topologies for tests: a Redis Cluster (3 masters + 3 replicas) and a Sentinel setup (1 master,
// 1 replica, 3 sentinels), each started on free loopback ports under a temporary directory with Debian's
// redis-server (`--cluster-enabled yes`, `--sentinel`) and created with `redis-cli --cluster create`.
// Every process is a child of the test process: stop() kills them and removes the directory; a process exit
// handler and, per server, a detached watchdog (which outlives a test process killed with SIGKILL) kill what is
// left and remove the directory.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/** Why the topology tests cannot run here, or false. In CI a missing redis-server is a failure, not a skip. */
export function redisTopologiesUnavailable(): string | false {
  for (const bin of ['redis-server', 'redis-cli']) {
    if (spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0) continue;
    const why = `${bin} is not installed (Debian: redis-server, redis-tools)`;
    if (process.env.CI) throw new Error(`${why}: required in CI`);
    return why;
  }
  return false;
}

/** Ports free on 127.0.0.1 now (held together while chosen, so that they are distinct). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/**
 * Kills `pid` and removes `dir` once this process is gone, however it went (SIGKILL included): a detached shell
 * that polls this process. Killed itself when the server is stopped normally.
 */
function watchdog(pid: number, dir: string): ChildProcess {
  const w = spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$0" 2>/dev/null; do sleep 1; done; kill -9 "$1" 2>/dev/null; rm -rf "$2"',
      String(process.pid),
      String(pid),
      dir,
    ],
    { detached: true, stdio: 'ignore' },
  );
  w.unref();
  return w;
}

export interface RedisProcess {
  port: number;
  dir: string;
  proc: ChildProcess;
  /** SIGKILL: the node is gone without a word (no shutdown, no failover handshake). */
  kill(): Promise<void>;
  alive(): boolean;
}

async function startProcess(
  topDir: string,
  dir: string,
  port: number,
  args: string[],
  logName = 'redis.log',
  /** Whether it answers (a plain-text PING on `port` unless given). */
  answers: () => Promise<boolean> = () => ping(port),
): Promise<RedisProcess> {
  await mkdir(dir, { recursive: true });
  const proc = spawn('redis-server', args, { cwd: dir, stdio: 'ignore' });
  live.add(proc);
  const dog = watchdog(proc.pid as number, topDir);
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      exited = true;
      live.delete(proc);
      dog.kill('SIGKILL');
      resolve();
    }),
  );
  const node: RedisProcess = {
    port,
    dir,
    proc,
    alive: () => !exited,
    async kill() {
      if (!exited) proc.kill('SIGKILL');
      await gone;
    },
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited || Date.now() > deadline) {
      const log = await readFile(join(dir, logName), 'utf8').catch(() => '');
      await node.kill();
      throw new Error(
        `redis-server on port ${port} did not start (${args.join(' ')}): ${log.split('\n').slice(-8).join('\n')}`,
      );
    }
    if (await answers()) return node;
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One command to one server, a fresh connection, no retry. */
export async function command(port: number, ...args: (string | number)[]): Promise<unknown> {
  const c = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const [name, ...rest] = args;
    return await c.call(String(name), ...rest.map(String));
  } finally {
    c.disconnect();
  }
}

async function ping(port: number): Promise<boolean> {
  try {
    return (await command(port, 'PING')) === 'PONG';
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

const common = (port: number) => [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--save',
  '',
  '--appendonly',
  'no',
  '--logfile',
  'redis.log',
  '--daemonize',
  'no',
];

async function stopAll(procs: RedisProcess[], dir: string): Promise<void> {
  await Promise.all(procs.map((p) => p.kill()));
  await rm(dir, { recursive: true, force: true });
}

export interface RedisClusterTopology {
  /** `redis+cluster://` URL with every node as a seed. */
  url: string;
  nodes: RedisProcess[];
  nodeTimeoutMs: number;
  /** Ports of the nodes that are masters now, from CLUSTER NODES of a live node. */
  masters(): Promise<number[]>;
  /** The port of the master serving `key`'s slot. */
  masterOf(key: string): Promise<number>;
  /** The port of a replica of the master on `masterPort`. */
  replicaOf(masterPort: number): Promise<number>;
  /** Waits until every live node says cluster_state:ok and each slot range has a live master. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Lines of CLUSTER NODES: id, ip:port@bus, flags, master id, …, slots. */
function clusterNodes(raw: string) {
  return raw
    .trim()
    .split('\n')
    .map((line) => {
      const [id, addr, flags, master, , , , link, ...slots] = line.split(' ');
      return {
        id,
        master,
        port: Number(addr?.split('@')[0]?.split(':')[1]),
        flags: flags?.split(',') ?? [],
        connected: link === 'connected',
        slots,
      };
    });
}

export async function startRedisCluster(
  options: { nodeTimeoutMs?: number } = {},
): Promise<RedisClusterTopology> {
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 2000;
  const dir = await mkdtemp(join(tmpdir(), 'voxgate-redis-cluster-'));
  const ports = await freePorts(12);
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < 6; i++) {
      // A port found free can be taken by another process before the node binds it (a test's outgoing
      // connection gets an ephemeral port too): the node is then started on two other free ports, up to 3 times.
      for (let attempt = 1; ; attempt++) {
        const port = ports[i] as number;
        try {
          nodes.push(
            await startProcess(dir, join(dir, `node-${port}`), port, [
              ...common(port),
              '--cluster-enabled',
              'yes',
              '--cluster-port',
              String(ports[i + 6]),
              '--cluster-config-file',
              'nodes.conf',
              '--cluster-node-timeout',
              String(nodeTimeoutMs),
            ]),
          );
          break;
        } catch (err) {
          if (attempt >= 3 || !String(err).includes('Address already in use')) throw err;
          [ports[i], ports[i + 6]] = (await freePorts(2)) as [number, number];
        }
      }
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    const topology: RedisClusterTopology = {
      url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
      nodes,
      nodeTimeoutMs,
      async masters() {
        const alive = nodes.find((n) => n.alive());
        if (!alive) throw new Error('no cluster node is alive');
        return clusterNodes(String(await command(alive.port, 'CLUSTER', 'NODES')))
          .filter((n) => n.flags.includes('master') && !n.flags.includes('fail'))
          .map((n) => n.port);
      },
      async masterOf(key) {
        const alive = nodes.find((n) => n.alive());
        if (!alive) throw new Error('no cluster node is alive');
        const slot = Number(await command(alive.port, 'CLUSTER', 'KEYSLOT', key));
        for (const n of clusterNodes(String(await command(alive.port, 'CLUSTER', 'NODES')))) {
          if (!n.flags.includes('master') || n.flags.includes('fail')) continue;
          for (const range of n.slots) {
            const [lo, hi = lo] = range.split('-').map(Number) as [number, number?];
            if (slot >= lo && slot <= (hi as number)) return n.port;
          }
        }
        throw new Error(`no master serves slot ${slot}`);
      },
      async replicaOf(masterPort) {
        const view = clusterNodes(String(await command(masterPort, 'CLUSTER', 'NODES')));
        const masterId = view.find((n) => n.port === masterPort)?.id;
        const replica = view.find((n) => n.master === masterId && n.flags.includes('slave'));
        if (!replica) throw new Error(`no replica of ${masterPort}`);
        return replica.port;
      },
      async waitHealthy(timeoutMs = 30_000) {
        await waitFor(
          'the Redis Cluster to be ok on every live node',
          async () => {
            for (const n of nodes.filter((x) => x.alive())) {
              const info = String(await command(n.port, 'CLUSTER', 'INFO'));
              if (!info.includes('cluster_state:ok')) return false;
              const view = clusterNodes(String(await command(n.port, 'CLUSTER', 'NODES')));
              const masters = view.filter((v) => v.flags.includes('master') && !v.flags.includes('fail'));
              if (masters.length !== 3 || masters.some((m) => !m.connected && !m.flags.includes('myself')))
                return false;
            }
            return true;
          },
          timeoutMs,
        );
      },
      stop: () => stopAll(nodes, dir),
    };
    await topology.waitHealthy();
    return topology;
  } catch (err) {
    await stopAll(nodes, dir);
    throw err;
  }
}

export interface RedisSentinelTopology {
  /** `redis+sentinel://s1,s2,s3/<masterName>`. */
  url: string;
  masterName: string;
  master: RedisProcess;
  replica: RedisProcess;
  sentinels: RedisProcess[];
  downAfterMs: number;
  /** The master's port as the sentinels announce it now (SENTINEL GET-MASTER-ADDR-BY-NAME). */
  currentMasterPort(): Promise<number>;
  stop(): Promise<void>;
}

export async function startRedisSentinel(
  options: { downAfterMs?: number } = {},
): Promise<RedisSentinelTopology> {
  const downAfterMs = options.downAfterMs ?? 1000;
  const masterName = 'voxgate';
  const dir = await mkdtemp(join(tmpdir(), 'voxgate-redis-sentinel-'));
  const [mp, rp, ...sp] = (await freePorts(5)) as [number, number, number, number, number];
  const procs: RedisProcess[] = [];
  try {
    const master = await startProcess(dir, join(dir, `master-${mp}`), mp, common(mp));
    procs.push(master);
    const replica = await startProcess(dir, join(dir, `replica-${rp}`), rp, [
      ...common(rp),
      '--replicaof',
      '127.0.0.1',
      String(mp),
    ]);
    procs.push(replica);
    await waitFor('the replica to sync', async () =>
      String(await command(rp, 'INFO', 'replication')).includes('master_link_status:up'),
    );
    const sentinels: RedisProcess[] = [];
    for (const port of sp) {
      const sdir = join(dir, `sentinel-${port}`);
      await mkdir(sdir, { recursive: true });
      // Sentinel rewrites its configuration file (what it learnt): it must be its own and writable.
      await writeFile(
        join(sdir, 'sentinel.conf'),
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'daemonize no',
          `dir ${sdir}`,
          'logfile sentinel.log',
          `sentinel monitor ${masterName} 127.0.0.1 ${mp} 2`,
          `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      const s = await startProcess(
        dir,
        sdir,
        port,
        [join(sdir, 'sentinel.conf'), '--sentinel'],
        'sentinel.log',
      );
      procs.push(s);
      sentinels.push(s);
    }
    await waitFor('every sentinel to know the replica and the two other sentinels', async () => {
      for (const s of sentinels) {
        if ((await command(s.port, 'SENTINEL', 'CKQUORUM', masterName)) === undefined) return false;
        if (((await command(s.port, 'SENTINEL', 'REPLICAS', masterName)) as unknown[]).length !== 1)
          return false;
        if (((await command(s.port, 'SENTINEL', 'SENTINELS', masterName)) as unknown[]).length !== 2)
          return false;
      }
      return true;
    });
    return {
      url: `redis+sentinel://${sp.map((p) => `127.0.0.1:${p}`).join(',')}/${masterName}`,
      masterName,
      master,
      replica,
      sentinels,
      downAfterMs,
      async currentMasterPort() {
        for (const s of sentinels) {
          if (!s.alive()) continue;
          const [, port] = (await command(s.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [
            string,
            string,
          ];
          return Number(port);
        }
        throw new Error('no sentinel is alive');
      },
      stop: () => stopAll(procs, dir),
    };
  } catch (err) {
    await stopAll(procs, dir);
    throw err;
  }
}

export interface RedisTlsClusterTopology {
  /** `rediss+cluster://localhost:p1,localhost:p2,localhost:p3`. */
  url: string;
  /** The CA that signed the nodes' certificate (for NODE_EXTRA_CA_CERTS). */
  caFile: string;
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of 3 masters that speaks only TLS, as AWS ElastiCache with encryption in transit: the nodes'
 * certificate names `localhost` only (not 127.0.0.1), and the nodes announce themselves by that name
 * (`cluster-announce-hostname`, `cluster-preferred-endpoint-type hostname`, Redis 7). A client must keep the
 * hostname to check the certificate. The CA and certificate are made here with openssl.
 */
export async function startRedisTlsCluster(): Promise<RedisTlsClusterTopology> {
  const dir = await mkdtemp(join(tmpdir(), 'voxgate-redis-tls-cluster-'));
  const nodes: RedisProcess[] = [];
  try {
    const at = (f: string) => join(dir, f);
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      at('ca.key'),
      '-out',
      at('ca.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=voxgate test CA',
    ]);
    await run('openssl', [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      at('node.key'),
      '-out',
      at('node.csr'),
      '-subj',
      '/CN=localhost',
    ]);
    await writeFile(at('ext.cnf'), 'subjectAltName=DNS:localhost\n');
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      at('node.csr'),
      '-CA',
      at('ca.crt'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-out',
      at('node.crt'),
      '-days',
      '2',
      '-extfile',
      at('ext.cnf'),
    ]);
    const tls = ['--tls', '--cacert', at('ca.crt'), '--sni', 'localhost'];
    const answers = (port: number) => async () =>
      (
        await run('redis-cli', [...tls, '-h', 'localhost', '-p', String(port), 'PING']).catch(() => ({
          stdout: '',
        }))
      ).stdout.includes('PONG');
    const ports = await freePorts(6);
    for (let i = 0; i < 3; i++) {
      const port = ports[i] as number;
      nodes.push(
        await startProcess(
          dir,
          join(dir, `node-${port}`),
          port,
          [
            ...common(0),
            // `localhost` may resolve to ::1 first.
            '--bind',
            '127.0.0.1',
            '-::1',
            '--tls-port',
            String(port),
            '--tls-cert-file',
            at('node.crt'),
            '--tls-key-file',
            at('node.key'),
            '--tls-ca-cert-file',
            at('ca.crt'),
            '--tls-auth-clients',
            'no',
            '--tls-cluster',
            'yes',
            '--cluster-enabled',
            'yes',
            '--cluster-port',
            String(ports[i + 3]),
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-announce-hostname',
            'localhost',
            '--cluster-preferred-endpoint-type',
            'hostname',
          ],
          'redis.log',
          answers(port),
        ),
      );
    }
    await run(
      'redis-cli',
      [...tls, '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'],
      { timeout: 30_000 },
    );
    await waitFor('the TLS cluster to be ok', async () =>
      (
        await run('redis-cli', [...tls, '-h', 'localhost', '-p', String(nodes[0]?.port), 'CLUSTER', 'INFO'])
      ).stdout.includes('cluster_state:ok'),
    );
    return {
      url: `rediss+cluster://${nodes.map((n) => `localhost:${n.port}`).join(',')}`,
      caFile: at('ca.crt'),
      stop: () => stopAll(nodes, dir),
    };
  } catch (err) {
    await stopAll(nodes, dir);
    throw err;
  }
}
