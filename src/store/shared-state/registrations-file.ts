import { existsSync, readFileSync, renameSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { detachedString } from './detached-string.js';
import type { Binding } from './shared-state.js';

/** One binding of an address-of-record, as the registrations file holds it. */
export interface PersistedBinding {
  aor: string;
  binding: Binding;
}

const FORMAT = 'voxgate-registrations';
const JOURNAL_FORMAT = 'voxgate-registrations-journal';
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
  // By AOR and contact: the journal's records replace or remove what the snapshot holds.
  const latest = new Map<string, PersistedBinding>();
  const keyOf = (aor: string, contact: string) => `${aor}\u0000${contact}`;
  let invalid = 0;
  for (const entry of parsed.bindings as unknown[]) {
    if (!isPersistedBinding(entry)) invalid++;
    else latest.set(keyOf(entry.aor, entry.binding.contact), entry);
  }
  if (typeof parsed.journal === 'string') {
    for (const record of readJournal(journalFileOf(file), parsed.journal)) {
      if (isRemoval(record)) latest.delete(keyOf(record.aor, record.removed));
      else if (isPersistedBinding(record)) latest.set(keyOf(record.aor, record.binding.contact), record);
      else invalid++;
    }
  }
  const entries: PersistedBinding[] = [];
  let expired = 0;
  for (const entry of latest.values()) {
    if (entry.binding.expiresAt <= now) expired++;
    else entries.push(entry);
  }
  return { entries, expired, invalid };
}

/** The journal kept beside a registrations file: the changes made since its snapshot was written. */
export const journalFileOf = (file: string): string => `${file}.journal`;

/** A journal record: the binding of `aor` whose contact is `removed` is gone. */
interface Removal {
  aor: string;
  removed: string;
}

const isRemoval = (v: unknown): v is Removal =>
  isObject(v) && typeof v.aor === 'string' && typeof v.removed === 'string';

/**
 * The records of the journal written for the snapshot's `generation`, in order. A journal of another generation
 * (left by a crash between a snapshot's rename and its journal's) or none is no record; a last line cut short by
 * a crash in the middle of an append is left out.
 */
function readJournal(journal: string, generation: string): unknown[] {
  if (!existsSync(journal)) return [];
  const lines = readFileSync(journal, 'utf8').split('\n');
  const records: unknown[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(lines[i]!);
    } catch {
      continue;
    }
    if (i === 0) {
      if (!isObject(record) || record.format !== JOURNAL_FORMAT || record.generation !== generation)
        return [];
      continue;
    }
    records.push(record);
  }
  return records;
}

