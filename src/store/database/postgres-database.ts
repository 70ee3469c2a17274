import type pg from 'pg';
import { StoreError } from '../store-error.js';
import type { Database, Queryable, QueryResult } from './database.js';
import { serverChoice, singlePool, type PoolSource } from './postgres-servers.js';
import { describePostgresUrl, parsePostgresUrl, PostgresUrlError, type PostgresUrl } from './postgres-url.js';
import { observed } from './store-diagnostics.js';

/** Where the URL points, without user or password, for messages. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * The URL read as several servers (or one with target_session_attrs), or undefined for a URL of one server
 * that node-postgres reads itself, as it always has. A URL with a host list that does not parse is refused.
 */
function multiServer(url: string): PostgresUrl | undefined {
  let parsed: PostgresUrl;
  try {
    parsed = parsePostgresUrl(url);
  } catch (err) {
    const rest = url.replace(/^[a-z]+:\/\//, '');
    const authority = rest.slice(0, rest.search(/[/?]|$/));
    if (!authority.slice(authority.lastIndexOf('@') + 1).includes(',')) return undefined;
    throw new StoreError(
      'STORE_INVALID_URL',
      `the PostgreSQL URL is invalid: ${err instanceof PostgresUrlError ? err.message : reason(err)}`,
      { cause: err },
    );
  }
  return parsed.servers.length > 1 || parsed.targetSessionAttrsGiven ? parsed : undefined;
}

/**
 * A real PostgreSQL through node-postgres pools; a transaction holds one pooled client. A URL with several
 * servers (`postgres://h1:5432,h2:5432/db?target_session_attrs=read-write`) keeps a pool on the first
 * acceptable one and moves to another when that one goes away or refuses writes (postgres-servers.ts).
 */
export async function openPostgres(url: string, poolSize: number): Promise<Database> {
  const several = multiServer(url);
  const source: PoolSource = several ? serverChoice(several, poolSize) : singlePool(url, poolSize);
  const where = several ? describePostgresUrl(several) : describeUrl(url);
  try {
    const client = await (await source.pool()).connect();
    client.release();
  } catch (err) {
    await source.close().catch(() => undefined);
    throw new StoreError('STORE_UNREACHABLE', `cannot connect to PostgreSQL at ${where}: ${reason(err)}`, {
      cause: err,
    });
  }
  /**
   * Runs `work` on the current pool. A failure is reported to the source (which lets a lost server go); a
   * query that never reached a server (refused connection, pool let go meanwhile) is sent once more, to the
   * server chosen next. Nothing that may have run is sent twice.
   */
  const use = async <T>(work: (pool: pg.Pool) => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      const pool = await source.pool();
      try {
        return await work(pool);
      } catch (err) {
        source.failed(pool, err);
        if (attempt > 0 || !source.retryable(pool, err)) throw err;
      }
    }
  };
  const run = async <R>(q: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]) => {
    const result = await q.query(sql, params as unknown[] | undefined);
    return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 } satisfies QueryResult<R>;
  };
  const timed = observed('postgres', run);
  return {
    kind: 'postgres',
    pool: () => ({ ...source.stats(), max: poolSize }),
    query: (sql, params) => use((pool) => timed(pool, sql, params)),
    exec: (sql) => use(async (pool) => void (await pool.query(sql))),
    async transaction(fn) {
      const { pool, client } = await use(async (p) => ({ pool: p, client: await p.connect() }));
      // A connection lost while the client is held between statements (a server killed) is an 'error' event on
      // the client, which the pool listens to only while the client is idle: unheard, it would stop the process.
      // The next statement fails ("not queryable"), the client is discarded at release, the server let go.
      let lost: Error | undefined;
      const onLost = (err: Error) => {
        lost = err;
        source.failed(pool, err);
      };
      client.on('error', onLost);
      const tx: Queryable = {
        query: (sql, params) => timed(client, sql, params),
        exec: async (sql) => void (await client.query(sql)),
      };
      try {
        await client.query('BEGIN');
        const value = await fn(tx);
        await client.query('COMMIT');
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        source.failed(pool, err);
        throw err;
      } finally {
        client.off('error', onLost);
        client.release(lost);
      }
    },
    ping: () => use((pool) => source.ping(pool)),
    close: () => source.close(),
  };
}

function reason(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return (err.message || code || err.name).split('\n')[0] ?? 'unknown error';
  }
  return String(err);
}
