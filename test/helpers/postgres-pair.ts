// A real PostgreSQL primary and streaming standby for tests, made with Debian's PostgreSQL binaries on free
// loopback ports under a temporary directory: `initdb` for the primary, `pg_basebackup -R -X stream` for the
// standby (standby.signal and primary_conninfo written by -R), each postmaster a child of the test process. The
// standby can be promoted (`pg_ctl promote`), a server stopped the way an operator or a crash would (fast
// shutdown = SIGINT, immediate = SIGQUIT, or SIGKILL). initdb refuses to run as root: as root, the servers run
// as the `postgres` user. stop() ends them and removes the directory; an exit handler and a detached watchdog
// per server (which outlives a test process killed with SIGKILL) do it otherwise. The machine's own cluster on
// 5432 is not touched.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, open, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The newest /usr/lib/postgresql/<version>/bin with initdb, or undefined. */
async function binDir(): Promise<string | undefined> {
  const root = '/usr/lib/postgresql';
  const versions = (await readdir(root).catch(() => [] as string[]))
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = join(root, v, 'bin');
    if (spawnSync(join(dir, 'initdb'), ['--version'], { stdio: 'ignore' }).status === 0) return dir;
  }
  return undefined;
}

/** Why a primary/standby pair cannot be made here, or false. In CI a missing server package is a failure. */
export async function postgresPairUnavailable(): Promise<string | false> {
  if (await binDir()) return false;
  const why =
    'PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not found: Debian package postgresql';
  if (process.env.CI) throw new Error(`${why}; required in CI`);
  return why;
}

/** The user the servers run as: `postgres` when this process is root (initdb refuses root), else ourselves. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) =>
    Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root and there is no postgres user');
  return { uid, gid };
}

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Kills `pid` and removes `dir` once this process is gone, however it went (a detached shell polling it). */
function watchdog(pid: number, dir: string): ChildProcess {
  const w = spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$0" 2>/dev/null; do sleep 1; done; kill -9 "$1" 2>/dev/null; sleep 1; rm -rf "$2"',
      String(process.pid),
      String(pid),
      dir,
    ],
    { detached: true, stdio: 'ignore' },
  );
  w.unref();
  return w;
}

function runTool(bin: string, args: string[], user: ReturnType<typeof runAs>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { ...(user ?? {}), timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

export interface PostgresServerProcess {
  readonly name: 'primary' | 'standby';
  readonly port: number;
  readonly dataDir: string;
  alive(): boolean;
  /** Fast shutdown (SIGINT, what `pg_ctl stop -m fast` sends): sessions are ended, WAL sent, a checkpoint. */
  stopFast(): Promise<void>;
  /** SIGKILL of the postmaster: gone without a word, as in a crash (its backends notice and exit). */
  kill(): Promise<void>;
  /** The database `query` connects to: postgres, then the pair's database once it is created. */
  database: string;
  /** One query on a fresh connection. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  log(): Promise<string>;
}

export interface PostgresPair {
  readonly primary: PostgresServerProcess;
  readonly standby: PostgresServerProcess;
  readonly database: string;
  /** postgres://postgres@primary,standby/<database>?target_session_attrs=read-write (or another mode). */
  url(mode?: string, order?: readonly PostgresServerProcess[]): string;
  /** `pg_ctl promote -w`: returns once the standby accepts writes. */
  promote(): Promise<void>;
  stop(): Promise<void>;
}

async function startServer(
  bin: string,
  top: string,
  name: 'primary' | 'standby',
  port: number,
  user: ReturnType<typeof runAs>,
): Promise<PostgresServerProcess> {
  const dataDir = join(top, name);
  const logPath = join(top, `${name}.log`);
  const logFile = await open(logPath, 'a');
  const proc = spawn(
    join(bin, 'postgres'),
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      top,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=100',
      '-c',
      'shared_buffers=16MB',
    ],
    { ...(user ?? {}), stdio: ['ignore', logFile.fd, logFile.fd] },
  );
  await logFile.close();
  live.add(proc);
  const dog = watchdog(proc.pid as number, top);
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      exited = true;
      live.delete(proc);
      dog.kill('SIGKILL');
      resolve();
    }),
  );
  const connection = () =>
    new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      database: server.database,
      connectionTimeoutMillis: 3000,
    });
  const server: PostgresServerProcess = {
    name,
    port,
    dataDir,
    database: 'postgres',
    alive: () => !exited,
    async stopFast() {
      if (!exited) proc.kill('SIGINT');
      await gone;
    },
    async kill() {
      if (!exited) proc.kill('SIGKILL');
      await gone;
    },
    async query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]) {
      const c = connection();
      c.on('error', () => undefined);
      try {
        await c.connect();
        return (await c.query<R>(sql, params)).rows;
      } finally {
        await c.end().catch(() => undefined);
      }
    },
    log: () => readFile(logPath, 'utf8').catch(() => ''),
  };
  for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
    if (exited || Date.now() > deadline) {
      const log = await server.log();
      await server.kill();
      throw new Error(
        `PostgreSQL ${name} on port ${port} did not start: ${log.split('\n').slice(-10).join('\n')}`,
      );
    }
    try {
      await server.query('SELECT 1');
      return server;
    } catch {
      // starting up
    }
  }
}

