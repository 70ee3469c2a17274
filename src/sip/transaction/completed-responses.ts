import { Buffer } from 'node:buffer';
import { countRetransmission } from '../diagnostics.js';
import type { InboundContext, Peer, PeerSend, ResponseRoute } from '../transport/inbound-context.js';

/**
 * Bytes a record costs beyond its response's and key's UTF-8 bytes: its slot in the typed arrays (45 B), its two
 * slots of the hash table (8 B), the destination's address (up to 45 B, IPv6) in its chunk, and the arrays'
 * room to grow. Measured on this code: 40,000 and 60,000 records of a 370-byte response with 60-character keys
 * held no heap and 515 / 486 B of buffers each after a full GC, 441 of them the response, key and address (the
 * records of before, an object each with its send closure: 526 B of heap and 381 B of buffers).
 */
export const COMPLETED_RECORD_OVERHEAD = 100;

/**
 * Bytes an accepted INVITE's record (`absorb`) costs beyond its key's bytes: its slot and hash-table slots and
 * the arrays' room to grow (40,000 and 60,000 records of 60-character keys: 133 / 104 B of buffers each).
 */
export const ACCEPTED_RECORD_OVERHEAD = 80;

/**
 * Bytes the records hold at most by default (response + key + `COMPLETED_RECORD_OVERHEAD` each): ≈ 500,000
 * records of a REGISTER's 200 (≈ 0.53 KB each), a sustained ~15,000 non-INVITE requests/s over UDP (Timer J,
 * 64·T1 = 32 s each). At 160 MiB (~9,800/s) `bench:register` at 10,000 registrations/s had new REGISTERs
 * refused 503 by this bound, not by the CPU (docs/performance.md, "Run of 2026-12-06"); the sip-gateway's RSS
 * there was 420–440 MiB with the records at ~170 MiB, so the bound full adds ~90 MiB and stays under its
 * 640 MiB budget (`config/memory-budgets.yml`). The transactions in progress have their own bound
 * (`DEFAULT_MAX_SERVER_TRANSACTIONS`).
 */
export const DEFAULT_MAX_COMPLETED_BYTES = 256 * 2 ** 20;

/** Records' bytes (key, destination address, response) are copied into chunks of this size. */
const CHUNK_BYTES = 64 * 1024;
/** Slots of a new store, and the least it shrinks to. */
const MIN_SLOTS = 1024;
/** Distinct transport sends a store keeps as data; a send beyond them is kept as its closure. */
const MAX_SENDS = 16;
const EMPTY = -1;

/**
 * Non-INVITE server transactions over an unreliable transport in the "Completed" state (RFC 3261 §17.2.2),
 * kept as one record each — the key, the final response's bytes and where they go — instead of a transaction
 * object with its own timer. §17.2.2: "While in the "Completed" state, the server transaction MUST pass the
 * final response to the transport layer for retransmission whenever a retransmission of the request is
 * received. … When the server transaction enters the "Completed" state, it MUST set Timer J to fire in 64*T1
 * seconds for unreliable transports … When the timer fires, the server transaction MUST transition to the
 * "Terminated" state." Timer J lasts the same for every record, so the records expire in the order they came:
 * one queue, one timer armed for its head.
 *
 * INVITE server transactions in "Accepted" (RFC 6026 §7.1) whose 2xx the TU retransmits no more (its ACK came,
 * or the call ended: `ServerTransaction.acknowledged`) are kept here too, as a record without a response: until
 * Timer L (64*T1, the same as Timer J) "any retransmissions of the INVITE received will be absorbed" — answered
 * with nothing, and not taken for a new request. Timer L then runs from the moment the TU let go rather than
 * from the 2xx, up to the 2xx's retransmission time longer: a late INVITE retransmission is absorbed a little
 * longer, which nothing relies on the other way.
 */
export interface CompletedResponses {
  /**
   * Holds `response` for `key` for Timer J, sent again with `route` when given (the record then holds no
   * object: `send` is the same sending as data), else with `send`.
   */
  add(key: string, response: Buffer, send: InboundContext['send'], route?: ResponseRoute): void;
  /** Holds `key`, an INVITE in Accepted that its TU let go, for Timer L: its retransmissions are absorbed. */
  absorb(key: string): void;
  /**
   * A request retransmission: if `key` is in Completed, its response is sent again and `true` returned; if it
   * is an accepted INVITE's, nothing is sent and `true` returned.
   */
  retransmit(key: string): boolean;
  /** Ends the record of `key` (a failed send of its response, §17.2.4). */
  remove(key: string): void;
  /**
   * Whether the records hold `maxBytes` or more (those ended early by a failed send count until their Timer J):
   * the layer then refuses new requests.
   */
  readonly full: boolean;
  readonly count: number;
  readonly bytes: number;
  /** Ends every record (shutdown). */
  clear(): void;
}

