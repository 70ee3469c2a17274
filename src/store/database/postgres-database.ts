import pg from 'pg';
import { StoreError } from '../store-error.js';
import type { Database, Queryable, QueryResult } from './database.js';
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

/** A real PostgreSQL through a node-postgres pool; a transaction holds one pooled client. */
export async function openPostgres(url: string, poolSize: number): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5000 });
  // An idle client losing its connection (database restart) must not crash the process; the pool
  // discards it and the next query reconnects.
  pool.on('error', () => undefined);
  const where = describeUrl(url);
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new StoreError('STORE_UNREACHABLE', `cannot connect to PostgreSQL at ${where}: ${reason(err)}`, {
      cause: err,
    });
  }
  const run = async <R>(q: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]) => {
    const result = await q.query(sql, params as unknown[] | undefined);
    return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 } satisfies QueryResult<R>;
  };
  const timed = observed('postgres', run);
  return {
    kind: 'postgres',
    pool: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: poolSize }),
    query: (sql, params) => timed(pool, sql, params),
    exec: async (sql) => void (await pool.query(sql)),
    async transaction(fn) {
      const client = await pool.connect();
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
        throw err;
      } finally {
        client.release();
      }
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    close: () => pool.end(),
  };
}

function reason(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return (err.message || code || err.name).split('\n')[0] ?? 'unknown error';
  }
  return String(err);
}
