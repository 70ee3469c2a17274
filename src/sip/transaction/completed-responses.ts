import { countRetransmission } from '../diagnostics.js';
import type { InboundContext } from '../transport/inbound-context.js';

/**
 * Bytes a record costs beyond its response's and key's characters: the record object, the key's string
 * header, the response's Buffer view, its Map entry and queue slot, the transport's send closure with its
 * destination. Measured on the built code: 40,000 records of a REGISTER's 200 (≈ 370 bytes) held 526 B of
 * heap and 381 B of buffers each after a full GC (docs/performance.md, "Registrations").
 */
export const COMPLETED_RECORD_OVERHEAD = 450;

/**
 * Bytes an accepted INVITE's record (`absorb`) costs beyond its key's characters: the record object, the key's
 * string header, its Map entry and queue slot (no response, no send closure): 40,000 records of 48-character
 * keys held 233 B of heap each after a full GC, 184 B beyond the key's characters.
 */
export const ACCEPTED_RECORD_OVERHEAD = 190;

/**
 * Bytes the records hold at most by default (response + key + `COMPLETED_RECORD_OVERHEAD` each): ≈ 150,000
 * records of a REGISTER's 200 (≈ 0.9 KB each), a sustained ~4,600 non-INVITE requests/s over UDP (Timer J,
 * 64·T1 = 32 s each). The transactions in progress have their own bound (`DEFAULT_MAX_SERVER_TRANSACTIONS`).
 */
export const DEFAULT_MAX_COMPLETED_BYTES = 128 * 2 ** 20;

/** The store copies responses into chunks of its own, which end with their last record (records end in order). */
const CHUNK_BYTES = 64 * 1024;

interface CompletedRecord {
  readonly key: string;
  /** The final response sent again for a retransmission; none for an accepted INVITE (absorbed). */
  readonly response: Buffer | undefined;
  readonly send: InboundContext['send'] | undefined;
  readonly expiresAt: number;
}

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
   * Holds `response` for `key` for Timer J. `key` (here and in `absorb`) is kept as given: a string of its own,
   * not a slice of a message's text (`detachString`), or the message would stay alive with it.
   */
  add(key: string, response: Buffer, send: InboundContext['send']): void;
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
  const byKey = new Map<string, CompletedRecord>();
  // Expiry order is arrival order: a queue read from `head`, compacted when half of it is spent.
  let queue: CompletedRecord[] = [];
  let head = 0;
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let chunk = Buffer.allocUnsafeSlow(0);
  let chunkUsed = 0;

  // A response as sent sits in Node's shared 8 KiB buffer pool (Buffer.from), whose slab stays alive as long as
  // any slice of it: kept for 32 s, it would keep the other messages written there. Its copy goes into this
  // store's chunk instead, which holds records only and ends when its last record does.
  const copy = (response: Buffer): Buffer => {
    if (response.length > CHUNK_BYTES / 8) {
      const own = Buffer.allocUnsafeSlow(response.length);
      response.copy(own);
      return own;
    }
    if (chunkUsed + response.length > chunk.length) {
      chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
      chunkUsed = 0;
    }
    response.copy(chunk, chunkUsed);
    chunkUsed += response.length;
    return chunk.subarray(chunkUsed - response.length, chunkUsed);
  };

  const cost = (record: CompletedRecord) =>
    record.response
      ? record.response.length + record.key.length + COMPLETED_RECORD_OVERHEAD
      : record.key.length + ACCEPTED_RECORD_OVERHEAD;

  // A record ended early (a failed send) leaves the map at once and the queue at its Timer J: its bytes count
  // until then, so that the bound holds what the queue holds.
  const forget = (record: CompletedRecord): void => {
    if (byKey.get(record.key) === record) byKey.delete(record.key);
  };

  const arm = (): void => {
    const next = queue[head];
    if (!next || timer) return;
    timer = setTimeout(expire, Math.max(0, next.expiresAt - now()));
    timer.unref();
  };

  // Timer J of every record due by now. A timer may fire when the clock reads a little short of its due time:
  // the records not yet due wait for a timer armed for what remains of theirs.
  function expire(): void {
    timer = undefined;
    const at = now();
    while (head < queue.length && queue[head]!.expiresAt <= at) {
      const record = queue[head++]!;
      forget(record);
      bytes -= cost(record);
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    arm();
  }

  const keep = (key: string, response: Buffer | undefined, send: InboundContext['send'] | undefined) => {
    const existing = byKey.get(key);
    if (existing) forget(existing);
    // The key is the transaction's own, already detached from the request's text by the layer
    // (`transaction-layer.ts`), so that the request is not kept with it: kept as it is, not copied again.
    const record: CompletedRecord = {
      key,
      response: response && copy(response),
      send,
      expiresAt: now() + timerJ,
    };
    byKey.set(record.key, record);
    bytes += cost(record);
    queue.push(record);
    arm();
  };

  return {
    add: keep,
    absorb(key) {
      keep(key, undefined, undefined);
    },
    retransmit(key) {
      const record = byKey.get(key);
      if (!record) return false;
      countRetransmission(absorbs);
      // RFC 6026 §7.1: in "Accepted", retransmissions of the INVITE are absorbed: nothing is sent.
      if (!record.response || !record.send) return true;
      countRetransmission('response-sent');
      // §17.2.4: "If the transport layer indicates a failure while sending a response … the server transaction
      // SHOULD inform the TU that a failure has occurred, and SHOULD transition to the terminated state."
      record.send(record.response, () => forget(record));
      return true;
    },
    remove(key) {
      const record = byKey.get(key);
      if (record) forget(record);
    },
    get full() {
      return bytes >= maxBytes;
    },
    get count() {
      return byKey.size;
    },
    get bytes() {
      return bytes;
    },
    clear() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      byKey.clear();
      queue = [];
      head = 0;
      bytes = 0;
    },
  };
}
