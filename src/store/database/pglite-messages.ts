/**
 * The messages between the gateway's thread and the worker thread that owns PGlite (pglite-worker.ts,
 * pglite-thread-database.ts). Values cross by structured clone: Dates, Uint8Arrays, plain objects and bigints
 * arrive as they left.
 */

/** What the worker is asked: `tx` names an open transaction (the statement runs inside it). */
export type PgliteRequest =
  | { id: number; op: 'query'; sql: string; params?: readonly unknown[]; tx?: number }
  | { id: number; op: 'exec'; sql: string; tx?: number }
  | { id: number; op: 'begin'; tx: number }
  | { id: number; op: 'end'; tx: number; commit: boolean }
  | { id: number; op: 'ping' }
  | { id: number; op: 'close' };

/** A driver error as data: its message, name, stack and every string or number field (code, detail, …). */
export interface SerializedError {
  message: string;
  stack?: string;
  fields: Record<string, string | number>;
}

export type PgliteReply =
  { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: SerializedError };

/** The worker's first message: PGlite is open, or could not be opened. */
export type PgliteOpened = { opened: true } | { opened: false; error: SerializedError };

export interface PgliteWorkerData {
  dataDir: string;
  templateFile?: string;
}

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
