/** Helpers shared by the benchmarks: process CPU/RSS from /proc, SIPp runs with their statistics, lifecycle. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** Proportional set size of a process (shared pages split among their users), in bytes; undefined if unknown. */
function pss(pid: number): number | undefined {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The CPUs this process may run on (`Cpus_allowed_list`), in order; empty where /proc does not say. */
export function allowedCpus(): number[] {
  const m = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  const cpus: number[] = [];
  for (const part of m?.[1]?.split(',') ?? []) {
    const [from, to = from] = part.split('-').map(Number) as [number, number?];
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/**
 * Keeps this process and every thread it has (the generator, libuv's and V8's threads) on `cpus`, as
 * `taskset -a -p` does; threads made later inherit it. False where taskset is missing or refused.
 */
export function pinSelf(cpus: readonly number[]): boolean {
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpus.join(','), String(process.pid)], {
    encoding: 'utf8',
  });
  return r.status === 0;
}

/** `command args` run on `cpus` only (every thread it makes inherits them): spawn's command and arguments. */
export function onCpus(
  cpus: readonly number[] | undefined,
  command: string,
  args: string[],
): [string, string[]] {
  return cpus?.length ? ['taskset', ['-c', cpus.join(','), command, ...args]] : [command, args];
}

/**
 * CPU ms and memory of a process and its children (Kamailio forks workers that share memory). Memory is the
 * sum of PSS where the kernel reports it, so shared memory counts once; else the sum of RSS.
 */
export function usage(pid: number): { cpuMs: number; rssBytes: number } {
  const pids = [
    pid,
    ...spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map(Number),
  ];
  let ticks = 0;
  let bytes = 0;
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
      bytes += pss(p) ?? Number(fields[21]) * 4096;
    } catch {
      // the process ended between pgrep and the read
    }
  }
  return { cpuMs: ticks * TICK_MS, rssBytes: bytes };
}

export interface SippStats {
  ok: number;
  failed: number;
  /** Mean of SIPp's response time 1 (whole milliseconds resolution). */
  meanMs: number;
  /** Why calls failed, SIPp's cumulative Failed…(C) counters that are not zero (`MaxUDPRetrans: 3`). */
  failures: Record<string, number>;
}

/**
 * With BENCH_SIPP_ERRORS=<folder>, each SIPp run writes the messages it found unexpected, and why, to a file of
 * its own there (`-trace_err`): what a step's failures were, not only how many.
 */
function errorLog(): string[] {
  const folder = process.env.BENCH_SIPP_ERRORS;
  if (!folder) return [];
  mkdirSync(folder, { recursive: true });
  return ['-trace_err', '-error_file', join(folder, `sipp-${Date.now()}-${++sippRuns}-errors.log`)];
}
let sippRuns = 0;

/** Seconds SIPp is given past its own `-timeout` before the bench stops it. */
const SIPP_GRACE_SECONDS = 30;

/**
 * Runs SIPp to completion with `args` and reads the last line of its statistics file. With `-timeout Ns` among
 * the args, SIPp still running N + 30 s after its start is killed and the calls it held open are counted as
 * failed (`OpenWhenStopped`): a 4,000 calls/s step past the gateway's limit once left SIPp's UAC running more than
 * nine minutes past its `-timeout` with calls open, and the bench waiting on it (2026-12-06).
 */
