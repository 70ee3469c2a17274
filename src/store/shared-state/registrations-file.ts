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
   * The least time between two writes now: `intervalMs`, or more when the last snapshot took long to encode or
   * was large — the writes take at most `MAX_EVENT_LOOP_SHARE` of the event loop and `MAX_WRITE_BYTES_PER_SECOND`
   * of the disk, whatever the number of bindings.
   */
  readonly spacingMs: number;
  /** Writes now if anything changed since the last write; resolves once the file is on disk. */
  flush(): Promise<void>;
  /** No more timed writes; the last changes are written before it resolves. */
  close(): Promise<void>;
}

/**
 * The share of the event loop the snapshots may take: encoding a binding costs about 3 µs and handing its text
 * to the file ~0.3 µs, so the next write waits at least the snapshot's cost divided by this share.
 */
export const MAX_EVENT_LOOP_SHARE = 0.05;

/**
 * The bytes a second the snapshots may write on average: with the bindings' texts kept from one write to the
 * next, encoding no longer spaces the writes of a large snapshot (100,000 bindings, ~25 MB, are written every
 * ~6 s rather than every second).
 */
export const MAX_WRITE_BYTES_PER_SECOND = 4 * 2 ** 20;

/** Bindings encoded and written at a time (about 3 ms of encoding). */
const WRITE_SLICE = 1000;

/**
 * Write-behind persistence of the bindings, as Kamailio's usrloc does in its DB modes: changes mark the state
 * dirty, a timer writes the whole snapshot at most once per `intervalMs` (so a REGISTER flood costs at most one
 * write a second, whatever its rate) — or less often when there are so many bindings that writing them would
 * take more than `MAX_EVENT_LOOP_SHARE` of the event loop or `MAX_WRITE_BYTES_PER_SECOND` (100,000 bindings: a
 * write every ~6 s); only the bindings changed since the last write are encoded again — and
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
  /**
   * Each binding's text as last written, by the binding object: a binding store replaces a binding with a new
   * object when it changes (a refresh) and never changes one in place, so only the bindings changed since the
   * last write are encoded again (a REGISTER flood refreshing 2,000 of 10,000 bindings a second encodes 2,000,
   * not 10,000). A binding that is gone takes its text with it.
   */
  const encoded = new WeakMap<Binding, string>();
  const encode = (entry: PersistedBinding): string => {
    let text = encoded.get(entry.binding);
    if (text === undefined) {
      text = JSON.stringify(entry);
      encoded.set(entry.binding, text);
    }
    return text;
  };

  const write = async () => {
    dirty = false;
    lastWriteAt = Date.now();
    const now = Date.now();
    const entries = options.snapshot();
    let encodingMs = 0;
    let bytes = 0;
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
          text += `${written++ === 0 ? '' : ','}${encode(entry)}`;
        }
        // The text's conversion to bytes happens in this call, on the event loop: counted with the encoding.
        const writing = text ? handle.write(text) : undefined;
        encodingMs += performance.now() - started;
        bytes += text.length;
        if (writing) await writing;
      }
      await handle.write(']}');
      await handle.sync();
    } finally {
      await handle.close();
    }
    spacingMs = Math.max(
      intervalMs,
      encodingMs / MAX_EVENT_LOOP_SHARE,
      (bytes / MAX_WRITE_BYTES_PER_SECOND) * 1000,
    );
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
