import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  openDatabase,
  toolConnection,
  withDatabase,
  type Database,
  type ObjectStore,
  type Queryable,
} from '../store/index.js';
import type { ScheduledJob } from './scheduler.js';

/** What a backup is, next to its dump: the row counts taken in the dump's own snapshot. */
export interface BackupManifest {
  createdAt: string;
  dumpKey: string;
  sizeBytes: number;
  sha256: string;
  serverVersion: string;
  tables: Record<string, number>;
}

export const BACKUP_PREFIX = 'backups/';
/** Arbitrary constant naming the advisory lock that keeps two workers from dumping at once. */
const BACKUP_LOCK = 0x766f7862; // "voxb"

/**
 * Rows per table of the public schema, in one statement: the identifiers are quoted by PostgreSQL's own
 * format('%I'), never concatenated here.
 */
export async function rowCounts(db: Queryable): Promise<Record<string, number>> {
  const { rows } = await db.query<{ name: string; rows: string }>(
    `SELECT table_name AS name,
            (xpath('/row/c/text()',
                   query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name),
                                false, true, '')))[1]::text AS rows
       FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
      ORDER BY table_name`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.rows)]));
}

/**
 * The URL without its password, and the password for PGPASSWORD: never on a command line (`ps` shows it). A URL
 * with several servers keeps them and its target_session_attrs: libpq's tools choose the server themselves.
 */
function credentials(url: string, database?: string): { url: string; env: NodeJS.ProcessEnv } {
  const { url: bare, password } = toolConnection(url, database);
  return { url: bare, env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } };
}

