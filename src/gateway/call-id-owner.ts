import { randomHex } from '../sip/index.js';

/**
 * Which of a gateway's SIP workers owns a Call-ID: FNV-1a of its bytes modulo the number of workers. Every
 * message of a call (requests, retransmissions, CANCEL, ACK, in-dialog requests, responses) carries the
 * Call-ID of its leg, so each reaches the worker holding the transactions and the call, with no table. The
 * Call-IDs a worker makes itself (callee legs, keepalive and trunk requests) are drawn until they hash to it.
 */
export interface CallIdOwnership {
  /** This worker, 0 … workers − 1. */
  readonly worker: number;
  readonly workers: number;
}

let ownership: CallIdOwnership = { worker: 0, workers: 1 };

/** Sets this process's place among the workers (once, before the gateway starts). */
export function ownCallIds(next: CallIdOwnership): void {
  if (!Number.isInteger(next.workers) || next.workers < 1 || next.worker < 0 || next.worker >= next.workers)
    throw new RangeError(`worker ${next.worker} of ${next.workers} is not a place among workers`);
  ownership = next;
}

export function callIdOwnership(): CallIdOwnership {
  return ownership;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** The worker owning the Call-ID held by `bytes[start, end)`. */
export function ownerOfBytes(bytes: Uint8Array, start: number, end: number, workers: number): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, FNV_PRIME);
  return (hash >>> 0) % workers;
}

/** The worker owning an ASCII Call-ID (as made by `mintCallId`, or read as latin1). */
export function ownerOf(callId: string, workers: number): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < callId.length; i++) hash = Math.imul(hash ^ (callId.charCodeAt(i) & 0xff), FNV_PRIME);
  return (hash >>> 0) % workers;
}

/** A new random Call-ID (`bytes` random bytes in hex) that this worker owns: on average `workers` draws. */
export function mintCallId(bytes = 12): string {
  const { worker, workers } = ownership;
  for (;;) {
    const callId = randomHex(bytes);
    if (workers === 1 || ownerOf(callId, workers) === worker) return callId;
  }
}

const CR = 13;
const LF = 10;
const COLON = 58;

/** Whether `bytes[at, at + name.length)` is `name` (lower-case ASCII) in any case. */
function nameAt(bytes: Uint8Array, at: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) if ((bytes[at + i]! | 0x20) !== name.charCodeAt(i)) return false;
  return true;
}

function isBlank(byte: number | undefined): boolean {
  return byte === 32 || byte === 9;
}

/**
 * Where the Call-ID's value lies in a datagram's head (`Call-ID` or its compact form `i`, any case, RFC 3261
 * §7.3.3), without parsing the message: [start, end) with surrounding blanks left out. Undefined when the head
 * has none (the message is then read where it arrived, and answered or dropped as malformed there).
 */
export function findCallId(bytes: Uint8Array): { start: number; end: number } | undefined {
  let line = bytes.indexOf(LF) + 1;
  while (line > 0 && line < bytes.length) {
    const first = bytes[line];
    if (first === CR || first === LF) return undefined; // the empty line: end of the head
    const lower = first! | 0x20;
    let at =
      lower === 105 /* i */ ? line + 1 : lower === 99 && nameAt(bytes, line, 'call-id') ? line + 7 : -1;
    if (at >= 0) {
      while (isBlank(bytes[at])) at++;
      if (bytes[at] !== COLON) at = -1;
    }
    const next = bytes.indexOf(LF, line);
    if (at >= 0) {
      let start = at + 1;
      let end = next < 0 ? bytes.length : next;
      while (start < end && isBlank(bytes[start])) start++;
      while (end > start && (bytes[end - 1] === CR || isBlank(bytes[end - 1]))) end--;
      return start < end ? { start, end } : undefined;
    }
    line = next + 1;
  }
  return undefined;
}
