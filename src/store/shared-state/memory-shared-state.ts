import {
  DEFAULT_MAX_COUNTERS,
  DEFAULT_STREAM_MAX_AGE_MS,
  DEFAULT_STREAM_MAX_BYTES,
  DEFAULT_STREAM_MAXLEN,
  SharedStateError,
  STREAM_ENTRY_OVERHEAD,
  type Binding,
  type LiveCall,
  type SharedState,
  type StreamEntry,
  type TrunkStatus,
} from './shared-state.js';
import {
  createRegistrationsWriter,
  loadRegistrations,
  type LoadedRegistrations,
  type PersistedBinding,
} from './registrations-file.js';
import { detachedString } from './detached-string.js';
import { StreamSlab } from './stream-slab.js';

/**
 * A deep copy of plain data with every string of 13 characters or more copied (V8 slices shorter ones never).
 * A string is copied by joining it to one character and cutting that off: the join is flattened into a new
 * string holding only these characters, which the cut then views (measured: a 40-character piece of a 100 kB
 * string kept 100 kB alive before, 0.5 kB after; a third to a tenth of the time JSON's round trip took).
 */
function copyStrings(value: unknown): unknown {
  if (typeof value === 'string') return detachedString(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copyStrings);
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = copyStrings((value as Record<string, unknown>)[key]);
  return copy;
}

/**
 * Distinct values kept by `intern` at most; when full it starts over (the values already shared stay shared,
 * new ones are interned afresh).
 */
const INTERNED_MAX = 4096;

/**
 * One stored binding, its strings detached. The values many bindings repeat — tenant, gateway, user agent, a
 * NAT's public address — are one string each (interned); absent options take no slot. At 100,000 bindings the
 * store holds ~600 bytes of heap per binding instead of ~830 (bench:register measures the whole process).
 */
function bindingStore(): (b: Binding, previous?: Binding) => Binding {
  const interned = new Map<string, string>();
  const intern = (value: string): string => {
    let kept = interned.get(value);
    if (kept === undefined) {
      if (interned.size >= INTERNED_MAX) interned.clear();
      kept = detachedString(value);
      interned.set(kept, kept);
    }
    return kept;
  };
  // A refresh mostly repeats the binding it replaces: the same contact and, by RFC 3261 §10.2, the same Call-ID
  // ("All registrations from a UAC SHOULD use the same Call-ID header field value for registrations sent to a
  // particular registrar"). Its strings, already detached, are kept.
  const reused = (value: string, before: string | undefined) =>
    value === before ? before : detachedString(value);
  return (b, previous) => {
    const stored: Binding = {
      contact: reused(b.contact, previous?.contact),
      expiresAt: b.expiresAt,
      source: { address: intern(b.source.address), port: b.source.port },
      transport: b.transport,
      callId: reused(b.callId, previous?.callId),
      cseq: b.cseq,
      tenantId: intern(b.tenantId),
    };
    if (b.flowId !== undefined) stored.flowId = reused(b.flowId, previous?.flowId);
    if (b.instanceId !== undefined) stored.instanceId = reused(b.instanceId, previous?.instanceId);
    if (b.q !== undefined) stored.q = b.q;
    if (b.userAgent !== undefined) stored.userAgent = intern(b.userAgent);
    if (b.gateway !== undefined) stored.gateway = intern(b.gateway);
    if (b.reach !== undefined) stored.reach = b.reach;
    return stored;
  };
}

interface Group {
  /** Index in the stream's entries of the next entry never delivered to this group. */
  next: number;
  pending: Map<string, { consumer: string; deliveredAt: number; entry: StoredEntry }>;
}

/**
 * A stream entry as kept: its id's two parts, and its fields as JSON in the stream's slab (`stream-slab.ts`):
 * off the heap, and copied off whatever the fields were cut from (a datagram's text) in one native call. A
 * consumer is given the fields parsed anew, as the Redis implementation gives them.
 */
interface StoredEntry {
  /** The id's time (epoch ms) and sequence number: `<ms>-<seq>`, as Redis makes them. */
  readonly ms: number;
  readonly seq: number;
  /** Where the JSON text is: `length` bytes from `offset` in `chunk`. */
  readonly chunk: Buffer;
  readonly offset: number;
  readonly length: number;
}