/**
 * Makes the pair: initdb, the primary started, `database` created, pg_basebackup -R of it started as the
 * standby, and waits until the primary reports it streaming. `synchronous` makes the standby synchronous
 * (synchronous_standby_names): a commit returns only once the standby has it.
 */
export async function startPostgresPair(
  options: { database?: string; synchronous?: boolean } = {},
): Promise<PostgresPair> {
  const bin = await binDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found');
  const user = runAs();
  const database = options.database ?? 'voxgate';
  const top = await mkdtemp(join(tmpdir(), 'voxgate-pg-pair-'));
  if (user) await chown(top, user.uid, user.gid);
  const servers: PostgresServerProcess[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.kill()));
    await rm(top, { recursive: true, force: true });
  };
  try {
    const [primaryPort, standbyPort] = (await freePorts(2)) as [number, number];
    await runTool(
      join(bin, 'initdb'),
      ['-D', join(top, 'primary'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
      user,
    );
    const primary = await startServer(bin, top, 'primary', primaryPort, user);
    servers.push(primary);
    await primary.query(`CREATE DATABASE ${database}`);
    primary.database = database;
    await runTool(
      join(bin, 'pg_basebackup'),
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(primaryPort),
        '-U',
        'postgres',
        '-D',
        join(top, 'standby'),
        '-R',
        '-X',
        'stream',
        '-c',
        'fast',
        '--no-sync',
      ],
      user,
    );
    const standby = await startServer(bin, top, 'standby', standbyPort, user);
    servers.push(standby);
    standby.database = database;
    for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
      const rows = await primary.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_replication WHERE state = 'streaming'",
      );
      if (rows[0]?.n === '1') break;
      if (Date.now() > deadline) throw new Error('the standby did not start streaming within 60 s');
    }
    if (options.synchronous) {
      await primary.query("ALTER SYSTEM SET synchronous_standby_names = '*'");
      await primary.query('SELECT pg_reload_conf()');
      for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
        const rows = await primary.query<{ s: string }>('SELECT sync_state AS s FROM pg_stat_replication');
        if (rows[0]?.s === 'sync') break;
        if (Date.now() > deadline) throw new Error('the standby did not become synchronous within 30 s');
      }
    }
    return {
      primary,
      standby,
      database,
      url(mode = 'read-write', order = [primary, standby]) {
        const hosts = order.map((s) => `127.0.0.1:${s.port}`).join(',');
        return `postgres://postgres@${hosts}/${database}?target_session_attrs=${mode}`;
      },
      async promote() {
        await runTool(join(bin, 'pg_ctl'), ['promote', '-D', standby.dataDir, '-w', '-t', '60'], user);
        for (const deadline = Date.now() + 60_000; ; await sleep(50)) {
          const rows = await standby.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r').catch(() => []);
          if (rows[0]?.r === false) return;
          if (Date.now() > deadline) throw new Error('the standby was not promoted within 60 s');
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
