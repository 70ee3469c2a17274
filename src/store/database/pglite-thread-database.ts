import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { Database, Queryable, QueryResult } from './database.js';
import {
  deserializeError,
  type PgliteOpened,
  type PgliteReply,
  type PgliteRequest,
  type PgliteWorkerData,
} from './pglite-messages.js';
import { observed } from './store-diagnostics.js';

/**
 * The worker thread running pglite-worker: the built .js beside this file, or run from source (tsx: tests,
 * benchmarks) the .ts one, with tsx registered in the thread first (Node 20 does not run `--import` hooks in
 * workers).
 */
function startWorker(data: PgliteWorkerData, resourceLimits?: ResourceLimits): Worker {
  const options = { workerData: data, ...(resourceLimits ? { resourceLimits } : {}) };
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
 * The embedded PGlite in a worker thread (pglite-worker.ts): PostgreSQL's WebAssembly runs there, off the
 * event loop of the SIP gateway, the API and the jobs; each query and each step of a transaction is one message
 * there and one back. The worker runs them one at a time in the order sent, a transaction holding PGlite until
 * it ends (as in the thread before). Errors come back with their fields (the SQLSTATE in `code`). A worker that
 * stops (a crash, an exit) fails every pending and later request with `PGlite worker stopped: …` (the store is
 * unavailable), never leaves them waiting. The thread keeps the process alive only while a request is pending.
 */
export async function openPgliteThread(
  dataDir: string,
  templateFile?: string,
  options: {
    /** The worker's JavaScript heap limits (PostgreSQL's WebAssembly memory is outside them). */
    resourceLimits?: ResourceLimits;
  } = {},
): Promise<Database> {
  const worker = startWorker({ dataDir, ...(templateFile ? { templateFile } : {}) }, options.resourceLimits);
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  let nextId = 1;
  let nextTx = 1;
  /** Why nothing more can be sent: the worker stopped, or the database was closed. */
  let stopped: Error | undefined;
  let closing: Promise<void> | undefined;

  const fail = (err: Error) => {
    stopped ??= err;
    for (const { reject } of pending.values()) reject(err);
    pending.clear();
    worker.unref();
  };
  // The first message says whether PGlite opened; every later one answers a request.
  let opening: { resolve: () => void; reject: (err: Error) => void } | undefined;
  const opened = new Promise<void>((resolve, reject) => (opening = { resolve, reject }));
  worker.on('message', (message: PgliteOpened | PgliteReply) => {
    if ('opened' in message) {
      if (message.opened) opening?.resolve();
      else opening?.reject(deserializeError(message.error));
      return;
    }
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (pending.size === 0) worker.unref();
    if (message.ok) waiting.resolve(message.value);
    else waiting.reject(deserializeError(message.error));
  });
  worker.on('error', (err) => {
    const stop = new Error(`PGlite worker stopped: ${err.message}`, { cause: err });
    opening?.reject(stop);
    fail(stop);
  });
  worker.on('exit', (code) => {
    const stop = closing ? CLOSED : new Error(`PGlite worker stopped (exit code ${code})`);
    opening?.reject(stop);
    fail(stop);
  });
  await opened;
  worker.unref();

  const send = <T>(request: Request): Promise<T> => {
    if (stopped) return Promise.reject(stopped);
    if (closing && request.op !== 'close') return Promise.reject(CLOSED);
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
  };
  const queryable = (tx?: number): Queryable => {
    const timed = observed('pglite', (sql: string, params?: readonly unknown[]) =>
      send<QueryResult<unknown>>({ op: 'query', sql, ...(params ? { params } : {}), ...(tx ? { tx } : {}) }),
    );
    return {
      // The rows are what the worker's PGlite made of them: the caller names their shape, as with PGlite.
      query: <R>(sql: string, params?: readonly unknown[]) => timed(sql, params) as Promise<QueryResult<R>>,
      exec: (sql) => send<void>({ op: 'exec', sql, ...(tx ? { tx } : {}) }),
    };
  };
  return {
    kind: 'pglite',
    ...queryable(),
    async transaction(fn) {
      const tx = nextTx++;
      await send({ op: 'begin', tx });
      let value;
      try {
        value = await fn(queryable(tx));
      } catch (err) {
        // The function's error is the answer; a rollback that fails too (a worker gone) adds nothing to it.
        await send({ op: 'end', tx, commit: false }).catch(() => undefined);
        throw err;
      }
      await send({ op: 'end', tx, commit: true });
      return value;
    },
    // PGlite's one connection, busy while the worker has a request, and the requests queued behind it: the
    // embedded store's back-pressure in voxgate_store_pool_connections.
    pool: () => ({
      total: 1,
      idle: pending.size === 0 ? 1 : 0,
      waiting: Math.max(0, pending.size - 1),
      max: 1,
    }),
    ping: () => send<void>({ op: 'ping' }),
    close() {
      // Requests sent before this one are answered first (the worker runs them in order); later ones are refused.
      closing ??= (async () => {
        if (stopped) return;
        await send({ op: 'close' });
        // PGlite is closed and its files written: the thread has nothing left to do.
        await worker.terminate();
      })();
      return closing;
    },
  };
}