export function createCompletedResponses(options: {
  /** Timer J for unreliable transports and Timer L: both 64*T1. */
  timerJ: number;
  maxBytes: number;
  /** Milliseconds on a monotonic clock. */
  now: () => number;
  /**
   * What a matched retransmission is counted as (`voxgate:sip:retransmission`): a request, for server
   * transactions (the default); a response, where the records are client transactions' (§17.1.2.2, Timer K).
   */
  absorbs?: 'request-absorbed' | 'response-absorbed';
}): CompletedResponses {
  const { timerJ, maxBytes, now } = options;
  const absorbs = options.absorbs ?? 'request-absorbed';

  // The records hold no JavaScript object of their own: at thousands of requests a second each would live 32 s,
  // be promoted, and be marked by every full collection until then (at 6,000 REGISTERs/s, 192,000 records of
  // ~530 B of heap each, three quarters of what the old generation held). A record is a slot of typed arrays in
  // a ring (records end in the order they came: Timer J is the same for all), its bytes — key, destination
  // address, response — in a chunk, and its key found through an open-addressing hash table of slots.
  let mask = MIN_SLOTS - 1;
  let head = 0; // the oldest record's slot
  let used = 0; // slots from head, records ended early (a failed send, a key added again) included
  let expiresAt = new Float64Array(MIN_SLOTS);
  let hashes = new Int32Array(MIN_SLOTS);
  let chunkIds = new Int32Array(MIN_SLOTS);
  let offsets = new Int32Array(MIN_SLOTS);
  let keyLengths = new Int32Array(MIN_SLOTS);
  let addressLengths = new Int32Array(MIN_SLOTS);
  /** The response's length, or -1 for an accepted INVITE's record (nothing to send). */
  let responseLengths = new Int32Array(MIN_SLOTS);
  /** Index in `sends` of the transport send with the destination in the chunk, or -1 (the closure in `closures`). */
  let sendIds = new Int32Array(MIN_SLOTS);
  let ports = new Int32Array(MIN_SLOTS);
  /** 1 while the record is in the table; 0 once ended early. */
  let live = new Uint8Array(MIN_SLOTS);
  /** Bumped at every new record of a slot: a failure reported late finds its record, not a later one. */
  let generations = new Uint32Array(MIN_SLOTS);
  let closures: (InboundContext['send'] | undefined)[] = new Array<undefined>(MIN_SLOTS);
  /** Slot of each record in the table, EMPTY where none: twice the slots, so at most half full. */
  let table = new Int32Array(2 * MIN_SLOTS).fill(EMPTY);
  let liveCount = 0;
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let generation = 0;

  const sends: PeerSend[] = [];
  // Chunks by id from `firstChunk`, with the records each still holds; the last is the one being filled.
  let chunks: Buffer[] = [];
  let chunkRecords: number[] = [];
  let firstChunk = 0;
  let fill = CHUNK_BYTES; // bytes used in the last chunk: full before the first

  /** FNV-1a over the key's UTF-16 code units. */
  const hashOf = (key: string): number => {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return h | 0;
  };
  const chunkOf = (slot: number): Buffer => chunks[chunkIds[slot]! - firstChunk]!;
  const keyIs = (slot: number, key: string): boolean => {
    const at = offsets[slot]!;
    return chunkOf(slot).toString('utf8', at, at + keyLengths[slot]!) === key;
  };
  const costOf = (slot: number): number =>
    responseLengths[slot]! < 0
      ? keyLengths[slot]! + ACCEPTED_RECORD_OVERHEAD
      : keyLengths[slot]! + responseLengths[slot]! + COMPLETED_RECORD_OVERHEAD;

  /** The slot of `key`'s record (`h`: its hash, when the caller has it), or EMPTY. */
  const find = (key: string, h = hashOf(key)): number => {
    const tmask = table.length - 1;
    for (let i = h & tmask; ; i = (i + 1) & tmask) {
      const slot = table[i]!;
      if (slot === EMPTY) return EMPTY;
      if (hashes[slot] === h && keyIs(slot, key)) return slot;
    }
  };
  const insert = (slot: number): void => {
    const tmask = table.length - 1;
    let i = hashes[slot]! & tmask;
    while (table[i] !== EMPTY) i = (i + 1) & tmask;
    table[i] = slot;
  };
  /** Takes a record out of the table (linear probing: the entries after it move back, no tombstones). */
  const unlink = (slot: number): void => {
    const tmask = table.length - 1;
    let i = hashes[slot]! & tmask;
    while (table[i] !== slot) i = (i + 1) & tmask;
    for (let j = (i + 1) & tmask; table[j] !== EMPTY; j = (j + 1) & tmask) {
      const home = hashes[table[j]!]! & tmask;
      // The entry at j stays unless its home is cyclically outside (i, j]: then it moves back to i.
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (!stays) {
        table[i] = table[j]!;
        i = j;
      }
    }
    table[i] = EMPTY;
    live[slot] = 0;
    liveCount -= 1;
    closures[slot] = undefined;
  };

  /** Moves the records to arrays of `size` slots, in order from slot 0, and builds the table again. */
  const resize = (size: number): void => {
    const move = <A extends Float64Array | Int32Array | Uint8Array | Uint32Array>(old: A, next: A): A => {
      for (let k = 0; k < used; k++) next[k] = old[(head + k) & mask]!;
      return next;
    };
    expiresAt = move(expiresAt, new Float64Array(size));
    hashes = move(hashes, new Int32Array(size));
    chunkIds = move(chunkIds, new Int32Array(size));
    offsets = move(offsets, new Int32Array(size));
    keyLengths = move(keyLengths, new Int32Array(size));
    addressLengths = move(addressLengths, new Int32Array(size));
    responseLengths = move(responseLengths, new Int32Array(size));
    sendIds = move(sendIds, new Int32Array(size));
    ports = move(ports, new Int32Array(size));
    live = move(live, new Uint8Array(size));
    generations = move(generations, new Uint32Array(size));
    const moved = new Array<InboundContext['send'] | undefined>(size);
    for (let k = 0; k < used; k++) moved[k] = closures[(head + k) & mask];
    closures = moved;
    mask = size - 1;
    head = 0;
    table = new Int32Array(2 * size).fill(EMPTY);
    for (let k = 0; k < used; k++) if (live[k]) insert(k);
  };

  /**
   * Where `length` bytes go in the last chunk, opening a new chunk when they do not fit; more than an eighth of
   * a chunk get a chunk of their own, which closes the one being filled.
   */
  const place = (length: number): number => {
    if (length > CHUNK_BYTES / 8) {
      chunks.push(Buffer.allocUnsafeSlow(length));
      chunkRecords.push(0);
      fill = CHUNK_BYTES;
      return 0;
    }
    if (fill + length > CHUNK_BYTES) {
      chunks.push(Buffer.allocUnsafeSlow(CHUNK_BYTES));
      chunkRecords.push(0);
      fill = 0;
    }
    fill += length;
    return fill - length;
  };
  /** One record fewer in its chunk; the chunks at the front that hold none, and are not being filled, go. */
  const release = (slot: number): void => {
    chunkRecords[chunkIds[slot]! - firstChunk]! -= 1;
    let drop = 0;
    while (drop < chunks.length - 1 && chunkRecords[drop] === 0) drop++;
    if (drop > 0) {
      chunks = chunks.slice(drop);
      chunkRecords = chunkRecords.slice(drop);
      firstChunk += drop;
    }
  };

  const arm = (): void => {
    if (used === 0 || timer) return;
    timer = setTimeout(expire, Math.max(0, expiresAt[head]! - now()));
    timer.unref();
  };

  // Timer J of every record due by now. A timer may fire when the clock reads a little short of its due time:
  // the records not yet due wait for a timer armed for what remains of theirs.
  function expire(): void {
    timer = undefined;
    const at = now();
    while (used > 0 && expiresAt[head]! <= at) {
      if (live[head]) unlink(head);
      release(head);
      bytes -= costOf(head);
      head = (head + 1) & mask;
      used -= 1;
    }
    // A store that held a burst gives its arrays back once they are mostly empty.
    if (mask + 1 > MIN_SLOTS && used * 8 < mask + 1) resize((mask + 1) / 2);
    arm();
  }

  const sendIdOf = (send: PeerSend): number => {
    const known = sends.indexOf(send);
    if (known >= 0) return known;
    if (sends.length >= MAX_SENDS) return EMPTY;
    sends.push(send);
    return sends.length - 1;
  };

  const keep = (
    key: string,
    response: Buffer | undefined,
    send: InboundContext['send'] | undefined,
    route: ResponseRoute | undefined,
  ): void => {
    const h = hashOf(key);
    const existing = find(key, h);
    if (existing !== EMPTY) unlink(existing);
    if (used > mask) resize(2 * (mask + 1));
    const slot = (head + used) & mask;
    used += 1;
    const sendId = route && response ? sendIdOf(route.send) : EMPTY;
    const address = sendId === EMPTY ? '' : route!.to.address;
    const keyLength = Buffer.byteLength(key);
    const addressLength = Buffer.byteLength(address);
    const length = keyLength + addressLength + (response?.length ?? 0);
    const at = place(length);
    const chunk = chunks[chunks.length - 1]!;
    chunk.write(key, at, 'utf8');
    if (addressLength > 0) chunk.write(address, at + keyLength, 'utf8');
    response?.copy(chunk, at + keyLength + addressLength);
    chunkRecords[chunkRecords.length - 1]! += 1;
    expiresAt[slot] = now() + timerJ;
    hashes[slot] = h;
    chunkIds[slot] = firstChunk + chunks.length - 1;
    offsets[slot] = at;
    keyLengths[slot] = keyLength;
    addressLengths[slot] = addressLength;
    responseLengths[slot] = response ? response.length : -1;
    sendIds[slot] = sendId;
    ports[slot] = sendId === EMPTY ? 0 : route!.to.port;
    closures[slot] = response && sendId === EMPTY ? send : undefined;
    live[slot] = 1;
    generations[slot] = ++generation;
    liveCount += 1;
    insert(slot);
    bytes += costOf(slot);
    arm();
  };

  /**
   * Ends the record in `slot` if it is still the one of `expected` (a failure is reported after the call). One
   * moved by a resize meanwhile is not found there, and ends at its Timer J.
   */
  const endIf = (slot: number, expected: number) => (): void => {
    if (slot <= mask && generations[slot] === expected && live[slot]) unlink(slot);
  };

  return {
    add: keep,
    absorb(key) {
      keep(key, undefined, undefined, undefined);
    },
    retransmit(key) {
      if (liveCount === 0) return false;
      const slot = find(key);
      if (slot === EMPTY) return false;
      countRetransmission(absorbs);
      // RFC 6026 §7.1: in "Accepted", retransmissions of the INVITE are absorbed: nothing is sent.
      if (responseLengths[slot]! < 0) return true;
      countRetransmission('response-sent');
      const chunk = chunkOf(slot);
      const at = offsets[slot]! + keyLengths[slot]! + addressLengths[slot]!;
      const response = chunk.subarray(at, at + responseLengths[slot]!);
      // §17.2.4: "If the transport layer indicates a failure while sending a response … the server transaction
      // SHOULD inform the TU that a failure has occurred, and SHOULD transition to the terminated state."
      const failed = endIf(slot, generations[slot]!);
      const sendId = sendIds[slot]!;
      if (sendId === EMPTY) {
        closures[slot]!(response, failed);
      } else {
        const addressAt = offsets[slot]! + keyLengths[slot]!;
        const to: Peer = {
          address: chunk.toString('utf8', addressAt, addressAt + addressLengths[slot]!),
          port: ports[slot]!,
        };
        sends[sendId]!(response, to, failed);
      }
      return true;
    },
    remove(key) {
      if (liveCount === 0) return;
      const slot = find(key);
      if (slot !== EMPTY) unlink(slot);
    },
    get full() {
      return bytes >= maxBytes;
    },
    get count() {
      return liveCount;
    },
    get bytes() {
      return bytes;
    },
    clear() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      table.fill(EMPTY);
      live.fill(0);
      closures.fill(undefined);
      head = 0;
      used = 0;
      liveCount = 0;
      bytes = 0;
      chunks = [];
      chunkRecords = [];
      fill = CHUNK_BYTES;
    },
  };
}
