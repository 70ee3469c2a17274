import pg from 'pg';
import {
  describePostgresUrl,
  serverName,
  serverUrl,
  type PostgresServer,
  type PostgresUrl,
  type TargetSessionAttrs,
} from './postgres-url.js';
import { storeServerChannel, type StoreServerEvent } from './store-diagnostics.js';
import { isUnavailable } from './unavailable-errors.js';

/** Where the queries of a `Database` go: one pool, or the pool of the server chosen among several. */
export interface PoolSource {
  /** The pool of the server to use now (chosen first when none is held). */
  pool(): Promise<pg.Pool>;
  /** `err` came out of `pool`: if it says the server is gone or refuses writes, the next `pool()` chooses again. */
  failed(pool: pg.Pool, err: unknown): void;
  /** Whether a query that failed with `err` on `pool` was never sent, so it may be sent again elsewhere. */
  retryable(pool: pg.Pool, err: unknown): boolean;
  /** A readiness check of the server `pool` is on (and, with several, that it is still the one to use). */
  ping(pool: pg.Pool): Promise<void>;
  stats(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 5000;
/** After every server was refused, further choices fail at once for this long (no connection storm). */
const RECHOOSE_AFTER_MS = 250;

/** One pool on one server, as node-postgres connects (the single-server URL, exactly as before). */
export function singlePool(url: string, poolSize: number): PoolSource {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // An idle client losing its connection (database restart) must not crash the process; the pool
  // discards it and the next query reconnects.
  pool.on('error', () => undefined);
  return {
    pool: async () => pool,
    failed: () => undefined,
    retryable: () => false,
    ping: async (p) => void (await p.query('SELECT 1')),
    stats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  };
}

/** What a server said of its session: the two facts target_session_attrs is decided on. */
interface SessionState {
  /** pg_is_in_recovery(): a standby. */
  readonly standby: boolean;
  /** transaction_read_only of a new session: a standby, or default_transaction_read_only on. */
  readonly readOnly: boolean;
}

/**
 * libpq, "Parameter Key Words", target_session_attrs: "read-write: session must accept read-write
 * transactions by default (that is, the server must not be in hot standby mode and the
 * default_transaction_read_only parameter must be off)"; "read-only: … (the converse)"; "primary: server
 * must not be in hot standby mode"; "standby: server must be in hot standby mode"; "prefer-standby: first
 * try to find a standby server, but if none of the listed hosts is a standby server, try again in any mode".
 */
function acceptable(mode: TargetSessionAttrs, s: SessionState): boolean {
  switch (mode) {
    case 'read-write':
      return !s.readOnly;
    case 'read-only':
      return s.readOnly;
    case 'primary':
      return !s.standby;
    case 'standby':
    case 'prefer-standby':
      return s.standby;
    case 'any':
      return true;
  }
}

function reason(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return (err.message || code || err.name).split('\n')[0] ?? 'unknown error';
  }
  return String(err);
}

/** `err` or one of its causes (a StoreError around the driver's error). */
function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && chain.length < 4; e = (e as { cause?: unknown }).cause) {
    chain.push(e);
    if (!(e instanceof Error)) break;
  }
  return chain;
}

/** No server of the list is acceptable now: SQLSTATE 08001, so the store boundary says "unavailable". */
class NoServerError extends Error {
  readonly code = '08001';
}

/**
 * Several servers (libpq's multi-host URL): the first, in the URL's order, whose session is what
 * target_session_attrs asks is kept, and one pool is opened on it. When a query on it fails because the server
 * is gone (connection refused or cut, shutting down: SQLSTATE 08, 57P01-57P03 …) or refuses writes (25006,
 * a demoted primary), that pool is ended and the next query chooses again: a promoted standby is found without
 * a restart. node-postgres has no multi-host URLs (notes: npm `pg` 8.x), hence this layer above it.
 */