export interface RegistrationsWriter {
  /**
   * Something changed: written at most once per `spacingMs` (write-behind). With the binding's AOR and contact
   * (and the writer's `lookup`), only that binding is written, appended to the journal; without, the whole
   * snapshot is written again.
   */
  changed(aor?: string, contact?: string): void;
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
 * The share of the event loop the snapshots may take: taking, encoding and converting a snapshot to bytes
 * costs about 3 ms per thousand bindings, so the next write waits at least its cost divided by this share.
 */
export const MAX_EVENT_LOOP_SHARE = 0.05;

/** Bindings encoded and written at a time (about 3 ms of encoding). */
const WRITE_SLICE = 1000;

/**
 * Write-behind persistence of the bindings, as Kamailio's usrloc does in its DB modes: changes mark the state
 * dirty, a timer writes them at most once per `intervalMs` (so a REGISTER flood costs at most one write a
 * second, whatever its rate) — or less often when writing would take more than `MAX_EVENT_LOOP_SHARE` of the
 * event loop — and `close` writes what is left (SIGTERM loses nothing; a crash loses at most the last
 * `spacingMs`).
 *
 * A write is one of two kinds. A snapshot of every binding goes to a temporary file in the same folder, is
 * fsynced, and replaces the file with a rename, so a reader — the next start — sees the old file or the new
 * one, never half of one. Between snapshots, the bindings changed since the last write (named to `changed`,
 * read back through `lookup`) are appended to the journal beside the file (`journalFileOf`), one JSON line
 * each, and fsynced: a refresh of 2,000 of 10,000 bindings encodes 2,000, not 10,000. Each snapshot names a new
 * journal generation and starts its journal empty, so a journal left from before a snapshot is never replayed
 * over it; once the journal holds twice the snapshot's bindings (at least `WRITE_SLICE`), the next write is a
 * snapshot again. The first write and the last (`close`) are snapshots, the last without a journal.
 */
export function createRegistrationsWriter(options: {
  file: string;
  intervalMs: number;
  /** The bindings to write now (the writer drops the expired ones). */
  snapshot: () => PersistedBinding[];
  /** The binding of `aor` with this contact now, if any: what `changed(aor, contact)` appends to the journal. */
  lookup?: (aor: string, contact: string) => Binding | undefined;
  onError?: (err: unknown) => void;
}): RegistrationsWriter {
  const { file, intervalMs } = options;
  const tmp = `${file}.${process.pid}.tmp`;
  const journalFile = journalFileOf(file);
  const journalTmp = `${journalFile}.${process.pid}.tmp`;
  /** A snapshot is due (a change without a binding named, a failed write, or no journal yet). */
  let whole = false;
  /**
   * Bindings changed since the last write, by AOR: its contact, or a set of them when several changed (a phone
   * has one: no set made for each REGISTER). An AOR is kept as a copy of its own: the registrar's is cut from
   * the request, whose text it would keep alive until the write.
   */
  let pending = new Map<string, string | Set<string>>();
  let closed = false;
  let lastWriteAt = 0;
  let spacingMs = intervalMs;
  let timer: NodeJS.Timeout | undefined;
  /** The journal of the last snapshot, open for appending; absent before the first snapshot. */
  let journal: FileHandle | undefined;
  let generations = 0;
  /** Records appended to the journal since its snapshot, and the bindings that snapshot held. */
  let journaled = 0;
  let snapshotSize = 0;
  /** The write in progress (writes never overlap: each waits for the one before). */
  let chain: Promise<void> = Promise.resolve();

  const syncFolder = async () => {
    // A rename is durable once the folder is synced (not possible on every platform).
    try {
      const folder = await open(dirname(file), 'r');
      await folder.sync().finally(() => folder.close());
    } catch {
      // best effort
    }
  };

  const writeSnapshot = async (): Promise<number> => {
    whole = false;
    pending = new Map();
    const now = Date.now();
    // What the write costs the event loop: taking the snapshot, encoding it, and the text's conversion to
    // bytes, which `handle.write` does on this thread before its promise is returned (the file system's part
    // is on libuv's threads). All of it counts towards MAX_EVENT_LOOP_SHARE.
    let started = performance.now();
    const entries = options.snapshot();
    let encodingMs = performance.now() - started;
    // The journal the next appends go to: none after close.
    const generation = closed ? undefined : `${now}-${process.pid}-${++generations}`;
    let written = 0;
    const handle = await open(tmp, 'w', 0o600);
    try {
      // Written in slices of WRITE_SLICE bindings, the event loop free between them: neither one string of
      // every binding (tens of MiB at 100,000, then a Buffer copy of it) nor one long pause of the loop.
      const head = {
        format: FORMAT,
        version: VERSION,
        savedAt: new Date(now).toISOString(),
        ...(generation ? { journal: generation } : {}),
      };
      await handle.write(`${JSON.stringify(head).slice(0, -1)},"bindings":[`);
      for (let i = 0; i < entries.length; i += WRITE_SLICE) {
        started = performance.now();
        let text = '';
        const end = Math.min(entries.length, i + WRITE_SLICE);
        for (let j = i; j < end; j++) {
          const entry = entries[j]!;
          if (entry.binding.expiresAt <= now) continue;
          text += `${written++ === 0 ? '' : ','}${JSON.stringify(entry)}`;
        }
        const writing = text ? handle.write(text) : undefined;
        encodingMs += performance.now() - started;
        await writing;
      }
      await handle.write(']}');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    await syncFolder();
    // The file now names the new generation: the old journal is no longer read, and is replaced.
    const old = journal;
    journal = undefined;
    await old?.close();
    if (generation) {
      const fresh = await open(journalTmp, 'w', 0o600);
      try {
        await fresh.write(`${JSON.stringify({ format: JOURNAL_FORMAT, generation })}\n`);
        await fresh.sync();
      } finally {
        await fresh.close();
      }
      await rename(journalTmp, journalFile);
      await syncFolder();
      journal = await open(journalFile, 'a');
    } else {
      await unlink(journalFile).catch(() => undefined);
    }
    journaled = 0;
    snapshotSize = written;
    return encodingMs;
  };

  const appendJournal = async (to: FileHandle): Promise<number> => {
    const changes = pending;
    pending = new Map();
    let encodingMs = 0;
    let text = '';
    let lines = 0;
    let started = performance.now();
    for (const [aor, changed] of changes) {
      for (const contact of typeof changed === 'string' ? [changed] : changed) {
        const binding = options.lookup?.(aor, contact);
        text += `${binding ? JSON.stringify({ aor, binding }) : JSON.stringify({ aor, removed: contact })}\n`;
        if (++lines % WRITE_SLICE === 0) {
          const writing = to.write(text);
          encodingMs += performance.now() - started;
          text = '';
          await writing;
          started = performance.now();
        }
      }
    }
    const writing = text ? to.write(text) : undefined;
    encodingMs += performance.now() - started;
    await writing;
    await to.sync();
    journaled += lines;
    return encodingMs;
  };

  const write = async () => {
    lastWriteAt = Date.now();
    const compact = journaled >= Math.max(WRITE_SLICE, 2 * snapshotSize);
    const encodingMs =
      whole || !journal || compact || closed ? await writeSnapshot() : await appendJournal(journal);
    spacingMs = Math.max(intervalMs, encodingMs / MAX_EVENT_LOOP_SHARE);
  };
  // A journal still open at close is folded into a last snapshot: a stopped gateway leaves one file.
  const dirty = () => whole || pending.size > 0 || (closed && journal !== undefined);
  const run = (): Promise<void> => {
    chain = chain.then(async () => {
      if (!dirty()) return;
      try {
        await write();
      } catch (err) {
        // What this write held is no longer pending: the next write is a whole snapshot.
        whole = true;
        await unlink(tmp).catch(() => undefined);
        await unlink(journalTmp).catch(() => undefined);
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
    changed(aor, contact) {
      if (aor === undefined || contact === undefined || !options.lookup) whole = true;
      else {
        const contacts = pending.get(aor);
        if (contacts === undefined) pending.set(detachedString(aor), contact);
        else if (typeof contacts !== 'string') contacts.add(contact);
        else if (contacts !== contact) pending.set(aor, new Set([contacts, contact]));
      }
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