interface Stream {
  entries: StoredEntry[];
  slab: StreamSlab;
  /** Entries trimmed from the front so far: `next` indexes are shifted by it. */
  trimmed: number;
  /** What the entries cost (`entryBytes`: `streamEntryBytes` of their fields), summed. */
  bytes: number;
  lastMs: number;
  seq: number;
  groups: Map<string, Group>;
  waiters: Set<() => void>;
}

/** Where and how often the memory state keeps its registrations on disk. */
export interface RegistrationsPersistence {
  /** The registrations file (e.g. `<VOXGATE_DATA_DIR>/registrations.json`); its folder must exist. */
  file: string;
  /** At most one write per interval (default 1000 ms); `close` writes what is left. */
  intervalMs?: number;
  /** What was read at start (restored, expired, a damaged file moved aside). */
  onLoad?: (loaded: LoadedRegistrations) => void;
  /** A write failed (it is tried again an interval later). */
  onError?: (err: unknown) => void;
}

/**
 * Shared state inside one process, for the embedded mode. Same semantics as the Redis implementation (the
 * contract tests run against both); expiry is checked on read and swept periodically. With `persistence`, the
 * registrations — and only they: calls, counters and streams are about this process's life — survive a
 * restart: read from the file at start (expired ones dropped) and written behind (`registrations-file.ts`).
 */
