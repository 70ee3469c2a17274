import { detachString } from '../message/parse-message.js';
import { randomBase64url, randomUint48 } from '../random-token.js';

/** Slots a ring starts with; it doubles up to its capacity as nonces are issued (an idle realm stays small). */
const FIRST_SLOTS = 16;

/** Characters of the process's instance id in a nonce (base64url of 6 random bytes). */
const INSTANCE_LENGTH = 8;

/**
 * The nonces a digest server remembers, in the manner of Kamailio's auth module (a nonce id indexing fixed
 * arrays) rather than one object per nonce: slot `seq % capacity` of a few typed arrays holds the last
 * `capacity` nonces issued here — when, with which key, and the last nonce-count answered on each — so that a
 * REGISTER flood leaves no object per nonce for the garbage collector to promote and then mark for minutes.
 *
 * A nonce issued here names its slot: `<issued ms, base 36>.<instance><seq, base 36>.<tag, base 36>.<signature>`.
 * The instance is random per process, so another replica's nonce, or one issued before a restart, is never taken
 * for one of ours; the slot keeps the issue time, the tag (48 random bits) and the signature's characters as
 * numbers, so that only the very text issued is found there (anything else is checked by its HMAC). A nonce
 * from elsewhere that verified by its HMAC is adopted into a slot of its own at its first answer, found again by
 * its text (a Map kept to the live ones).
 *
 * A slot is reused after `capacity` more nonces: the oldest issued is forgotten first. What outlives the slot is
 * one bit per nonce of this ring's — answered or not — for the last `32 × slots` nonces issued (4 bytes a slot,
 * as Kamailio's auth module keeps a nonce-count byte per nonce id beyond its in-flight set): a nonce forgotten
 * before its answer came, its challenge's answer delayed by a lost datagram and its retransmissions while
 * thousands of nonces a second are issued, is still taken once (`answerForgotten`), and a forgotten nonce that was
 * answered is stale, never taken for a first answer. An adopted nonce (another replica's) answered and forgotten
 * while still inside its TTL raises `evictedIssuedUpTo` to its issue time, so the digest server answers every
 * nonce from elsewhere issued up to then that it no longer remembers stale.
 */
export interface NonceRing {
  /** A new nonce: its body signed with `key` by `sign` (the signature its last field), remembered. */
  issue(key: Buffer, now: number, sign: (body: string, key: Buffer) => string): string;
  /** The slot remembering `nonce` (issued or adopted here and not yet forgotten), or -1. */
  find(nonce: string): number;
  /** The key that signed the nonce of a slot. */
  keyAt(slot: number): Buffer;
  /** The last nonce-count answered on the nonce of a slot, or -1 before its first answer. */
  countAt(slot: number): number;
  /** Records an answer's nonce-count on the nonce of a slot. */
  answered(slot: number, nc: number): void;
  /**
   * A nonce of this ring's no longer in a slot: `first` when it was never answered (its answer is recorded now:
   * the next is `answered`), `answered` when it was or when it is too old for the bits to say, `foreign` when it
   * is not of this ring's (another replica's, this process's before a restart).
   */
  answerForgotten(nonce: string): 'first' | 'answered' | 'foreign';
  /** Remembers a nonce not issued here (another replica's, or this one's before a restart) at its first answer. */
  adopt(nonce: string, issuedAt: number, key: Buffer, nc: number, now: number): void;
  /** Issue time of the newest answered adopted nonce forgotten while inside its TTL (-1: none). */
  readonly evictedIssuedUpTo: number;
  /** Nonces remembered and still inside their TTL at `now`. */
  remembered(now: number): number;
}

/** The issue time (epoch ms) a nonce's first field names, base 36; NaN when it does not. */
export function nonceIssuedAt(nonce: string): number {
  const dot = nonce.indexOf('.');
  return dot <= 0 ? Number.NaN : base36(nonce, 0, dot);
}

/** Characters of a signature kept per slot: 132 bits of base64url, 48 bits to a number (exact in a double). */
const SIGNATURE_LENGTH = 22;
const PER_NUMBER = 8;

/** The 6-bit value of a base64url character (RFC 4648 §5), -1 for any other. */
function sextet(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
  return c === 0x2d ? 62 : c === 0x5f ? 63 : -1;
}

