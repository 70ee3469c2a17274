/**
 * The messages between the threads that use PGlite and the worker thread that runs it (pglite-worker.ts,
 * pglite-thread-database.ts). One worker runs every PGlite database of the process, each named by `db`.
 * Values cross by structured clone: Dates, Uint8Arrays, plain objects and bigints arrive as they left.
 */

/** What the worker is asked: `tx` names an open transaction of `db` (the statement runs inside it). */
export type PgliteRequest =
  | { id: number; db: number; op: 'open'; dataDir: string; templateFile?: string }
  | { id: number; db: number; op: 'query'; sql: string; params?: readonly unknown[]; tx?: number }
  | { id: number; db: number; op: 'exec'; sql: string; tx?: number }
  | { id: number; db: number; op: 'begin'; tx: number }
  | { id: number; db: number; op: 'end'; tx: number; commit: boolean }
  | { id: number; db: number; op: 'ping' }
  | { id: number; db: number; op: 'close' };

/** A driver error as data: its message, stack and every string or number field (name, code, detail, …). */
export interface SerializedError {
  message: string;
  stack?: string;
  fields: Record<string, string | number>;
}

export type PgliteReply =
  { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: SerializedError };

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { message: String(err), fields: {} };
  const fields: Record<string, string | number> = { name: err.name };
  for (const [key, value] of Object.entries(err)) {
    if (typeof value === 'string' || typeof value === 'number') fields[key] = value;
  }
  return { message: err.message, ...(err.stack ? { stack: err.stack } : {}), fields };
}

/** The error again on this side: an Error with the same message and fields (the SQLSTATE in `code`). */
export function deserializeError(data: SerializedError): Error {
  const err = new Error(data.message);
  Object.assign(err, data.fields);
  if (data.stack) err.stack = data.stack;
  return err;
}
