/** A registered contact of an address-of-record (RFC 3261 §10), as the location service keeps it. */
export interface Binding {
  contact: string;
  /** Epoch ms after which the binding no longer exists. */
  expiresAt: number;
  /** Where the REGISTER came from (RFC 3581): requests to a NATed UA go back there. */
  source: { address: string; port: number };
  transport: 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';
  /** The connection (flow) the REGISTER came on, for connection-oriented transports. */
  flowId?: string;
  instanceId?: string;
  q?: number;
  callId: string;
  cseq: number;
  userAgent?: string;
  tenantId: string;
  /** The gateway instance (its advertised SIP address, host:port) the REGISTER came through: a NATed UA is
   * reachable only from there, so other instances send calls for it through that one. */
  gateway?: string;
  /**
   * Where requests to this contact go, decided by the registrar when it accepted the REGISTER (as Kamailio's
   * nathelper keeps a `received` only for contacts it found behind NAT): `source`, the address and flow the
   * REGISTER came from (RFC 3581, RFC 5626); `contact`, the host and port of the Contact URI (RFC 3261
   * §10.3). Absent (bindings written by earlier versions): `source`.
   */
  reach?: 'source' | 'contact';
}

export interface LiveCall {
  callId: string;
  tenantId: string;
  from: string;
  to: string;
  state: 'setup' | 'ringing' | 'answered' | 'ending';
  startedAt: number;
  answeredAt?: number;
  gateway?: string;
  /** The relay is recording the call (absent = not). */
  recording?: boolean;
  /** The call's recording policy, as the gateway resolved it at its setup. */
  recordingPolicy?: 'off' | 'always' | 'on-demand';
}

export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

export interface RegistrationStore {
  /** Adds or refreshes the binding of `contact` for `aor`, valid for `expiresSec`. */
  put(aor: string, binding: Binding): Promise<void>;
  remove(aor: string, contact: string): Promise<boolean>;
  removeAll(aor: string): Promise<number>;
  /** Unexpired bindings of the AOR. */
  list(aor: string): Promise<Binding[]>;
  /** Unexpired bindings of a tenant, by AOR. */
  listByTenant(tenantId: string): Promise<{ aor: string; binding: Binding }[]>;
  /**
   * Unexpired bindings accepted through one gateway replica (`binding.gateway`, its advertised SIP address),
   * by AOR: what a replica starting again keeps alive.
   */
  listByGateway(gateway: string): Promise<{ aor: string; binding: Binding }[]>;
}

export interface CallStore {
  put(call: LiveCall): Promise<void>;
  get(callId: string): Promise<LiveCall | undefined>;
  remove(callId: string): Promise<boolean>;
  listByTenant(tenantId: string): Promise<LiveCall[]>;
  count(tenantId: string): Promise<number>;
}

export interface Counters {
  /** Atomically adds `by` and returns the new value; the counter expires `ttlSec` after its last change. */
  incr(key: string, by?: number, ttlSec?: number): Promise<number>;
  get(key: string): Promise<number>;
  /** Counts one event in a fixed window of `windowSec` and returns the count of the current window. */
  hit(key: string, windowSec: number): Promise<number>;
}

export interface EventStreams {
  /** Appends an entry; streams are capped at about `maxLen` entries. Returns the entry id. */
  publish(stream: string, fields: Record<string, string>): Promise<string>;
  /**
   * Reads entries never delivered to the group (creating the group at the stream's start if needed), waiting up
   * to `blockMs` when there are none. Delivered entries stay pending until acked.
   */
  consume(
    stream: string,
    group: string,
    consumer: string,
    options?: { count?: number; blockMs?: number },
  ): Promise<StreamEntry[]>;
  ack(stream: string, group: string, ids: readonly string[]): Promise<number>;
  /** Takes over entries pending longer than `minIdleMs` (a consumer died before acking). */
  claimStale(
    stream: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    count?: number,
  ): Promise<StreamEntry[]>;
  /** Deletes a consumer group and its pending entries (a replica going away for good). True if it existed. */
  dropGroup(stream: string, group: string): Promise<boolean>;
}

