/**
 * HMAC-SHA1 (RFC 2104, SHA-1 of FIPS 180-4) for SRTP's per-packet tags, with the key's inner and outer states
 * computed once: a tag then costs the compression of the message blocks and one outer block, with no object
 * made per packet. node:crypto has no HMAC that keeps its keyed state, and making an `Hmac` per packet was a
 * third of the relay's SRTP cost (docs/performance.md). Checked against node:crypto's HMAC in the tests.
 */

const BLOCK = 64;

/** SHA-1's five-word chaining state. */
type State = Int32Array;

const INITIAL = Int32Array.from([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);

/** FIPS 180-4 §6.1.2: one 512-bit block of `data` at `at` folded into `h`, with `w` as the schedule. */
function compress(h: State, w: Int32Array, data: Uint8Array, at: number): void {
  for (let t = 0; t < 16; t++) {
    const i = at + 4 * t;
    w[t] = (data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!;
  }
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
    w[t] = (x << 1) | (x >>> 31);
  }
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  for (let t = 0; t < 80; t++) {
    let f: number;
    let k: number;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    const temp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = temp;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
}

/** An HMAC-SHA1 key with its inner and outer states hashed once. */
export class HmacSha1 {
  private readonly inner = new Int32Array(5);
  private readonly outer = new Int32Array(5);
  private readonly h = new Int32Array(5);
  private readonly w = new Int32Array(80);
  /** The message's tail and the padding: at most two blocks. */
  private readonly tail = new Uint8Array(2 * BLOCK);
  private readonly outerBlock = new Uint8Array(BLOCK);

  constructor(key: Uint8Array) {
    if (key.length > BLOCK)
      throw new RangeError('HMAC-SHA1 keys over 64 bytes are hashed first; SRTP uses 20');
    const pad = new Uint8Array(BLOCK);
    for (const [state, byte] of [
      [this.inner, 0x36],
      [this.outer, 0x5c],
    ] as const) {
      pad.fill(byte);
      for (let i = 0; i < key.length; i++) pad[i] = key[i]! ^ byte;
      state.set(INITIAL);
      compress(state, this.w, pad, 0);
    }
  }

  /** HMAC(key, message || suffix) into `out` at `offset` (20 bytes); `suffix` is SRTP's ROC, 4 bytes or none. */
  tag(message: Uint8Array, suffix: Uint8Array | undefined, out: Uint8Array, offset = 0): void {
    const h = this.h;
    const w = this.w;
    // Inner hash: the ipad block is already folded in; the message follows, then the padding (§5.1.1).
    h.set(this.inner);
    const suffixLength = suffix ? suffix.length : 0;
    const length = message.length + suffixLength;
    const whole = message.length - (message.length % BLOCK);
    for (let at = 0; at < whole; at += BLOCK) compress(h, w, message, at);
    const tail = this.tail;
    tail.fill(0);
    let n = 0;
    for (let i = whole; i < message.length; i++) tail[n++] = message[i]!;
    for (let i = 0; i < suffixLength; i++) tail[n++] = suffix![i]!;
    tail[n++] = 0x80;
    const blocks = n + 8 > BLOCK ? 2 : 1;
    writeBitLength(tail, blocks * BLOCK, BLOCK + length);
    compress(h, w, tail, 0);
    if (blocks === 2) compress(h, w, tail, BLOCK);
    // Outer hash: the opad block is folded in; the inner digest (20 bytes) and padding make one block.
    const block = this.outerBlock;
    block.fill(0);
    for (let i = 0; i < 5; i++) writeWord(block, 4 * i, h[i]!);
    block[20] = 0x80;
    writeBitLength(block, BLOCK, BLOCK + 20);
    h.set(this.outer);
    compress(h, w, block, 0);
    for (let i = 0; i < 5; i++) writeWord(out, offset + 4 * i, h[i]!);
  }
}

function writeWord(out: Uint8Array, at: number, word: number): void {
  out[at] = word >>> 24;
  out[at + 1] = (word >>> 16) & 0xff;
  out[at + 2] = (word >>> 8) & 0xff;
  out[at + 3] = word & 0xff;
}

/** The message length in bits, big-endian in the last 8 bytes of `end` bytes of `block` (lengths < 2^32 bits). */
function writeBitLength(block: Uint8Array, end: number, bytes: number): void {
  const bits = bytes * 8;
  writeWord(block, end - 8, Math.floor(bits / 0x100000000));
  writeWord(block, end - 4, bits >>> 0);
}
