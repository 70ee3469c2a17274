import {
  DEFAULT_STREAM_MAXLEN,
  SharedStateError,
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

interface Group {
  /** Index in the stream's entries of the next entry never delivered to this group. */
  next: number;
  pending: Map<string, { consumer: string; deliveredAt: number; entry: StreamEntry }>;
}

interface Stream {
  entries: StreamEntry[];
  /** Entries trimmed from the front so far: `next` indexes are shifted by it. */
  trimmed: number;
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
  options: { streamMaxLen?: number; sweepMs?: number; persistence?: RegistrationsPersistence } = {},
): SharedState {
  const maxLen = options.streamMaxLen ?? DEFAULT_STREAM_MAXLEN;
  const bindings = new Map<string, Map<string, Binding>>();
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
      ...(persistence.onError ? { onError: persistence.onError } : {}),
    });
  const calls = new Map<string, LiveCall>();
  const counters = new Map<string, { value: number; expiresAt: number }>();
  const streams = new Map<string, Stream>();
  const trunkStatuses = new Map<string, Map<string, { status: TrunkStatus; until: number }>>();
  let closed = false;

  const live = (b: Binding, now: number) => b.expiresAt > now;
  /** Copies of the live bindings of every AOR that `keep` accepts. */
  const liveWhere = (keep: (b: Binding) => boolean): { aor: string; binding: Binding }[] => {
    check();
    const now = Date.now();
    const out: { aor: string; binding: Binding }[] = [];
    for (const [aor, contacts] of bindings) {
      for (const b of contacts.values()) if (keep(b) && live(b, now)) out.push({ aor, binding: { ...b } });
    }
    return out;
  };
  const sweep = () => {
    const now = Date.now();
    for (const [aor, contacts] of bindings) {
      for (const [contact, b] of contacts) if (!live(b, now)) contacts.delete(contact);
      if (contacts.size === 0) bindings.delete(aor);
    }
    for (const [key, c] of counters) if (c.expiresAt <= now) counters.delete(key);
  };
  const sweeper = setInterval(sweep, options.sweepMs ?? 30_000);
  sweeper.unref();

  const check = () => {
    if (closed) throw new SharedStateError('SHARED_STATE_CLOSED', 'shared state is closed');
  };
  const counterValue = (key: string) => {
    const c = counters.get(key);
    return c && c.expiresAt > Date.now() ? c.value : 0;
  };
  const incr = async (key: string, by = 1, ttlSec = 86_400) => {
    check();
    const value = counterValue(key) + by;
    counters.set(key, { value, expiresAt: Date.now() + ttlSec * 1000 });
    return value;
  };
  const stream = (name: string): Stream => {
    let s = streams.get(name);
    if (!s) {
      s = { entries: [], trimmed: 0, lastMs: 0, seq: 0, groups: new Map(), waiters: new Set() };
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
  const deliver = (s: Stream, g: Group, consumer: string, count: number): StreamEntry[] => {
    const start = Math.max(g.next, s.trimmed) - s.trimmed;
    const batch = s.entries.slice(start, start + count);
    g.next = s.trimmed + start + batch.length;
    const now = Date.now();
    for (const entry of batch) g.pending.set(entry.id, { consumer, deliveredAt: now, entry });
    return batch.map((e) => ({ id: e.id, fields: { ...e.fields } }));
  };

  return {
    kind: 'memory',
    registrations: {
      async put(aor, binding) {
        check();
        let contacts = bindings.get(aor);
        if (!contacts) bindings.set(aor, (contacts = new Map()));
        contacts.set(binding.contact, { ...binding });
        writer?.changed();
      },
      async remove(aor, contact) {
        check();
        const removed = bindings.get(aor)?.delete(contact) ?? false;
        if (removed) writer?.changed();
        return removed;
      },
      async removeAll(aor) {
        check();
        const n = (await this.list(aor)).length;
        if (bindings.delete(aor)) writer?.changed();
        return n;
      },
      async list(aor) {
        check();
        const now = Date.now();
        return [...(bindings.get(aor)?.values() ?? [])].filter((b) => live(b, now)).map((b) => ({ ...b }));
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
        calls.set(call.callId, { ...call });
      },
      async get(callId) {
        check();
        const c = calls.get(callId);
        return c && { ...c };
      },
      async remove(callId) {
        check();
        return calls.delete(callId);
      },
      async listByTenant(tenantId) {
        check();
        return [...calls.values()].filter((c) => c.tenantId === tenantId).map((c) => ({ ...c }));
      },
      async count(tenantId) {
        check();
        let n = 0;
        for (const c of calls.values()) if (c.tenantId === tenantId) n++;
        return n;
      },
    },
    trunkStatus: {
      async report(trunkId, status, ttlSec) {
        check();
        const byGateway =
          trunkStatuses.get(trunkId) ?? new Map<string, { status: TrunkStatus; until: number }>();
        byGateway.set(status.gateway, { status: structuredClone(status), until: Date.now() + ttlSec * 1000 });
        trunkStatuses.set(trunkId, byGateway);
      },
      async list(trunkIds) {
        check();
        const now = Date.now();
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
      hit: (key, windowSec) =>
        incr(`${key}:${Math.floor(Date.now() / (windowSec * 1000))}`, 1, windowSec * 2),
    },
    events: {
      async publish(name, fields) {
        check();
        const s = stream(name);
        const now = Date.now();
        if (now > s.lastMs) {
          s.lastMs = now;
          s.seq = 0;
        } else {
          s.seq++;
        }
        const id = `${s.lastMs}-${s.seq}`;
        s.entries.push({ id, fields: { ...fields } });
        // Trimmed like Redis's approximate MAXLEN ~: in steps of a tenth, not one entry per publish (each
        // splice moves the whole array).
        if (s.entries.length > maxLen + Math.ceil(maxLen / 10)) {
          const drop = s.entries.length - maxLen;
          s.entries.splice(0, drop);
          s.trimmed += drop;
        }
        for (const wake of s.waiters) wake();
        return id;
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
        const now = Date.now();
        const out: StreamEntry[] = [];
        for (const p of g.pending.values()) {
          if (out.length >= count) break;
          if (now - p.deliveredAt < minIdleMs) continue;
          p.consumer = consumer;
          p.deliveredAt = now;
          out.push({ id: p.entry.id, fields: { ...p.entry.fields } });
        }
        return out;
      },
      async dropGroup(name, groupName) {
        check();
        return streams.get(name)?.groups.delete(groupName) ?? false;
      },
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