export function runSippStats(args: readonly string[]): Promise<SippStats> {
  const dir = mkdtempSync(join(tmpdir(), 'voxgate-bench-'));
  const at = args.indexOf('-timeout');
  const limit = at < 0 ? Number.NaN : Number(/^(\d+)s?$/.exec(args[at + 1] ?? '')?.[1] ?? Number.NaN);
  return new Promise((resolve, reject) => {
    const child = spawn(
      'sipp',
      [...args, '-nostdin', '-trace_stat', '-fd', '1', '-stf', join(dir, 'stat.csv'), ...errorLog()],
      {
        cwd: dir,
        stdio: 'ignore',
      },
    );
    let stopped = false;
    const guard = Number.isFinite(limit)
      ? setTimeout(
          () => {
            stopped = true;
            child.kill('SIGKILL');
          },
          (limit + SIPP_GRACE_SECONDS) * 1000,
        )
      : undefined;
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(guard);
      try {
        const lines = readFileSync(join(dir, 'stat.csv'), 'utf8').trim().split('\n');
        const head = lines[0]!.split(';');
        const last = lines.at(-1)!.split(';');
        const col = (name: string) => last[head.indexOf(name)] ?? '0';
        const rt = col('ResponseTime1(C)').split(':').map(Number); // hh:mm:ss:usec
        const meanMs = ((rt[0] ?? 0) * 3600 + (rt[1] ?? 0) * 60 + (rt[2] ?? 0)) * 1000 + (rt[3] ?? 0) / 1000;
        const failures: Record<string, number> = {};
        for (const name of head) {
          const cause = /^Failed(.+)\(C\)$/.exec(name)?.[1];
          const n = Number(col(name));
          if (cause && cause !== 'Call' && n > 0) failures[cause] = n;
        }
        // Killed: the calls still open in its last statistics line (written every second) never ended.
        const open = stopped ? Number(col('CurrentCall')) : 0;
        if (open > 0) failures.OpenWhenStopped = open;
        resolve({
          ok: Number(col('SuccessfulCall(C)')),
          failed: Number(col('FailedCall(C)')) + open,
          meanMs,
          failures,
        });
      } catch (err) {
        reject(err);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

/** Resolves with the first capture of `pattern` in the child's output (30 s at most). */
export function waitForOutput(
  child: ChildProcess,
  pattern: RegExp,
  stream: 'stdout' | 'stderr',
): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const out = child[stream]!;
    // BENCH_SERVER_LOG=<file>: the server's output (its logs, and V8's --trace-gc lines when BENCH_NODE_ARGS asks
    // for them) is appended there as well.
    if (process.env.BENCH_SERVER_LOG)
      out.pipe(createWriteStream(process.env.BENCH_SERVER_LOG, { flags: 'a' }));
    const timer = setTimeout(() => {
      out.off('data', onData);
      reject(new Error(`no ${pattern} in: ${text.slice(-500)}`));
    }, 30_000);
    // Once found, the output is still read (a full pipe would stall the child) but no longer kept or searched.
    const onData = (d: Buffer) => {
      text += d.toString();
      const m = pattern.exec(text);
      if (m) {
        clearTimeout(timer);
        out.off('data', onData);
        out.resume();
        resolve(m[1] ?? m[0]);
      }
    };
    out.on('data', onData);
  });
}

export async function stop(child: ChildProcess): Promise<void> {
  // Ended already: by itself (exitCode) or by a signal (signalCode, exitCode null: a V8 abort is SIGABRT), its
  // 'exit' event past.
  if (child.exitCode === null && child.signalCode === null) {
    stopping.add(child);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(force);
  }
  const mark = leftoverMarks.get(child);
  const killed = mark === undefined ? 0 : killLeftovers(mark);
  if (killed > 0) console.error(`${child.spawnfile}: ${killed} of its processes outlived it: killed`);
}

/**
 * What the command line of a server's forked processes holds (Kamailio's pid file), for `stop` to find those
 * that outlive the process it started: seen here, a Kamailio worker left waiting on a lock in shared memory
 * after its main process exited, holding its port and 2 GiB of shared memory for every later run.
 */
const leftoverMarks = new WeakMap<ChildProcess, string>();

/** SIGKILLs every process whose command line holds `mark` (Linux /proc); how many were. */
function killLeftovers(mark: string): number {
  let killed = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(mark)) continue;
      process.kill(Number(pid), 'SIGKILL');
      killed++;
    } catch {
      // Gone between the listing and the read or the kill.
    }
  }
  return killed;
}

/** Children `stop` was asked to end: their exit is not news. */
const stopping = new WeakSet<ChildProcess>();

export const fmt = (n: number, d = 1): string => n.toFixed(d);

/**
 * The VOXGATE_* settings of the bench's own environment (e.g. VOXGATE_SIP_UDP_RECEIVE_BUFFER_KB=8192), for the
 * server's environment: spread first, so the settings the bench makes itself come after and win.
 */
export function voxgateSettingsOfBench(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('VOXGATE_')));
}

/**
 * Kamailio with `cfg` listening on UDP `127.0.0.1:port`, with `defines` (`-A NAME=value` pairs): shared memory
 * for the transactions in flight (64 MiB by default runs out first, and 512 MiB did at 4,400 calls/s, where 2 GiB
 * held 5,200/s: 2,048 MiB here, BENCH_KAMAILIO_SHM_MB to change it) and private memory per worker sized like a
 * production proxy, not the package defaults. Its stderr is piped and always read (an unread pipe fills at
 * 64 KiB, and Kamailio's processes then block at their next log line: the warnings of an overloaded step are
 * enough); a caller may listen to it too. Should Kamailio end before `stop` ends it, its last output is printed.
 */
export function startKamailio(cfg: string, port: number, defines: readonly string[] = []): ChildProcess {
  const pidFile = join(tmpdir(), `kamailio-bench-${port}.pid`);
  const child = spawn(
    'kamailio',
    [
      '-f',
      cfg,
      '-m',
      process.env.BENCH_KAMAILIO_SHM_MB ?? '2048',
      '-M',
      '16',
      '-DD',
      '-E',
      '-l',
      `udp:127.0.0.1:${port}`,
      ...defines,
      '-P',
      pidFile,
      '-Y',
      tmpdir(),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  leftoverMarks.set(child, pidFile);
  let tail = '';
  child.stderr!.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-4000)));
  child.once('exit', (code, signal) => {
    if (!stopping.has(child))
      console.error(
        `kamailio (port ${port}) ended by itself (${signal ?? `exit ${code}`}); its last output:\n${tail}`,
      );
  });
  return child;
}

/**
 * Runs `fn` with the URL of a new PostgreSQL database (on VOXGATE_TEST_DATABASE_URL's server, by default the
 * local one), dropped afterwards whatever happens.
 */
export async function withScratchDatabase<T>(name: string, fn: (url: string) => Promise<T>): Promise<T> {
  const base = process.env.VOXGATE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `voxgate_${name}_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  try {
    const url = new URL(base);
    url.pathname = `/${dbName}`;
    return await fn(url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}