/** Characters `from` to `to` (at most PER_NUMBER) of base64url text as one number; -1 if one is not base64url. */
function base64urlNumber(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const v = sextet(text.charCodeAt(i));
    if (v < 0) return -1;
    value = value * 64 + v;
  }
  return value;
}

/** The base-36 number of `text` from `from` to `to`, NaN if a character is not a base-36 digit or it is empty. */
function base36(text: string, from: number, to: number): number {
  if (to <= from || to - from > 10) return Number.NaN;
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x7a ? c - 0x57 : -1;
    if (digit < 0) return Number.NaN;
    value = value * 36 + digit;
  }
  return value;
}

export function createNonceRing(options: {
  capacity: number;
  ttlMs: number;
  /** Nonces issued at or before this time (epoch ms) count as forgotten while answered (`evictedIssuedUpTo`). */
  forgottenUpTo?: number;
}): NonceRing {
  const capacity = Math.max(1, options.capacity);
  const ttl = options.ttlMs;
  const instance = randomBase64url(6);
  let size = Math.min(capacity, FIRST_SLOTS);
  // Per slot: the sequence number of the nonce in it (-1: empty), its tag (NaN: adopted), when it was issued,
  // the last nonce-count answered (-1: none yet), and the key that signed it.
  let seqs = new Float64Array(size).fill(-1);
  let tags = new Float64Array(size);
  let issued = new Float64Array(size);
  let counts = new Float64Array(size);
  // The signature's characters, PER_NUMBER to a number: three numbers per slot.
  let signatures = new Float64Array(size * 3);
  let keys: (Buffer | undefined)[] = new Array<Buffer | undefined>(size).fill(undefined);
  // One bit per sequence number, `seq % window`: set once a nonce is answered, cleared when it is issued. The
  // window is 32 sequence numbers a slot, one 32-bit word a slot.
  let answeredBits = new Uint32Array(size);
  let window = size * 32;
  /** Nonces adopted from elsewhere, by their text: the sequence number of their slot. */
  const adopted = new Map<string, number>();
  let next = 0;
  let evictedIssuedUpTo = options.forgottenUpTo ?? -1;
  // The issue time in base 36, kept for the millisecond it names (challenges come several per millisecond).
  let stampedAt = Number.NaN;
  let stamp = '';

  const grow = () => {
    const bigger = Math.min(capacity, size * 2);
    const widen = (from: Float64Array, fill: number, perSlot = 1) => {
      const to = new Float64Array(bigger * perSlot).fill(fill);
      to.set(from);
      return to;
    };
    seqs = widen(seqs, -1);
    tags = widen(tags, 0);
    issued = widen(issued, 0);
    counts = widen(counts, 0);
    signatures = widen(signatures, 0, 3);
    keys = keys.concat(new Array<Buffer | undefined>(bigger - size).fill(undefined));
    // Every sequence number issued is under the old window (the ring grows before its first reuse), so each
    // bit keeps its place.
    const bits = new Uint32Array(bigger);
    bits.set(answeredBits);
    answeredBits = bits;
    window = bigger * 32;
    size = bigger;
  };

  /** A new sequence number, what was in its slot (`seq % size`) forgotten. */
  const claim = (now: number): number => {
    // Until the ring is full, sequence numbers are slots; it grows before the first reuse.
    if (next >= size && size < capacity) grow();
    const seq = next++;
    const slot = seq % size;
    // A nonce of this ring's leaves its answered bit behind. An adopted one never answered opens no replay
    // forgotten: a first answer to it is checked by its HMAC; answered, nothing says so once its slot goes.
    if (seqs[slot]! >= 0 && counts[slot]! >= 0 && now - issued[slot]! < ttl && Number.isNaN(tags[slot]!))
      evictedIssuedUpTo = Math.max(evictedIssuedUpTo, issued[slot]!);
    const bit = seq % window;
    answeredBits[bit >>> 5]! &= ~(1 << (bit & 31));
    if (adopted.size > capacity + 1024)
      for (const [text, s] of adopted) if (seqs[s % size] !== s) adopted.delete(text);
    return seq;
  };

  // Where `ownForm` found the nonce's three dots, read by its callers right after it returned true.
  let first = -1;
  let second = -1;
  let third = -1;
  /** Whether `nonce` is in this ring's form (this instance's, signature of its length); its dots kept. */
  const ownForm = (nonce: string): boolean => {
    first = nonce.indexOf('.');
    second = first < 0 ? -1 : nonce.indexOf('.', first + 1);
    third = second < 0 ? -1 : nonce.indexOf('.', second + 1);
    return (
      third > 0 &&
      second - first > INSTANCE_LENGTH + 1 &&
      nonce.length - third - 1 === SIGNATURE_LENGTH &&
      nonce.startsWith(instance, first + 1)
    );
  };
  /** The sequence number a nonce in this ring's form names (NaN when not a number), or -1 for any other nonce. */
  const ownSeq = (nonce: string): number =>
    ownForm(nonce) ? base36(nonce, first + 1 + INSTANCE_LENGTH, second) : -1;

  /** Sets the answered bit of `seq`. */
  const markAnswered = (seq: number) => {
    const bit = seq % window;
    answeredBits[bit >>> 5]! |= 1 << (bit & 31);
  };

  /** The slot holding `nonce`, or -1. */
  const locate = (nonce: string): number => {
    if (ownForm(nonce)) {
      const seq = base36(nonce, first + 1 + INSTANCE_LENGTH, second);
      if (Number.isNaN(seq)) return -1;
      const slot = seq % size;
      if (
        seqs[slot] !== seq ||
        tags[slot] !== base36(nonce, second + 1, third) ||
        issued[slot] !== base36(nonce, 0, first)
      )
        return -1;
      for (let k = 0; k < 3; k++) {
        const from = third + 1 + k * PER_NUMBER;
        const to = Math.min(nonce.length, from + PER_NUMBER);
        if (signatures[slot * 3 + k] !== base64urlNumber(nonce, from, to)) return -1;
      }
      return slot;
    }
    const adoptedSeq = adopted.get(nonce);
    if (adoptedSeq === undefined) return -1;
    if (seqs[adoptedSeq % size] === adoptedSeq) return adoptedSeq % size;
    adopted.delete(nonce);
    return -1;
  };

  return {
    issue(key, clock, sign) {
      // Whole milliseconds: the text names them in base 36, and a fraction would put a dot in it.
      const now = Math.floor(clock);
      const seq = claim(now);
      const slot = seq % size;
      const tag = randomUint48();
      if (now !== stampedAt) {
        stampedAt = now;
        stamp = now.toString(36);
      }
      const body = `${stamp}.${instance}${seq.toString(36)}.${tag.toString(36)}`;
      const signature = sign(body, key);
      seqs[slot] = seq;
      tags[slot] = tag;
      issued[slot] = now;
      counts[slot] = -1;
      keys[slot] = key;
      for (let k = 0; k < 3; k++)
        signatures[slot * 3 + k] = base64urlNumber(
          signature,
          k * PER_NUMBER,
          Math.min(signature.length, (k + 1) * PER_NUMBER),
        );
      return `${body}.${signature}`;
    },
    find: locate,
    keyAt: (slot) => keys[slot]!,
    countAt: (slot) => counts[slot]!,
    answered(slot, nc) {
      counts[slot] = nc;
      markAnswered(seqs[slot]!);
    },
    answerForgotten(nonce) {
      const seq = ownSeq(nonce);
      if (seq === -1) return 'foreign';
      // Issued here (the caller checked its HMAC) and under the window: its bit says whether it was answered.
      if (!(seq < next && next - seq <= window)) return 'answered';
      const bit = seq % window;
      if ((answeredBits[bit >>> 5]! & (1 << (bit & 31))) !== 0) return 'answered';
      markAnswered(seq);
      return 'first';
    },
    adopt(nonce, issuedAt, key, nc, now) {
      const seq = claim(now);
      const slot = seq % size;
      seqs[slot] = seq;
      tags[slot] = Number.NaN;
      issued[slot] = issuedAt;
      counts[slot] = nc;
      keys[slot] = key;
      // The nonce was cut from the Authorization header: kept, it would keep the request's text alive.
      adopted.set(detachString(nonce), seq);
    },
    get evictedIssuedUpTo() {
      return evictedIssuedUpTo;
    },
    remembered(now) {
      let n = 0;
      for (let slot = 0; slot < size; slot++) if (seqs[slot]! >= 0 && now - issued[slot]! < ttl) n++;
      return n;
    },
  };
}