/** One gateway replica's view of a carrier trunk, as its health checks and outbound registration see it. */
export interface TrunkStatus {
  /** The replica (its advertised SIP address) that reported. */
  gateway: string;
  /** Its last OPTIONS health check was answered. */
  reachable: boolean;
  /** Epoch ms of that check. */
  checkedAt: number;
  /** Outbound registration, for trunks with `register` set: its state and the carrier's last answer. */
  registration?: { state: 'registered' | 'failed' | 'unregistered'; code: number; expiresAt?: number };
}

export interface TrunkStatusStore {
  /** Records a replica's view of a trunk; it disappears `ttlSec` after the last report. */
  report(trunkId: string, status: TrunkStatus, ttlSec: number): Promise<void>;
  /** The live reports of each trunk (one per reporting replica); trunks with none are absent. */
  list(trunkIds: readonly string[]): Promise<Map<string, TrunkStatus[]>>;
}

/** Live state shared by every voxgate instance: Redis in production, memory for one embedded process. */
export interface SharedState {
  readonly kind: 'memory' | 'redis';
  readonly registrations: RegistrationStore;
  readonly calls: CallStore;
  readonly counters: Counters;
  readonly events: EventStreams;
  readonly trunkStatus: TrunkStatusStore;
  /**
   * Entries held in this process by structure (bindings, calls, counters, each event stream), for
   * voxgate_memory_structure_entries. Only the memory implementation holds them in the process; Redis does not.
   */
  structures?(): Record<string, number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class SharedStateError extends Error {
  override readonly name = 'SharedStateError';
  constructor(
    readonly code: 'SHARED_STATE_INVALID_URL' | 'SHARED_STATE_UNREACHABLE' | 'SHARED_STATE_CLOSED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Entries an event stream keeps at most (Redis: XADD MAXLEN ~; memory: the same, trimmed in tenths). */
export const DEFAULT_STREAM_MAXLEN = 100_000;
/**
 * Age past which the memory implementation drops a stream's entries that every consumer group has been given
 * (the embedded worker, API and gateway read them within milliseconds; a minute is left for a group created
 * late). Entries a group has not read yet stay, up to the entry cap; entries delivered and not yet acked are
 * kept by their group until acked, whatever their age.
 */
export const DEFAULT_STREAM_MAX_AGE_MS = 60_000;
/**
 * Bytes (`streamEntryBytes`) an event stream of the memory implementation keeps at most, whatever its entry
 * count. A call event took about 1.1 KB in bench:cps (30,000 at this cap at 800 calls/s), so 100,000 of them (the
 * entry cap) would be ~100 MiB, and a gateway whose events nobody in its process reads (`--target=sip-gateway`
 * without Redis) keeps every one up to the caps. 32 MiB is ≈ 30,000 call events: ~10 s of events at 800 calls/s
 * (four per call), where the embedded worker reads them within milliseconds. The bytes are off the V8 heap
 * (`stream-slab.ts`) but in the process's RSS. Oldest first, like the entry cap; what a group had not read yet is
 * counted as lost (`onTrimmedUnread`).
 */
export const DEFAULT_STREAM_MAX_BYTES = 32 * 2 ** 20;

/**
 * What an entry of the memory implementation's streams costs, counted against DEFAULT_STREAM_MAX_BYTES: its
 * fields' JSON text in UTF-8 (in the stream's slab, off the heap) and the entry object on the heap.
 */
export function streamEntryBytes(fields: Record<string, string>): number {
  return STREAM_ENTRY_OVERHEAD + Buffer.byteLength(JSON.stringify(fields));
}
/** The heap a stored entry takes besides its text: an object of five fields and its time's number. */
export const STREAM_ENTRY_OVERHEAD = 64;
/** Counters the memory implementation keeps at most (ban counters, rate windows); the least recently changed go. */
export const DEFAULT_MAX_COUNTERS = 100_000;
