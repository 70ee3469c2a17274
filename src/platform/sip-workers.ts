import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createLogger, logsWritten } from '../observability/index.js';
import { nativeUdpFor } from '../sip/index.js';
import { ConfigError, type Config } from './config/index.js';
import type { Platform } from './platform.js';
import { serveSipWorkersHttp } from './sip-workers-http.js';
import type { Target } from './targets.js';

/** The variable that tells a forked process its place: `<worker>/<workers>` (not a setting: set by the primary). */
export const SIP_WORKER_VARIABLE = 'VOXGATE_SIP_WORKER_PLACE';
/** The SIP UDP socket the primary opened on the native addon, inherited by every worker (its descriptor). */
export const SIP_UDP_FD_VARIABLE = 'VOXGATE_SIP_WORKER_UDP_FD';

/** Messages between the primary and its SIP workers (cluster IPC). */
export interface DispatchReady {
  readonly voxgate: 'sip-dispatch';
  readonly worker: number;
  readonly port: number;
}
export interface DispatchPeers {
  readonly voxgate: 'sip-peers';
  readonly ports: readonly (number | null)[];
}

/**
 * CPUs this process may use: the machine's (or its affinity mask's), capped by a cgroup v2 CPU quota
 * (`cpu.max`, what Kubernetes sets from a CPU limit), rounded up.
 */
export function availableCpus(cpuMax = '/sys/fs/cgroup/cpu.max'): number {
  const cpus = availableParallelism();
  try {
    const [quota, period] = readFileSync(cpuMax, 'utf8').trim().split(/\s+/);
    if (quota === undefined || quota === 'max' || !period) return cpus;
    return Math.max(1, Math.min(cpus, Math.ceil(Number(quota) / Number(period))));
  } catch {
    return cpus;
  }
}

export function sipWorkerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? availableCpus() : setting;
}

/** This process's place among the SIP workers, when it is one of several (a cluster worker). */
export function sipWorkerPlace(
  env: Record<string, string | undefined> = process.env,
): { worker: number; workers: number } | undefined {
  if (!cluster.isWorker) return undefined;
  const match = /^(\d+)\/(\d+)$/.exec(env[SIP_WORKER_VARIABLE] ?? '');
  if (!match) return undefined;
  return { worker: Number(match[1]), workers: Number(match[2]) };
}