export function serverChoice(url: PostgresUrl, poolSize: number): PoolSource {
  const mode = url.targetSessionAttrs;
  let current: { pool: pg.Pool; server: PostgresServer } | undefined;
  let choosing: Promise<pg.Pool> | undefined;
  let refused: { at: number; error: NoServerError } | undefined;
  let previous: string | undefined;
  let closed = false;
  const publish = (event: StoreServerEvent) => {
    if (storeServerChannel.hasSubscribers) storeServerChannel.publish(event);
  };

  const probe = async (server: PostgresServer): Promise<SessionState | string> => {
    const client = new pg.Client({
      connectionString: serverUrl(url, server),
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ standby: boolean; ro: string }>(
        "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro",
      );
      return { standby: rows[0]?.standby === true, readOnly: rows[0]?.ro === 'on' };
    } catch (err) {
      return reason(err);
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  const choose = async (): Promise<pg.Pool> => {
    const seen: string[] = [];
    const usable: PostgresServer[] = [];
    let chosen: PostgresServer | undefined;
    for (const server of url.servers) {
      const state = await probe(server);
      if (typeof state === 'string') {
        seen.push(`${serverName(server)}: ${state}`);
        continue;
      }
      if (acceptable(mode, state)) {
        chosen = server;
        break;
      }
      usable.push(server);
      seen.push(
        `${serverName(server)}: ${state.standby ? 'a standby' : state.readOnly ? 'read-only' : 'read-write'}`,
      );
    }
    // prefer-standby: no standby among them, so "try again in any mode".
    if (!chosen && mode === 'prefer-standby') chosen = usable[0];
    if (!chosen) {
      const error = new NoServerError(
        `no PostgreSQL server of ${describePostgresUrl(url)} is ${mode === 'any' ? 'reachable' : mode} ` +
          `(target_session_attrs=${mode}): ${seen.join('; ')}`,
      );
      refused = { at: Date.now(), error };
      publish({ kind: 'none', reason: error.message });
      throw error;
    }
    const pool = new pg.Pool({
      connectionString: serverUrl(url, chosen),
      max: poolSize,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    // An idle client whose server goes away: that server is let go (the next query chooses again).
    pool.on('error', (err) => source.failed(pool, err));
    if (closed) {
      await pool.end().catch(() => undefined);
      throw new Error('Cannot use a pool after calling end on the pool');
    }
    current = { pool, server: chosen };
    refused = undefined;
    const name = serverName(chosen);
    publish({ kind: 'chosen', server: name, ...(previous && previous !== name ? { previous } : {}) });
    previous = name;
    return pool;
  };

  const source: PoolSource = {
    async pool() {
      if (current) return current.pool;
      if (closed) throw new Error('Cannot use a pool after calling end on the pool');
      if (refused && Date.now() - refused.at < RECHOOSE_AFTER_MS) throw refused.error;
      choosing ??= choose().finally(() => (choosing = undefined));
      return choosing;
    },
    failed(pool, err) {
      if (current?.pool !== pool || !causes(err).some(isUnavailable)) return;
      publish({ kind: 'lost', server: serverName(current.server), reason: reason(err) });
      current = undefined;
      // Queries running on it end as they will; its idle connections are closed.
      pool.end().catch(() => undefined);
    },
    retryable(pool, err) {
      // Nothing reached a server: the connection was refused, or the pool had been let go meanwhile.
      const code = (err as { code?: unknown }).code;
      return (
        current?.pool !== pool &&
        (code === 'ECONNREFUSED' || /^Cannot use a pool after calling end/.test((err as Error).message ?? ''))
      );
    },
    async ping(pool) {
      const { rows } = await pool.query<{ standby: boolean; ro: string }>(
        "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro",
      );
      const state = { standby: rows[0]?.standby === true, readOnly: rows[0]?.ro === 'on' };
      if (mode === 'prefer-standby' || acceptable(mode, state)) return;
      // Still up but no longer what was asked (a primary demoted, a standby promoted): choose again.
      const gone = Object.assign(new Error(`the server is no longer ${mode}`), { code: '25006' });
      source.failed(pool, gone);
      await (await source.pool()).query('SELECT 1');
    },
    stats: () =>
      current
        ? { total: current.pool.totalCount, idle: current.pool.idleCount, waiting: current.pool.waitingCount }
        : { total: 0, idle: 0, waiting: 0 },
    async close() {
      closed = true;
      await choosing?.catch(() => undefined);
      const pool = current?.pool;
      current = undefined;
      await pool?.end();
    },
  };
  return source;
}
