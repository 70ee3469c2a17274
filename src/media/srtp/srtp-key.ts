/**
 * The two per-packet primitives of SRTP under one direction's session keys: AES-CM (RFC 3711 §4.1.1) and the
 * HMAC-SHA1 tag (§4.2.1). `SrtpSession` keeps the packet logic (ROC, index, replay) and calls these.
 *
 * Two engines compute the same bytes:
 * - `native`: the addon `native/srtp-crypto` (built into `dist/native/srtp-crypto.node` by
 *   `scripts/build-native.mjs`) on the OpenSSL inside Node.js: a key holds its AES-CTR context and its HMAC
 *   states, a packet is one call into C++ that writes into the caller's buffer and allocates nothing.
 * - `javascript`: one AES-ECB context per key that encrypts the packet's counter blocks, and HMAC-SHA1 in
 *   JavaScript with the key's inner and outer states hashed once (`hmac-sha1.ts`). Used where the addon is not
 *   built (no compiler, not Linux) and in the tests that hold the engines to each other.
 */
import { createCipheriv, timingSafeEqual, type Cipher } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { HmacSha1 } from './hmac-sha1.js';
import type { SessionKeys } from './srtp-kdf.js';

export type SrtpEngine = 'native' | 'javascript';

/** One direction's session keys, ready for packets. */
export interface SrtpKey {
  /**
   * `out[outStart, +length)` = `src[srcStart, +length)` XOR the keystream of the packet `index` (48 bits, given as
   * its high 16 and low 32 bits) of source `ssrc`; `out` may be `src`.
   */
  crypt(
    ssrc: number,
    indexHigh: number,
    indexLow: number,
    src: Uint8Array,
    srcStart: number,
    length: number,
    out: Uint8Array,
    outStart: number,
  ): void;
  /** The first `tagLength` bytes of HMAC(data[0, length) || ROC) into `out` at `outStart`; `roc` < 0: none (SRTCP). */
  sign(
    data: Uint8Array,
    length: number,
    roc: number,
    out: Uint8Array,
    outStart: number,
    tagLength: number,
  ): void;
  /** Whether `data[length, +tagLength)` is that tag of `data[0, length)`, compared in constant time. */
  verify(data: Uint8Array, length: number, roc: number, tagLength: number): boolean;
}

/** The addon's functions: `SrtpKey`'s, with the opaque key the addon made first. */
interface Addon {
  key(cipherKey: Uint8Array, salt: Uint8Array, authKey: Uint8Array): object;
  crypt(key: object, ...packet: Parameters<SrtpKey['crypt']>): void;
  sign(key: object, ...packet: Parameters<SrtpKey['sign']>): void;
  verify(key: object, ...packet: Parameters<SrtpKey['verify']>): boolean;
}

/** From dist/src/media/srtp (the build) or src/media/srtp (tests through tsx). */
const CANDIDATES = ['../../../native/srtp-crypto.node', '../../../dist/native/srtp-crypto.node'];

let loaded: Addon | Error | undefined;

function addon(): Addon | Error {
  if (loaded) return loaded;
  const path = CANDIDATES.map((c) => fileURLToPath(new URL(c, import.meta.url))).find((p) => existsSync(p));
  if (!path) return (loaded = new Error('the SRTP addon is not built (npm run build:native)'));
  try {
    loaded = createRequire(import.meta.url)(path) as Addon;
  } catch (err) {
    loaded = new Error(`the SRTP addon at ${path} did not load: ${(err as Error).message}`);
  }
  return loaded;
}

/** The engine SRTP runs on in this process, and why not the native one when it is not. */
export function srtpEngine(): { engine: SrtpEngine; reason?: string } {
  const found = addon();
  return found instanceof Error ? { engine: 'javascript', reason: found.message } : { engine: 'native' };
}

