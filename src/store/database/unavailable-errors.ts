import { StoreError } from '../store-error.js';
import type { Database, Queryable } from './database.js';

/**
 * SQLSTATEs that say the database cannot serve now, not that the statement is wrong: connection exceptions
 * (class 08), insufficient resources (class 53: too many connections, out of memory or disk), the server
 * shutting down or starting up (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now), and a
 * write refused by a server that takes none now (25006 read_only_sql_transaction: a standby, or a primary
 * being demoted, until the connection moves to the writable server).
 */
function isUnavailableSqlState(code: string): boolean {
  return /^(08|53)[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03', '25006'].includes(code);
}

/** Socket errors of a connection to the database server. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * What node-postgres and PGlite say, without a code, when there is no connection to use: a connection cut
 * under a query, a pool with no connection within its timeout or already ended, a closed PGlite, PGlite's
 * worker thread gone (pglite-thread-database.ts).
 */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Cannot use a pool after calling end on the pool/,
  /^Client has encountered a connection error and is not queryable/,
  /^Client was closed and is not queryable/,
  /^PGlite is closed/,
  /^PGlite worker stopped/,
];

/** Whether `err`, from a driver, means the store is unavailable (the request may succeed later). */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (isUnavailableSqlState(code) || SOCKET_CODES.has(code))) return true;
  return UNAVAILABLE_MESSAGES.some((m) => m.test(err.message));
}

/** `err` as a `STORE_UNAVAILABLE` StoreError when it means the store is unavailable, else unchanged. */
export function classifyStoreError(err: unknown): unknown {
  if (err instanceof StoreError || !isUnavailable(err)) return err;
  const reason = (err as Error).message.split('\n')[0] || (err as Error).name;
  return new StoreError('STORE_UNAVAILABLE', `the database is unavailable: ${reason}`, { cause: err });
}

async function classified<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw classifyStoreError(err);
  }
}

function classifiedQueryable(q: Queryable): Queryable {
  return {
    query: (sql, params) => classified(() => q.query(sql, params)),
    exec: (sql) => classified(() => q.exec(sql)),
  };
}

/**
 * The store boundary: every failure of `db` that means "unavailable" (a connection refused, cut or timed
 * out, a pool or PGlite closed, SQLSTATE classes 08 and 53, 57P01-57P03, 25006) is rethrown as a `StoreError` with
 * code `STORE_UNAVAILABLE` (its cause the driver's error), inside transactions too; every other error
 * (constraint violations, bad input, the caller's own errors) passes unchanged.
 */
export function withUnavailableErrors(db: Database): Database {
  return {
    kind: db.kind,
    ...classifiedQueryable(db),
    transaction: (fn) => classified(() => db.transaction((tx) => fn(classifiedQueryable(tx)))),
    ping: () => classified(() => db.ping()),
    close: () => db.close(),
    ...(db.pool ? { pool: db.pool.bind(db) } : {}),
  };
}
