import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.js';
import { lockFolder, type FolderLock } from './folder-lock.js';
import { observed } from './store-diagnostics.js';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * A Date as PostgreSQL timestamptz text, as node-postgres sends it: PGlite's own `toISOString()` is refused
 * outside the years 1-9999 (year 0 is 1 BC, +010000 is not a year), which any instant near those ends
 * reaches through a time zone offset.
 */
function timestampParam(value: unknown): unknown {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) return value;
  const year = value.getUTCFullYear();
  const date = `${pad(year > 0 ? year : 1 - year, 4)}-${pad(value.getUTCMonth() + 1, 2)}-${pad(value.getUTCDate(), 2)}`;
  const time = `${pad(value.getUTCHours(), 2)}:${pad(value.getUTCMinutes(), 2)}:${pad(value.getUTCSeconds(), 2)}`;
  return `${date} ${time}.${pad(value.getUTCMilliseconds(), 3)}+00${year > 0 ? '' : ' BC'}`;
}

/**
 * PostgreSQL's buffer pool inside PGlite's WebAssembly memory. At the server's default, 128MB, the pool is
 * touched at start and stays in the process's RSS: the all-in-one at rest held ~100 MiB more than with 16MB
 * (bench/footprint.ts, docs/performance.md). The embedded store is the laptop, demo and CI one, whose tables
 * are a few MB; the files stay in the operating system's page cache beyond the pool.
 */
export const PGLITE_SHARED_BUFFERS = '16MB';
const startParams = [...PGlite.defaultStartParams, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`];

/**
 * Embedded PostgreSQL (PGlite, WASM) in `<dataDir>/pglite`, or in memory for `memory://`.
 * PGlite has one connection, so a transaction holds it exclusively: queries from outside the transaction wait
 * for it (a queue), instead of running inside someone else's transaction.
 */
export async function openPglite(dataDir: string, templateFile?: string): Promise<Database> {
  // A new cluster is initialized from the template (an initdb'd empty cluster, see
  // scripts/build-pglite-template.mjs) when there is one: ~1 s instead of ~3.5 s.
  const template =
    templateFile && existsSync(templateFile) ? new Blob([await readFile(templateFile)]) : undefined;
  let db: PGlite;
  let lock: FolderLock | undefined;
  if (dataDir === 'memory://') {
    db = await PGlite.create({ startParams, ...(template ? { loadDataDir: template } : {}) });
  } else {
    const dir = join(dataDir, 'pglite');
    const fresh = !existsSync(join(dir, 'PG_VERSION'));
    await mkdir(dir, { recursive: true });
    lock = lockFolder(join(dataDir, 'pglite.lock'), `the embedded database ${dir}`);
    try {
      db = await PGlite.create({
        dataDir: dir,
        startParams,
        ...(fresh && template ? { loadDataDir: template } : {}),
      });
    } catch (err) {
      lock.release();
      throw err;
    }
  }
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = tail.then(fn, fn);
    tail = next.catch(() => undefined);
    return next;
  };
  const run = async <R>(q: Pick<PGlite, 'query'>, sql: string, params?: readonly unknown[]) => {
    const result = await q.query<R>(sql, params?.map(timestampParam));
    return {
      rows: result.rows,
      rowCount: result.affectedRows ?? result.rows.length,
    } satisfies QueryResult<R>;
  };
  return {
    kind: 'pglite',
    query: observed('pglite', (sql: string, params?: readonly unknown[]) =>
      exclusive(() => run(db, sql, params)),
    ),
    exec: (sql) => exclusive(async () => void (await db.exec(sql))),
    transaction: (fn) =>
      exclusive(() =>
        db.transaction(async (t) => {
          const tx: Queryable = {
            query: observed('pglite', (sql: string, params?: readonly unknown[]) => run(t, sql, params)),
            exec: async (sql) => void (await t.exec(sql)),
          };
          return fn(tx);
        }),
      ),
    async ping() {
      await exclusive(() => db.query('SELECT 1'));
    },
    close: () =>
      exclusive(async () => {
        try {
          await db.close();
        } finally {
          lock?.release();
        }
      }),
  };
}