/** A key on `engine` (by default the native one when the addon loads, else JavaScript). */
export function srtpKey(keys: SessionKeys, engine: SrtpEngine = srtpEngine().engine): SrtpKey {
  if (engine === 'javascript') return new JavaScriptKey(keys);
  const found = addon();
  if (found instanceof Error) throw found;
  const key = found.key(keys.cipherKey, keys.salt, keys.authKey);
  // Parameters written out, not spread: a packet's call makes no array.
  return {
    crypt: (ssrc, indexHigh, indexLow, src, srcStart, length, out, outStart) =>
      found.crypt(key, ssrc, indexHigh, indexLow, src, srcStart, length, out, outStart),
    sign: (data, length, roc, out, outStart, tagLength) =>
      found.sign(key, data, length, roc, out, outStart, tagLength),
    verify: (data, length, roc, tagLength) => found.verify(key, data, length, roc, tagLength),
  };
}

/** One IV buffer for the whole process: each is used (copied into the counter blocks) before the next is made. */
const IV = Buffer.alloc(16);

class JavaScriptKey implements SrtpKey {
  private readonly ecb: Cipher;
  private readonly hmac: HmacSha1;
  private readonly salt: Buffer;
  private counters = Buffer.alloc(16 * 12);
  private readonly digest = Buffer.alloc(20);
  private readonly rocBytes = Buffer.alloc(4);

  constructor(keys: SessionKeys) {
    this.ecb = createCipheriv('aes-128-ecb', keys.cipherKey, null).setAutoPadding(false);
    this.hmac = new HmacSha1(keys.authKey);
    this.salt = keys.salt;
  }

  crypt(
    ssrc: number,
    indexHigh: number,
    indexLow: number,
    src: Uint8Array,
    srcStart: number,
    length: number,
    out: Uint8Array,
    outStart: number,
  ): void {
    // §4.1.1: IV = (k_s · 2^16) XOR (SSRC · 2^64) XOR (i · 2^16).
    const iv = IV;
    iv.fill(0, 14);
    this.salt.copy(iv, 0, 0, 14);
    iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
    iv.writeUInt16BE(iv.readUInt16BE(8) ^ (indexHigh & 0xffff), 8);
    iv.writeUInt32BE((iv.readUInt32BE(10) ^ indexLow) >>> 0, 10);
    // AES-CM without a cipher object per packet: the counter blocks IV, IV+1, … encrypted in one ECB update.
    const blocks = Math.ceil(length / 16);
    if (this.counters.length < blocks * 16) this.counters = Buffer.alloc(blocks * 16);
    for (let b = 0; b < blocks; b++) {
      const at = b * 16;
      iv.copy(this.counters, at);
      // The block counter is the IV's last 16 bits plus b (the IV ends in 16 zero bits, so no carry).
      this.counters.writeUInt16BE((iv.readUInt16BE(14) + b) & 0xffff, at + 14);
    }
    const stream = this.ecb.update(this.counters.subarray(0, blocks * 16));
    for (let i = 0; i < length; i++) out[outStart + i] = src[srcStart + i]! ^ stream[i]!;
  }

  sign(
    data: Uint8Array,
    length: number,
    roc: number,
    out: Uint8Array,
    outStart: number,
    tagLength: number,
  ): void {
    this.mac(data, length, roc);
    for (let i = 0; i < tagLength; i++) out[outStart + i] = this.digest[i]!;
  }

  verify(data: Uint8Array, length: number, roc: number, tagLength: number): boolean {
    this.mac(data, length, roc);
    return timingSafeEqual(this.digest.subarray(0, tagLength), data.subarray(length, length + tagLength));
  }

  private mac(data: Uint8Array, length: number, roc: number): void {
    // §4.2: the authenticated portion is followed by the ROC for SRTP (M = Authenticated Portion || ROC).
    let suffix: Buffer | undefined;
    if (roc >= 0) {
      this.rocBytes.writeUInt32BE(roc >>> 0);
      suffix = this.rocBytes;
    }
    this.hmac.tag(data.subarray(0, length), suffix, this.digest);
  }
}
