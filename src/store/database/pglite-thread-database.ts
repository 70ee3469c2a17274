import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { Database, Queryable, QueryResult } from './database.js';
import { deserializeError, type PgliteReply, type PgliteRequest } from './pglite-messages.js';
import { observed } from './store-diagnostics.js';

/**
 * A worker thread running pglite-worker: the built .js beside this file, or run from source (tsx: tests,
 * benchmarks) the .ts one, with tsx registered in the thread first (Node 20 does not run `--import` hooks in
 * workers).
 */
function startWorker(resourceLimits?: ResourceLimits): Worker {
  const options = resourceLimits ? { resourceLimits } : {};
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./pglite-worker.js', import.meta.url), options);
  const entry = JSON.stringify(new URL('./pglite-worker.ts', import.meta.url).href);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return new Worker(`import(${tsx}).then((tsx) => { tsx.register(); return import(${entry}); });`, {
    ...options,
    eval: true,
  });
}

/** What a closed PGlite says, in the thread as before (a `STORE_UNAVAILABLE` at the store boundary). */
const CLOSED = new Error('PGlite is closed');

/** A request without its id (given when it is sent). */
type Request = PgliteRequest extends infer R ? (R extends PgliteRequest ? Omit<R, 'id'> : never) : never;

/**
 * One worker thread and the requests waiting for its answers. The thread keeps the process alive only while a
 * request is pending. When it stops (a crash, an exit), every pending and later request fails with
 * `PGlite worker stopped: …`.
 */
interface Host {
  send<T>(request: Request): Promise<T>;
  /** Requests sent and not answered yet. */
  pending(): number;
  /** Why it takes no more requests (it stopped), if so. */
  stopped(): Error | undefined;
  terminate(): Promise<void>;
}

function startHost(resourceLimits?: ResourceLimits): Host {
  const worker = startWorker(resourceLimits);
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  let nextId = 1;
  let stopped: Error | undefined;
  const fail = (err: Error) => {
    stopped ??= err;
    for (const { reject } of pending.values()) reject(stopped);
    pending.clear();
  };
  worker.on('message', (message: PgliteReply) => {
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (pending.size === 0) worker.unref();
    if (message.ok) waiting.resolve(message.value);
    else waiting.reject(deserializeError(message.error));
  });
  worker.on('error', (err) => fail(new Error(`PGlite worker stopped: ${err.message}`, { cause: err })));
  worker.on('exit', (code) => fail(new Error(`PGlite worker stopped (exit code ${code})`)));
  worker.unref();
  return {
    send<T>(request: Request): Promise<T> {
      if (stopped) return Promise.reject(stopped);
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        if (pending.size === 0) worker.ref();
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        try {
          worker.postMessage({ ...request, id });
        } catch (err) {
          // A parameter that cannot be cloned (a function, a symbol): this request only.
          pending.delete(id);
          if (pending.size === 0) worker.unref();
          reject(err as Error);
        }
      });
    },
    pending: () => pending.size,
    stopped: () => stopped,
    async terminate() {
      await worker.terminate();
    },
  };
}

/** The process's PGlite worker, shared by its databases; a new one after it stopped. */
let shared: Host | undefined;
let nextDb = 1;

/**
 * The embedded PGlite run by a worker thread (pglite-worker.ts): PostgreSQL's WebAssembly runs there, off the
 * event loop of the SIP gateway, the API and the jobs; each query and each step of a transaction is one message
 * there and one back. The worker runs a database's requests one at a time in the order sent, a transaction
 * holding PGlite until it ends (as in the thread before). Errors come back with their fields (the SQLSTATE in
 * `code`). `close` answers everything sent before it. A worker that stops (a crash, an exit) fails every pending
 * and later request with `PGlite worker stopped: …` (the store is unavailable), never leaves them waiting.
 * The databases of a process share one worker (PGlite's module and WebAssembly compiled once), unless
 * `resourceLimits` are given: then the database has a worker of its own with those heap limits.
 */
export async function openPgliteThread(
  dataDir: string,
  templateFile?: string,
  options: {
    /** A worker of its own with these JavaScript heap limits (PostgreSQL's WebAssembly memory is outside). */
    resourceLimits?: ResourceLimits;
  } = {},
): Promise<Database> {
  const own = options.resourceLimits !== undefined;
  let host: Host;
  if (own) host = startHost(options.resourceLimits);
  else {
    if (!shared || shared.stopped()) shared = startHost();
    host = shared;
  }
  const db = nextDb++;
  try {
    await host.send({ op: 'open', db, dataDir, ...(templateFile ? { templateFile } : {}) });
  } catch (err) {
    if (own) await host.terminate();
    throw err;
  }
  let nextTx = 1;
  let closing: Promise<void> | undefined;
  /** This database's requests in the worker: busy while any is, the rest waiting behind it. */
  let inFlight = 0;
  const send = async <T>(request: Request): Promise<T> => {
    if (closing && request.op !== 'close') throw host.stopped() ?? CLOSED;
    inFlight++;
    try {
      return await host.send<T>(request);
    } finally {
      inFlight--;
    }
  };
  const queryable = (tx?: number): Queryable => {
    const timed = observed('pglite', (sql: string, params?: readonly unknown[]) =>
      send<QueryResult<unknown>>({
        op: 'query',
        db,
        sql,
        ...(params ? { params } : {}),
        ...(tx ? { tx } : {}),
      }),
    );
    return {
      // The rows are what the worker's PGlite made of them: the caller names their shape, as with PGlite.
      query: <R>(sql: string, params?: readonly unknown[]) => timed(sql, params) as Promise<QueryResult<R>>,
      exec: (sql) => send<void>({ op: 'exec', db, sql, ...(tx ? { tx } : {}) }),
    };
  };
  return {
    kind: 'pglite',
    ...queryable(),
    async transaction(fn) {
      const tx = nextTx++;
      await send({ op: 'begin', db, tx });
      let value;
      try {
        value = await fn(queryable(tx));
      } catch (err) {
        // The function's error is the answer; a rollback that fails too (a worker gone) adds nothing to it.
        await send({ op: 'end', db, tx, commit: false }).catch(() => undefined);
        throw err;
      }
      await send({ op: 'end', db, tx, commit: true });
      return value;
    },
    // PGlite's one connection, busy while the worker has a request of this database, and the requests queued
    // behind it: the embedded store's back-pressure in voxgate_store_pool_connections.
    pool: () => ({
      total: 1,
      idle: inFlight === 0 ? 1 : 0,
      waiting: Math.max(0, inFlight - 1),
      max: 1,
    }),
    ping: () => send<void>({ op: 'ping', db }),
    close() {
      // Requests sent before this one are answered first (the worker runs them in order); later ones are refused.
      closing ??= (async () => {
        if (host.stopped()) return;
        await send({ op: 'close', db });
        if (own) await host.terminate();
      })();
      return closing;
    },
  };
}
