import { existsSync, readFileSync, renameSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Binding } from './shared-state.js';

/** One binding of an address-of-record, as the registrations file holds it. */
export interface PersistedBinding {
  aor: string;
  binding: Binding;
}

const FORMAT = 'voxgate-registrations';
const VERSION = 1;
const TRANSPORTS = new Set(['udp', 'tcp', 'tls', 'ws', 'wss']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The fields every binding needs; anything else is carried as it was written. */
function isPersistedBinding(v: unknown): v is PersistedBinding {
  if (!isObject(v) || typeof v.aor !== 'string' || !isObject(v.binding)) return false;
  const b = v.binding;
  return (
    typeof b.contact === 'string' &&
    typeof b.expiresAt === 'number' &&
    isObject(b.source) &&
    typeof b.source.address === 'string' &&
    typeof b.source.port === 'number' &&
    typeof b.transport === 'string' &&
    TRANSPORTS.has(b.transport) &&
    typeof b.callId === 'string' &&
    typeof b.cseq === 'number' &&
    typeof b.tenantId === 'string'
  );
}

export interface LoadedRegistrations {
  /** Unexpired bindings. */
  entries: PersistedBinding[];
  /** Bindings left out because they had expired while the process was down. */
  expired: number;
  /** Entries left out because they were not bindings. */
  invalid: number;
  /** Set when the file could not be read as a registrations file; it was moved aside to `movedTo`. */
  error?: { message: string; movedTo?: string };
}

/**
 * Reads a registrations file written by `createRegistrationsWriter`: the bindings still unexpired at `now`.
 * A missing file is an empty one. A file that is not a registrations file is moved aside (`<file>.corrupt-<ms>`)
 * rather than overwritten by the next write, and the process starts without registrations: phones register
 * again within their refresh interval, which is better than a gateway that cannot start.
 */
export function loadRegistrations(file: string, now = Date.now()): LoadedRegistrations {
  if (!existsSync(file)) return { entries: [], expired: 0, invalid: 0 };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
    if (!isObject(parsed) || parsed.format !== FORMAT || parsed.version !== VERSION) {
      throw new Error(`not a version ${VERSION} ${FORMAT} file`);
    }
    if (!Array.isArray(parsed.bindings)) throw new Error('no bindings array');
  } catch (err) {
    const movedTo = `${file}.corrupt-${now}`;
    try {
      renameSync(file, movedTo);
      return { entries: [], expired: 0, invalid: 0, error: { message: (err as Error).message, movedTo } };
    } catch {
      return { entries: [], expired: 0, invalid: 0, error: { message: (err as Error).message } };
    }
  }
  const entries: PersistedBinding[] = [];
  let expired = 0;
  let invalid = 0;
  for (const entry of parsed.bindings as unknown[]) {
    if (!isPersistedBinding(entry)) invalid++;
    else if (entry.binding.expiresAt <= now) expired++;
    else entries.push(entry);
  }
  return { entries, expired, invalid };
}

export interface RegistrationsWriter {
  /** Something changed: the file is rewritten at most once per `spacingMs` (write-behind). */
  changed(): void;
  /**
   * The least time between two writes now: `intervalMs`, or more when the last snapshot took long to encode —
   * the writes take at most `MAX_EVENT_LOOP_SHARE` of the event loop, whatever the number of bindings.
   */
  readonly spacingMs: number;
  /** Writes now if anything changed since the last write; resolves once the file is on disk. */
  flush(): Promise<void>;
  /** No more timed writes; the last changes are written before it resolves. */
  close(): Promise<void>;
}

/**
 * The share of the event loop the snapshots may take: encoding a snapshot costs about 3 ms per thousand
 * bindings, so the next write waits at least its cost divided by this share.
 */
export const MAX_EVENT_LOOP_SHARE = 0.05;

/** Bindings encoded and written at a time (about 3 ms of encoding). */
const WRITE_SLICE = 1000;

/**
 * Write-behind persistence of the bindings, as Kamailio's usrloc does in its DB modes: changes mark the state
 * dirty, a timer writes the whole snapshot at most once per `intervalMs` (so a REGISTER flood costs at most one
 * write a second, whatever its rate) — or less often when there are so many bindings that encoding them would
 * take more than `MAX_EVENT_LOOP_SHARE` of the event loop (100,000 bindings: a write every few seconds) — and
 * `close` writes what is left (SIGTERM loses nothing; a crash loses at most the last `spacingMs`). Each write goes to a temporary file in the same folder, is fsynced, and replaces the
 * file with a rename, so a reader — the next start — sees the old file or the new one, never half of one.
 */
export function createRegistrationsWriter(options: {
  file: string;
  intervalMs: number;
  /** The bindings to write now (the writer drops the expired ones). */
  snapshot: () => PersistedBinding[];
  onError?: (err: unknown) => void;
}): RegistrationsWriter {
  const { file, intervalMs } = options;
  const tmp = `${file}.${process.pid}.tmp`;
  let dirty = false;
  let closed = false;
  let lastWriteAt = 0;
  let spacingMs = intervalMs;
  let timer: NodeJS.Timeout | undefined;
  /** The write in progress (writes never overlap: each waits for the one before). */
  let chain: Promise<void> = Promise.resolve();

  const write = async () => {
    dirty = false;
    lastWriteAt = Date.now();
    const now = Date.now();
    const entries = options.snapshot();
    let encodingMs = 0;
    const handle = await open(tmp, 'w', 0o600);
    try {
      // Written in slices of WRITE_SLICE bindings, the event loop free between them: neither one string of
      // every binding (tens of MiB at 100,000, then a Buffer copy of it) nor one long pause of the loop.
      const head = { format: FORMAT, version: VERSION, savedAt: new Date(now).toISOString() };
      await handle.write(`${JSON.stringify(head).slice(0, -1)},"bindings":[`);
      let written = 0;
      for (let i = 0; i < entries.length; i += WRITE_SLICE) {
        const started = performance.now();
        let text = '';
        for (const entry of entries.slice(i, i + WRITE_SLICE)) {
          if (entry.binding.expiresAt <= now) continue;
          text += `${written++ === 0 ? '' : ','}${JSON.stringify(entry)}`;
        }
        encodingMs += performance.now() - started;
        if (text) await handle.write(text);
      }
      await handle.write(']}');
      await handle.sync();
    } finally {
      await handle.close();
    }
    spacingMs = Math.max(intervalMs, encodingMs / MAX_EVENT_LOOP_SHARE);
    await rename(tmp, file);
    // The rename itself is durable once the folder is synced (not possible on every platform).
    try {
      const folder = await open(dirname(file), 'r');
      await folder.sync().finally(() => folder.close());
    } catch {
      // best effort
    }
  };
  const run = (): Promise<void> => {
    chain = chain.then(async () => {
      if (!dirty) return;
      try {
        await write();
      } catch (err) {
        dirty = true;
        await unlink(tmp).catch(() => undefined);
        options.onError?.(err);
        if (!closed) schedule();
      }
    });
    return chain;
  };
  const schedule = () => {
    if (timer || closed) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        run().catch(() => undefined); // a failed write is reported and retried inside `run`
      },
      Math.max(0, lastWriteAt + spacingMs - Date.now()),
    );
    timer.unref();
  };
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    return run();
  };
  return {
    changed() {
      dirty = true;
      schedule();
    },
    get spacingMs() {
      return spacingMs;
    },
    flush,
    close() {
      closed = true;
      return flush();
    },
  };
}