export function createMemorySharedState(
  options: {
    streamMaxLen?: number;
    /** Bytes a stream's entries take at most (`streamEntryBytes`; default DEFAULT_STREAM_MAX_BYTES). */
    streamMaxBytes?: number;
    /**
     * Entries trimmed (by the entry or byte cap) before some consumer group was given them: events lost to that
     * group, as Redis's MAXLEN loses them. Called once per trim with the number.
     */
    onTrimmedUnread?: (stream: string, count: number) => void;
    /**
     * Stream entries older than this are dropped once every consumer group has been given them (default
     * DEFAULT_STREAM_MAX_AGE_MS).
     */
    streamMaxAgeMs?: number;
    /** Counters kept at most (default DEFAULT_MAX_COUNTERS): the least recently changed go first. */
    maxCounters?: number;
    sweepMs?: number;
    persistence?: RegistrationsPersistence;
    /** The clock (epoch ms), for tests. */
    now?: () => number;
  } = {},
): SharedState {
  const maxLen = options.streamMaxLen ?? DEFAULT_STREAM_MAXLEN;
  const maxBytes = options.streamMaxBytes ?? DEFAULT_STREAM_MAX_BYTES;
  const maxAgeMs = options.streamMaxAgeMs ?? DEFAULT_STREAM_MAX_AGE_MS;
  const maxCounters = options.maxCounters ?? DEFAULT_MAX_COUNTERS;
  const clock = options.now ?? Date.now;
  const bindings = new Map<string, Map<string, Binding>>();
  const storedBinding = bindingStore();
  const persistence = options.persistence;
  if (persistence) {
    const loaded = loadRegistrations(persistence.file);
    for (const { aor, binding } of loaded.entries) {
      let contacts = bindings.get(aor);
      if (!contacts) bindings.set(aor, (contacts = new Map()));
      contacts.set(binding.contact, binding);
    }
    persistence.onLoad?.(loaded);
  }
  const writer =
    persistence &&
    createRegistrationsWriter({
      file: persistence.file,
      intervalMs: persistence.intervalMs ?? 1000,
      snapshot: () => {
        const out: PersistedBinding[] = [];
        for (const [aor, contacts] of bindings)
          for (const binding of contacts.values()) out.push({ aor, binding });
        return out;
      },
      lookup: (aor, contact) => bindings.get(aor)?.get(contact),
      ...(persistence.onError ? { onError: persistence.onError } : {}),
    });
  const calls = new Map<string, LiveCall>();
  // The same calls by tenant: call admission counts a tenant's calls on every INVITE, in time independent of
  // how many other calls are up.
  const callsByTenant = new Map<string, Map<string, LiveCall>>();
  const unlistCall = (call: LiveCall) => {
    const mine = callsByTenant.get(call.tenantId);
    if (mine?.delete(call.callId) && mine.size === 0) callsByTenant.delete(call.tenantId);
  };
  const counters = new Map<string, { value: number; expiresAt: number }>();
  const streams = new Map<string, Stream>();
  const trunkStatuses = new Map<string, Map<string, { status: TrunkStatus; until: number }>>();
  let closed = false;

  const live = (b: Binding, now: number) => b.expiresAt > now;
  /** Copies of the live bindings of every AOR that `keep` accepts. */
  const liveWhere = (keep: (b: Binding) => boolean): { aor: string; binding: Binding }[] => {
    check();
    const now = clock();
    const out: { aor: string; binding: Binding }[] = [];
    for (const [aor, contacts] of bindings) {
      for (const b of contacts.values()) if (keep(b) && live(b, now)) out.push({ aor, binding: { ...b } });
    }
    return out;
  };
  const sweep = () => {
    const now = clock();
    for (const [aor, contacts] of bindings) {
      for (const [contact, b] of contacts) if (!live(b, now)) contacts.delete(contact);
      if (contacts.size === 0) bindings.delete(aor);
    }
    for (const [key, c] of counters) if (c.expiresAt <= now) counters.delete(key);
    for (const [trunkId, byGateway] of trunkStatuses) {
      for (const [gateway, e] of byGateway) if (e.until <= now) byGateway.delete(gateway);
      if (byGateway.size === 0) trunkStatuses.delete(trunkId);
    }
    for (const [name, s] of streams) if (s.entries.length > 0) trim(s, now, name);
  };
  const sweeper = setInterval(sweep, options.sweepMs ?? 30_000);
  sweeper.unref();

  const check = () => {
    if (closed) throw new SharedStateError('SHARED_STATE_CLOSED', 'shared state is closed');
  };
  const counterValue = (key: string) => {
    const c = counters.get(key);
    return c && c.expiresAt > clock() ? c.value : 0;
  };
  const incr = async (key: string, by = 1, ttlSec = 86_400) => {
    check();
    const value = counterValue(key) + by;
    // Re-inserted, so the first counter is the least recently changed: the one to drop at the cap.
    counters.delete(key);
    // Only at the cap: an iterator walks the slots V8 leaves where keys were deleted, which this re-insertion
    // leaves at the start of the map, so the first key costs more the more counters there are.
    if (counters.size >= maxCounters)
      for (const oldest of counters.keys()) {
        if (counters.size < maxCounters) break;
        counters.delete(oldest);
      }
    counters.set(key, { value, expiresAt: clock() + ttlSec * 1000 });
    return value;
  };
  /**
   * A copy whose strings hold nothing else alive: a value cut from a longer string (a Call-ID from a SIP
   * message's header text) is a view of it in V8, and an entry kept for minutes would keep that text too.
   */
  const detached = <T>(value: T): T => copyStrings(value) as T;
  const idOf = (e: StoredEntry) => `${e.ms}-${e.seq}`;
  const entryBytes = (e: StoredEntry) => STREAM_ENTRY_OVERHEAD + e.length;
  /**
   * Trims a stream (at each publish, and at each sweep for streams nobody publishes to any more): like Redis's
   * approximate MAXLEN ~ in steps of a tenth, not one entry per publish (each splice moves the whole array).
   */
  const trim = (s: Stream, now: number, name: string) => {
    let drop = s.entries.length > maxLen + Math.ceil(maxLen / 10) ? s.entries.length - maxLen : 0;
    // By bytes as well, in the same steps of a tenth.
    let dropBytes = 0;
    for (let i = 0; i < drop; i++) dropBytes += entryBytes(s.entries[i]!);
    if (s.bytes - dropBytes > maxBytes + Math.ceil(maxBytes / 10)) {
      while (drop < s.entries.length && s.bytes - dropBytes > maxBytes)
        dropBytes += entryBytes(s.entries[drop++]!);
    }
    let delivered = s.trimmed + s.entries.length;
    for (const g of s.groups.values()) delivered = Math.min(delivered, g.next);
    // By age too, in steps of a tenth of the age (entries are in time order: ids are times), but only
    // entries every consumer group has been given: what a lagging group has not read yet stays (up to
    // the caps), so a slow worker loses no event to the age bound.
    if (s.entries[0]!.ms < now - maxAgeMs - Math.ceil(maxAgeMs / 10)) {
      while (drop < s.entries.length && s.trimmed + drop < delivered && s.entries[drop]!.ms < now - maxAgeMs)
        dropBytes += entryBytes(s.entries[drop++]!);
    }
    if (drop > 0) {
      const unread = Math.min(drop, s.trimmed + drop - delivered);
      s.entries.splice(0, drop);
      s.trimmed += drop;
      s.bytes -= dropBytes;
      if (unread > 0) options.onTrimmedUnread?.(name, unread);
    }
  };
  const stream = (name: string): Stream => {
    let s = streams.get(name);
    if (!s) {
      s = {
        entries: [],
        slab: new StreamSlab(),
        trimmed: 0,
        bytes: 0,
        lastMs: 0,
        seq: 0,
        groups: new Map(),
        waiters: new Set(),
      };
      streams.set(name, s);
    }
    return s;
  };
  const group = (s: Stream, name: string): Group => {
    let g = s.groups.get(name);
    if (!g) {
      g = { next: s.trimmed, pending: new Map() };
      s.groups.set(name, g);
    }
    return g;
  };
  const delivered = (e: StoredEntry): StreamEntry => ({
    id: idOf(e),
    fields: JSON.parse(e.chunk.toString('utf8', e.offset, e.offset + e.length)) as Record<string, string>,
  });
  const deliver = (s: Stream, g: Group, consumer: string, count: number): StreamEntry[] => {
    const start = Math.max(g.next, s.trimmed) - s.trimmed;
    const batch = s.entries.slice(start, start + count);
    g.next = s.trimmed + start + batch.length;
    const now = clock();
    for (const entry of batch) g.pending.set(idOf(entry), { consumer, deliveredAt: now, entry });
    return batch.map(delivered);
  };

  return {
    kind: 'memory',
    registrations: {
      async put(aor, binding) {
        check();
        let contacts = bindings.get(aor);
        if (!contacts) bindings.set(detachedString(aor), (contacts = new Map()));
        const stored = storedBinding(binding, contacts.get(binding.contact));
        contacts.set(stored.contact, stored);
        writer?.changed(aor, stored.contact);
      },
      async remove(aor, contact) {
        check();
        const removed = bindings.get(aor)?.delete(contact) ?? false;
        if (removed) writer?.changed(aor, contact);
        return removed;
      },
      async removeAll(aor) {
        check();
        const n = (await this.list(aor)).length;
        const contacts = bindings.get(aor);
        if (contacts && bindings.delete(aor))
          for (const contact of contacts.keys()) writer?.changed(aor, contact);
        return n;
      },
      async list(aor) {
        check();
        const now = clock();
        const out: Binding[] = [];
        const contacts = bindings.get(aor);
        if (contacts) for (const b of contacts.values()) if (live(b, now)) out.push({ ...b });
        return out;
      },
      async listByTenant(tenantId) {
        return liveWhere((b) => b.tenantId === tenantId);
      },
      async listByGateway(gateway) {
        return liveWhere((b) => b.gateway === gateway);
      },
    },
    calls: {
      async put(call) {
        check();
        // Keyed by the copy's own Call-ID: the caller's is a slice of its message's text, which a key left in an
        // old hash table would keep (`SlotMap` in src/sip says why).
        const copy = detached(call);
        const before = calls.get(copy.callId);
        if (before && before.tenantId !== copy.tenantId) unlistCall(before);
        calls.set(copy.callId, copy);
        let mine = callsByTenant.get(copy.tenantId);
        if (!mine) callsByTenant.set(copy.tenantId, (mine = new Map()));
        mine.set(copy.callId, copy);
      },
      async get(callId) {
        check();
        const c = calls.get(callId);
        return c && { ...c };
      },
      async remove(callId) {
        check();
        const call = calls.get(callId);
        if (!call) return false;
        unlistCall(call);
        return calls.delete(callId);
      },
      async listByTenant(tenantId) {
        check();
        return [...(callsByTenant.get(tenantId)?.values() ?? [])].map((c) => ({ ...c }));
      },
      async count(tenantId) {
        check();
        return callsByTenant.get(tenantId)?.size ?? 0;
      },
    },
    trunkStatus: {
      async report(trunkId, status, ttlSec) {
        check();
        const byGateway =
          trunkStatuses.get(trunkId) ?? new Map<string, { status: TrunkStatus; until: number }>();
        byGateway.set(status.gateway, { status: structuredClone(status), until: clock() + ttlSec * 1000 });
        trunkStatuses.set(trunkId, byGateway);
      },
      async list(trunkIds) {
        check();
        const now = clock();
        const out = new Map<string, TrunkStatus[]>();
        for (const id of trunkIds) {
          const live = [...(trunkStatuses.get(id)?.values() ?? [])].filter((e) => e.until > now);
          if (live.length > 0)
            out.set(
              id,
              live.map((e) => structuredClone(e.status)),
            );
        }
        return out;
      },
    },
    counters: {
      incr,
      async get(key) {
        check();
        return counterValue(key);
      },
      hit: (key, windowSec) => incr(`${key}:${Math.floor(clock() / (windowSec * 1000))}`, 1, windowSec * 2),
    },
    events: {
      async publish(name, fields) {
        check();
        const s = stream(name);
        const now = clock();
        if (now > s.lastMs) {
          s.lastMs = now;
          s.seq = 0;
        } else {
          s.seq++;
        }
        const json = JSON.stringify(fields);
        const length = Buffer.byteLength(json);
        const offset = s.slab.write(json, length);
        const entry: StoredEntry = { ms: s.lastMs, seq: s.seq, chunk: s.slab.chunk, offset, length };
        s.entries.push(entry);
        s.bytes += entryBytes(entry);
        trim(s, now, name);
        for (const wake of s.waiters) wake();
        return idOf(entry);
      },
      async consume(name, groupName, consumer, { count = 100, blockMs = 0 } = {}) {
        check();
        const s = stream(name);
        const g = group(s, groupName);
        let batch = deliver(s, g, consumer, count);
        if (batch.length > 0 || blockMs <= 0) return batch;
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            s.waiters.delete(done);
            resolve();
          };
          const timer = setTimeout(done, blockMs);
          s.waiters.add(done);
        });
        if (closed) return [];
        batch = deliver(s, g, consumer, count);
        return batch;
      },
      async ack(name, groupName, ids) {
        check();
        const g = streams.get(name)?.groups.get(groupName);
        let n = 0;
        for (const id of ids) if (g?.pending.delete(id)) n++;
        return n;
      },
      async claimStale(name, groupName, consumer, minIdleMs, count = 100) {
        check();
        const g = streams.get(name)?.groups.get(groupName);
        if (!g) return [];
        const now = clock();
        const out: StreamEntry[] = [];
        for (const p of g.pending.values()) {
          if (out.length >= count) break;
          if (now - p.deliveredAt < minIdleMs) continue;
          p.consumer = consumer;
          p.deliveredAt = now;
          out.push(delivered(p.entry));
        }
        return out;
      },
      async dropGroup(name, groupName) {
        check();
        return streams.get(name)?.groups.delete(groupName) ?? false;
      },
    },
    structures() {
      let registrations = 0;
      for (const contacts of bindings.values()) registrations += contacts.size;
      let trunks = 0;
      for (const byGateway of trunkStatuses.values()) trunks += byGateway.size;
      const out: Record<string, number> = {
        state_registrations: registrations,
        state_calls: calls.size,
        state_counters: counters.size,
        state_trunk_statuses: trunks,
      };
      for (const [name, s] of streams) {
        let pending = 0;
        for (const g of s.groups.values()) pending += g.pending.size;
        out[`stream_entries:${name}`] = s.entries.length;
        out[`stream_pending:${name}`] = pending;
      }
      return out;
    },
    async ping() {
      check();
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      for (const s of streams.values()) for (const wake of s.waiters) wake();
      await writer?.close();
    },
  };
}