/** In a SIP worker: the descriptor of the primary's native SIP UDP socket, when it opened one. */
export function sharedSipUdpFd(env: Record<string, string | undefined> = process.env): number | undefined {
  const fd = Number(env[SIP_UDP_FD_VARIABLE] ?? Number.NaN);
  return cluster.isWorker && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/** Refuses, as one configuration line, what more than one SIP worker cannot run with. */
export function checkSipWorkers(config: Config, targets: readonly Target[], workers: number): void {
  const setting = `VOXGATE_SIP_WORKERS=${String(config.sip.workers)}`;
  if (targets.length !== 1 || targets[0] !== 'sip-gateway') {
    throw new ConfigError(
      'CONFIG_INVALID_VALUE',
      `${setting} (${workers} workers) needs --target=sip-gateway alone, not ${targets.join(',')}`,
    );
  }
  if (!config.redis.url) {
    throw new ConfigError(
      'CONFIG_INVALID_VALUE',
      `${setting} (${workers} workers) needs VOXGATE_REDIS_URL: the workers share registrations and calls as replicas do, and in-process memory is not shared`,
    );
  }
}

/** Crashes tolerated in this window before the primary gives up and stops. */
const CRASH_WINDOW_MS = 60_000;
const CRASHES_TOLERATED = 5;

/**
 * The primary of `workers` SIP worker processes (node:cluster): forks them with their place, shares the UDP
 * socket of the SIP port (the native one it opened, inherited; or dgram's through cluster's shared handle), tells every worker the loopback ports the others
 * take handed datagrams on, restarts a worker that dies (its calls in progress are lost: their next in-dialog
 * request gets 481), and on shutdown passes the signal to each and waits for their drains. Resolves once every
 * worker has its SIP listener open.
 */
export async function superviseSipWorkers(options: {
  config: Config;
  workers: number;
  env?: Record<string, string | undefined>;
}): Promise<Platform> {
  const { config, workers } = options;
  const logger = createLogger({ level: config.logLevel, env: config.env, target: 'sip-gateway' });
  const env: Record<string, string> = {};
  // Digest nonces one worker issues must verify on the others: without a configured key, one for all of them.
  const given = options.env ?? process.env;
  if (!given.VOXGATE_SIP_NONCE_SECRET && !given.VOXGATE_SIP_NONCE_SECRET_FILE && !config.sip.nonceSecret) {
    env.VOXGATE_SIP_NONCE_SECRET = randomBytes(32).toString('hex');
  }
  // The primary serves /healthz, /readyz and the workers' merged /metrics on the HTTP port (sip-workers-http.ts);
  // each worker's own listener is on a loopback port of its own.
  env.VOXGATE_API_HOST = '127.0.0.1';
  env.VOXGATE_API_PORT = '0';
  // The SIP UDP socket on the native addon (VOXGATE_SIP_UDP): opened here, inherited by every worker (a
  // restarted one too), each reading it with EPOLLEXCLUSIVE so that a datagram wakes one. Without the addon the
  // workers bind dgram sockets that cluster shares through this process.
  const udp = nativeUdpFor(config.sip.udp, 'VOXGATE_SIP_UDP');
  if (udp.native) {
    const fd = udp.native.openShared(config.sip.host, config.sip.port);
    if (fd instanceof Error) throw fd;
    env[SIP_UDP_FD_VARIABLE] = String(fd);
  } else if (udp.fallback) {
    logger.warn({ reason: udp.fallback }, 'SIP UDP on Node.js dgram sockets');
  }
  const processes: (Worker | undefined)[] = new Array<Worker | undefined>(workers).fill(undefined);
  const ports: (number | null)[] = new Array<number | null>(workers).fill(null);
  const crashes: number[] = [];
  let stopping = false;
  let started = false;
  let settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
  let stopped: Promise<void> | undefined;

  const readiness = async () => {
    const up = ports.filter((p) => p !== null).length;
    return {
      ready: !stopping && up === workers,
      checks: { 'sip-workers': { ok: up === workers, detail: `${up} of ${workers} up` } },
    };
  };
  const http = await serveSipWorkersHttp({
    host: config.http.host,
    port: config.http.port,
    readiness,
    logger,
  });
  logger.info({ address: http.address }, 'HTTP listening');
  const broadcast = () => {
    const message: DispatchPeers = { voxgate: 'sip-peers', ports: [...ports] };
    for (const worker of processes) if (worker?.isConnected()) worker.send(message);
  };
  const fork = (index: number) => {
    const worker = cluster.fork({ ...env, [SIP_WORKER_VARIABLE]: `${index}/${workers}` });
    processes[index] = worker;
    worker.on('message', (message: Partial<DispatchReady>) => {
      if (message?.voxgate !== 'sip-dispatch' || message.worker !== index || typeof message.port !== 'number')
        return;
      ports[index] = message.port;
      broadcast();
      if (started) logger.info({ worker: index, pid: worker.process.pid }, 'SIP worker back');
      if (!started && ports.every((p) => p !== null)) {
        started = true;
        logger.info({ workers, pids: processes.map((w) => w?.process.pid) }, 'SIP workers ready');
        settle?.resolve();
      }
    });
    worker.on('exit', (code, signal) => {
      if (processes[index] === worker) {
        processes[index] = undefined;
        ports[index] = null;
        broadcast();
      }
      if (stopping) return;
      if (!started) {
        settle?.reject(
          new Error(
            `SIP worker ${index} exited before its listener opened (code ${code}, ${signal ?? 'no signal'})`,
          ),
        );
        return;
      }
      const now = Date.now();
      crashes.push(now);
      while (crashes.length > 0 && crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
      if (crashes.length > CRASHES_TOLERATED) {
        logger.fatal({ worker: index, code, signal }, 'SIP workers keep dying: stopping all of them');
        shutdown('crash loop').then(
          () => process.exit(1),
          () => process.exit(1),
        );
        return;
      }
      logger.error(
        { worker: index, code, signal },
        'SIP worker died: its calls in progress are lost (their next in-dialog request gets 481); restarting it',
      );
      fork(index);
    });
  };

  const shutdown = (reason: string): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      logger.info({ reason, workers }, 'draining SIP workers');
      const exits = processes.map((worker) =>
        worker && worker.process.exitCode === null && worker.process.signalCode === null
          ? new Promise<void>((resolve) => worker.once('exit', () => resolve()))
          : Promise.resolve(),
      );
      for (const worker of processes) worker?.process.kill('SIGTERM');
      // A worker that outlives its own grace period (and a margin) is killed.
      const late = setTimeout(() => {
        for (const worker of processes) worker?.process.kill('SIGKILL');
      }, config.shutdownGraceMs + 10_000);
      await Promise.all(exits);
      clearTimeout(late);
      await http.close();
      logger.info({ reason }, 'voxgate stopped');
      await logsWritten(logger);
    })();
    return stopped;
  };

  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  for (let index = 0; index < workers; index++) fork(index);
  try {
    await ready;
  } catch (err) {
    await shutdown('a worker failed to start');
    throw err;
  }
  logger.info({ modules: ['sip-workers'], workers }, 'voxgate started');
  return {
    modules: ['sip-workers'],
    services: {},
    logger,
    readiness,
    shutdown,
  };
}