/** Runs a PostgreSQL client tool; a missing tool or a non-zero exit is an error naming it and its last words. */
function run(tool: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new Error(`${tool} not found: install the PostgreSQL client (Debian postgresql-client)`)
          : err,
      ),
    );
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${tool} exited ${code}: ${stderr.trim().split('\n').at(-1) ?? ''}`)),
    );
  });
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const stampOf = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/**
 * Daily backup: `pg_dump --format=custom` of the store, taken in a REPEATABLE READ transaction's exported
 * snapshot so that the row counts of the manifest are those of the dump, stored as `backups/<stamp>.dump` and
 * `backups/<stamp>.json`. Only for PostgreSQL (PGlite lives in VOXGATE_DATA_DIR: back that folder up).
 */
export function databaseBackupJob(options: {
  db: Database;
  databaseUrl: string;
  store: ObjectStore;
  spoolDir: string;
  everyMs: number;
  onStored?: (manifest: BackupManifest) => void;
}): ScheduledJob & { runNow(): Promise<BackupManifest | undefined> } {
  /** Several workers run this job: one backup per period, whoever comes first (under an advisory lock). */
  const recentEnough = async (now: Date): Promise<boolean> => {
    const latest = (await options.store.list(BACKUP_PREFIX)).filter((k) => k.endsWith('.json')).at(-1);
    const m = latest && /(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\.json$/.exec(latest);
    if (!m) return false;
    const at = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
    return now.getTime() - at < options.everyMs * 0.9;
  };
  const backup = async (): Promise<BackupManifest | undefined> => {
    const now = new Date();
    if (await recentEnough(now)) return undefined;
    const stamp = stampOf(now);
    await mkdir(options.spoolDir, { recursive: true });
    const dumpPath = join(options.spoolDir, `${stamp}.dump`);
    const manifestPath = join(options.spoolDir, `${stamp}.json`);
    try {
      const dumped = await options.db.transaction(async (tx) => {
        await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        const [lock] = (
          await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [BACKUP_LOCK])
        ).rows;
        if (!lock?.ok) return undefined;
        const [snapshot] = (await tx.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows;
        const counted = await rowCounts(tx);
        const [version] = (await tx.query<{ v: string }>('SHOW server_version')).rows;
        // The snapshot lives as long as this transaction: pg_dump runs inside it.
        const { url, env } = credentials(options.databaseUrl);
        await run(
          'pg_dump',
          [
            '--format=custom',
            '--no-owner',
            '--no-privileges',
            `--snapshot=${snapshot!.id}`,
            `--file=${dumpPath}`,
            url,
          ],
          env,
        );
        return { tables: counted, serverVersion: version?.v ?? '' };
      });
      if (!dumped) return undefined;
      const { tables, serverVersion } = dumped;
      const manifest: BackupManifest = {
        createdAt: now.toISOString(),
        dumpKey: `${BACKUP_PREFIX}${stamp}.dump`,
        sizeBytes: (await stat(dumpPath)).size,
        sha256: await sha256(dumpPath),
        serverVersion,
        tables,
      };
      await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
      // The dump first: a manifest is only ever next to a complete dump.
      await options.store.putFile(manifest.dumpKey, dumpPath);
      await options.store.putFile(`${BACKUP_PREFIX}${stamp}.json`, manifestPath);
      options.onStored?.(manifest);
      return manifest;
    } finally {
      await removeSpooled(dumpPath, manifestPath);
    }
  };
  return runnableJob('database-backup', options.everyMs, backup);
}

/**
 * Restore test: the latest backup is restored into a scratch database on the same server
 * (`voxgate_restore_<time>`) with pg_restore, its rows counted per table and compared with the manifest;
 * the scratch database is dropped whatever the outcome. A difference, a missing table or a checksum mismatch
 * fails the run (the job metric and the VoxgateBackupFailing alert report it).
 */
export function restoreTestJob(options: {
  db: Database;
  databaseUrl: string;
  store: ObjectStore;
  spoolDir: string;
  everyMs: number;
  onChecked?: (manifest: BackupManifest) => void;
}): ScheduledJob & { runNow(): Promise<BackupManifest> } {
  const check = async (): Promise<BackupManifest> => {
    const manifests = (await options.store.list(BACKUP_PREFIX)).filter((k) => k.endsWith('.json'));
    const latest = manifests.at(-1);
    if (!latest) throw new Error(`no backup to test under ${BACKUP_PREFIX}`);
    await mkdir(options.spoolDir, { recursive: true });
    const manifestPath = join(options.spoolDir, 'restore-test.json');
    const dumpPath = join(options.spoolDir, 'restore-test.dump');
    const scratch = `voxgate_restore_${Date.now()}`;
    let created = false;
    try {
      await options.store.getFile(latest, manifestPath);
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as BackupManifest;
      await options.store.getFile(manifest.dumpKey, dumpPath);
      if ((await sha256(dumpPath)) !== manifest.sha256)
        throw new Error(`${manifest.dumpKey}: checksum mismatch`);
      // A database name cannot be a bound parameter; this one is ours, digits and underscores only.
      await options.db.query(`CREATE DATABASE "${scratch}"`);
      created = true;
      const { url, env } = credentials(options.databaseUrl, scratch);
      await run(
        'pg_restore',
        ['--no-owner', '--no-privileges', '--exit-on-error', `--dbname=${url}`, dumpPath],
        env,
      );
      // In-process, the password may stay in the URL (it is on no command line).
      const restored = await openDatabase({
        url: withDatabase(options.databaseUrl, scratch),
        dataDir: options.spoolDir,
        poolSize: 1,
      });
      let counts: Record<string, number>;
      try {
        counts = await rowCounts(restored);
      } finally {
        await restored.close();
      }
      const differences = Object.entries(manifest.tables)
        .filter(([table, rows]) => counts[table] !== rows)
        .map(([table, rows]) => `${table}: ${rows} in the manifest, ${counts[table] ?? 'no table'} restored`);
      if (differences.length > 0) {
        throw new Error(`restore test of ${manifest.dumpKey} failed: ${differences.join('; ')}`);
      }
      options.onChecked?.(manifest);
      return manifest;
    } finally {
      if (created) await options.db.query(`DROP DATABASE IF EXISTS "${scratch}" WITH (FORCE)`);
      await removeSpooled(manifestPath, dumpPath);
    }
  };
  return runnableJob('restore-test', options.everyMs, check);
}

/** A scheduled job whose run can also be asked for at once (`runNow`), which gives its result. */
function runnableJob<R>(
  name: string,
  everyMs: number,
  work: () => Promise<R>,
): ScheduledJob & { runNow(): Promise<R> } {
  return { name, everyMs, run: async () => void (await work()), runNow: work };
}

/** Removes the spooled files of a run, whether they were written or not. */
async function removeSpooled(...paths: string[]): Promise<void> {
  for (const path of paths) await rm(path, { force: true });
}
