import { createCipheriv, timingSafeEqual, type Cipher } from 'node:crypto';
import { HmacSha1 } from './hmac-sha1.js';
import { rtpHeaderLength } from '../rtp-header.js';
import { deriveSessionKeys, type SessionKeys } from './srtp-kdf.js';
import type { SrtpSuite } from './srtp-suites.js';

/** Why a packet was refused; counted by the relay (`voxgate_media_srtp_dropped_total{reason}`). */
export type SrtpDropReason = 'malformed' | 'auth' | 'replay';

export type Unprotected = { ok: true; packet: Buffer } | { ok: false; reason: SrtpDropReason };

/** RFC 3711 §3.3.2: "a replay list … window size of at least 64 MUST be supported". */
const REPLAY_WINDOW = 64n;
/** SSRCs one direction keeps state for; a party changing SSRC often (or forging them) evicts the oldest. */
const MAX_SSRCS = 32;

/**
 * AES-CM (RFC 3711 §4.1.1) without a cipher object per packet: one AES-ECB context per session key encrypts
 * the packet's counter blocks (IV, IV+1, …) into the keystream, which is XORed onto the payload — the same
 * bytes as AES-CTR, without the per-packet key schedule that dominated the cost.
 */
class CounterMode {
  private readonly ecb: Cipher;
  private counters = Buffer.alloc(16 * 12);

  constructor(key: Buffer) {
    this.ecb = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  }

  /** XORs the keystream of `iv` onto `data` into `out` (which may be `data`). */
  apply(iv: Buffer, data: Buffer, out: Buffer): void {
    const blocks = Math.ceil(data.length / 16);
    if (this.counters.length < blocks * 16) this.counters = Buffer.alloc(blocks * 16);
    for (let b = 0; b < blocks; b++) {
      const at = b * 16;
      iv.copy(this.counters, at);
      // The block counter is the IV's last 16 bits plus b (the IV ends in 16 zero bits, so no carry).
      this.counters.writeUInt16BE((iv.readUInt16BE(14) + b) & 0xffff, at + 14);
    }
    const stream = this.ecb.update(this.counters.subarray(0, blocks * 16));
    for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ stream[i]!;
  }
}

/**
 * HMAC-SHA1 (RFC 2104) keyed with one session's authentication key. The tag is written into one scratch
 * buffer per key, valid until the next tag: every caller copies or compares it at once.
 */
class Sha1Mac {
  private readonly hmac: HmacSha1;
  private readonly scratch = Buffer.alloc(20);

  constructor(key: Buffer) {
    this.hmac = new HmacSha1(key);
  }

  tag(message: Buffer, suffix?: Buffer): Buffer {
    this.hmac.tag(message, suffix, this.scratch);
    return this.scratch;
  }
}

/** Per-SSRC state of one direction (RFC 3711 §3.2.1: ROC, s_l, the replay list). */
interface StreamState {
  roc: number;
  /** s_l: the highest sequence number received (or sent), once one was. */
  highestSeq: number;
  /** Highest index authenticated, and the replay bitmap below it (bit i: index highest - i seen). */
  highestIndex: bigint;
  window: bigint;
  started: boolean;
  /** SRTCP: the index of the next packet sent (31 bits, RFC 3711 §3.4). */
  rtcpIndex: number;
  rtcpHighest: number;
  rtcpWindow: bigint;
  rtcpStarted: boolean;
}

/**
 * One direction of SRTP and SRTCP under one master key (RFC 3711): what the relay decrypts from a party with
 * the party's key, or encrypts to a party with the key the relay gave it. AES-CM with HMAC-SHA1 (§4.1.1,
 * §4.2.1); rollover counter and index estimation (§3.3.1, Appendix A); a 64-packet replay window (§3.3.2);
 * state per SSRC, so a party changing SSRC (a new source after hold, a transfer) starts a new stream.
 */
export class SrtpSession {
  private readonly rtpKeys: SessionKeys;
  private readonly rtcpKeys: SessionKeys;
  private readonly rtpCipher: CounterMode;
  private readonly rtcpCipher: CounterMode;
  private readonly rtpMac: Sha1Mac;
  private readonly rtcpMac: Sha1Mac;
  private readonly rocBytes = Buffer.alloc(4);
  private readonly streams = new Map<number, StreamState>();

  constructor(
    readonly suite: SrtpSuite,
    masterKey: Buffer,
    masterSalt: Buffer,
  ) {
    const keys = deriveSessionKeys(suite, masterKey, masterSalt);
    this.rtpKeys = keys.srtp;
    this.rtcpKeys = keys.srtcp;
    this.rtpCipher = new CounterMode(keys.srtp.cipherKey);
    this.rtcpCipher = new CounterMode(keys.srtcp.cipherKey);
    this.rtpMac = new Sha1Mac(keys.srtp.authKey);
    this.rtcpMac = new Sha1Mac(keys.srtcp.authKey);
  }

  /** RTP → SRTP: the payload encrypted, the authentication tag appended (§3.1). */
  protectRtp(packet: Buffer): Buffer | undefined {
    const header = rtpHeaderLength(packet);
    if (header === undefined) return undefined;
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const state = this.state(ssrc);
    // The sender's ROC (§3.3.1) counts wraps of the sequence number. The relay sends what it received, maybe
    // reordered, so it places each packet as a receiver would (Appendix A) and moves forward only.
    const v = state.started ? estimateRoc(state.roc, state.highestSeq, seq) : state.roc;
    if (!state.started || v > state.roc || (v === state.roc && seqNewer(seq, state.highestSeq))) {
      state.roc = v;
      state.highestSeq = seq;
    }
    state.started = true;
    const index = BigInt(v) * 65536n + BigInt(seq);
    const tagLength = this.suite.srtpTagLength;
    const out = Buffer.allocUnsafe(packet.length + tagLength);
    packet.copy(out, 0, 0, header);
    this.rtpCipher.apply(
      rtpIv(this.rtpKeys.salt, ssrc, index),
      packet.subarray(header),
      out.subarray(header),
    );
    const tag = this.rtpTag(out.subarray(0, packet.length), v);
    tag.copy(out, packet.length, 0, tagLength);
    return out;
  }

  /** SRTP → RTP: authenticated, checked against replay, decrypted (§3.3). */
  unprotectRtp(packet: Buffer): Unprotected {
    const tagLength = this.suite.srtpTagLength;
    const header = rtpHeaderLength(packet);
    if (header === undefined || packet.length < header + tagLength) return { ok: false, reason: 'malformed' };
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const known = this.streams.get(ssrc);
    const state = known ?? newState();
    const v = state.started ? estimateRoc(state.roc, state.highestSeq, seq) : state.roc;
    const index = BigInt(v) * 65536n + BigInt(seq);
    const body = packet.subarray(0, packet.length - tagLength);
    // §3.3: "the replay list … SHOULD be checked" before authentication, and updated only after it succeeds.
    if (state.started && isReplay(index, state.highestIndex, state.window))
      return { ok: false, reason: 'replay' };
    const expected = this.rtpTag(body, v).subarray(0, tagLength);
    if (!timingSafeEqual(expected, packet.subarray(packet.length - tagLength)))
      return { ok: false, reason: 'auth' };
    if (!known) this.remember(ssrc, state);
    const plain = Buffer.allocUnsafe(body.length);
    body.copy(plain, 0, 0, header);
    this.rtpCipher.apply(
      rtpIv(this.rtpKeys.salt, ssrc, index),
      body.subarray(header),
      plain.subarray(header),
    );
    // §3.3.1: ROC and s_l are updated from the authenticated packet's index.
    if (!state.started || index > state.highestIndex) {
      const shift = state.started ? index - state.highestIndex : 0n;
      state.window =
        shift >= REPLAY_WINDOW ? 1n : ((state.window << shift) | 1n) & ((1n << REPLAY_WINDOW) - 1n);
      state.highestIndex = index;
      state.roc = v;
      state.highestSeq = seq;
      state.started = true;
    } else {
      state.window |= 1n << (state.highestIndex - index);
    }
    return { ok: true, packet: plain };
  }

  /** RTCP → SRTCP: all but the first 8 bytes encrypted, E flag and index appended, then the tag (§3.4). */
  protectRtcp(packet: Buffer): Buffer | undefined {
    if (packet.length < 8) return undefined;
    const ssrc = packet.readUInt32BE(4);
    const state = this.state(ssrc);
    const index = state.rtcpIndex;
    state.rtcpIndex = (state.rtcpIndex + 1) & 0x7fffffff;
    const tagLength = this.suite.srtcpTagLength;
    const out = Buffer.allocUnsafe(packet.length + 4 + tagLength);
    packet.copy(out, 0, 0, 8);
    this.rtcpCipher.apply(rtcpIv(this.rtcpKeys.salt, ssrc, index), packet.subarray(8), out.subarray(8));
    out.writeUInt32BE((0x80000000 | index) >>> 0, packet.length);
    const tag = this.rtcpMac.tag(out.subarray(0, packet.length + 4));
    tag.copy(out, packet.length + 4, 0, tagLength);
    return out;
  }

  /** SRTCP → RTCP (§3.4): authenticated, replay-checked, decrypted when its E flag says so. */
  unprotectRtcp(packet: Buffer): Unprotected {
    const tagLength = this.suite.srtcpTagLength;
    if (packet.length < 8 + 4 + tagLength) return { ok: false, reason: 'malformed' };
    const end = packet.length - tagLength;
    const authenticated = packet.subarray(0, end);
    const expected = this.rtcpMac.tag(authenticated).subarray(0, tagLength);
    if (!timingSafeEqual(expected, packet.subarray(end))) return { ok: false, reason: 'auth' };
    const word = packet.readUInt32BE(end - 4);
    const encrypted = (word & 0x80000000) !== 0;
    const index = word & 0x7fffffff;
    const ssrc = packet.readUInt32BE(4);
    const state = this.state(ssrc);
    if (state.rtcpStarted) {
      const delta = index - state.rtcpHighest;
      if (delta <= 0) {
        const bit = BigInt(-delta);
        if (bit >= REPLAY_WINDOW || (state.rtcpWindow >> bit) & 1n) return { ok: false, reason: 'replay' };
        state.rtcpWindow |= 1n << bit;
      } else {
        const shift = BigInt(delta);
        state.rtcpWindow =
          shift >= REPLAY_WINDOW ? 1n : ((state.rtcpWindow << shift) | 1n) & ((1n << REPLAY_WINDOW) - 1n);
        state.rtcpHighest = index;
      }
    } else {
      state.rtcpStarted = true;
      state.rtcpHighest = index;
      state.rtcpWindow = 1n;
    }
    const body = packet.subarray(0, end - 4);
    if (!encrypted) return { ok: true, packet: Buffer.from(body) };
    const plain = Buffer.allocUnsafe(body.length);
    body.copy(plain, 0, 0, 8);
    this.rtcpCipher.apply(rtcpIv(this.rtcpKeys.salt, ssrc, index), body.subarray(8), plain.subarray(8));
    return { ok: true, packet: plain };
  }

  private rtpTag(authenticated: Buffer, roc: number): Buffer {
    // §4.2: the authenticated portion is the header and encrypted payload, followed by the ROC (M = … || ROC).
    this.rocBytes.writeUInt32BE(roc >>> 0);
    return this.rtpMac.tag(authenticated, this.rocBytes);
  }

  private state(ssrc: number): StreamState {
    let s = this.streams.get(ssrc);
    if (!s) {
      s = newState();
      this.remember(ssrc, s);
    }
    return s;
  }

  private remember(ssrc: number, state: StreamState): void {
    if (this.streams.size >= MAX_SSRCS) {
      const oldest = this.streams.keys().next().value;
      if (oldest !== undefined) this.streams.delete(oldest);
    }
    this.streams.set(ssrc, state);
  }
}

function newState(): StreamState {
  return {
    roc: 0,
    highestSeq: 0,
    highestIndex: 0n,
    window: 0n,
    started: false,
    rtcpIndex: 0,
    rtcpHighest: 0,
    rtcpWindow: 0n,
    rtcpStarted: false,
  };
}

/**
 * RFC 3711 Appendix A: the receiver's guess of the sender's ROC for sequence number `seq` (never below 0: a
 * packet from before the first one seen is placed in ROC 0, where it fails authentication or the window).
 */
function estimateRoc(roc: number, highestSeq: number, seq: number): number {
  if (highestSeq < 0x8000) return seq - highestSeq > 0x8000 ? Math.max(0, roc - 1) : roc;
  return highestSeq - 0x8000 > seq ? (roc + 1) % 0x100000000 : roc;
}

const seqNewer = (seq: number, than: number) =>
  ((seq - than) & 0xffff) !== 0 && ((seq - than) & 0xffff) < 0x8000;

function isReplay(index: bigint, highest: bigint, window: bigint): boolean {
  if (index > highest) return false;
  const age = highest - index;
  return age >= REPLAY_WINDOW || ((window >> age) & 1n) === 1n;
}

/** One IV buffer for the whole process: each is used (copied into the counter blocks) before the next is made. */
const IV = Buffer.alloc(16);

/** §4.1.1: IV = (k_s · 2^16) XOR (SSRC · 2^64) XOR (i · 2^16). */
function rtpIv(salt: Buffer, ssrc: number, index: bigint): Buffer {
  const iv = IV;
  iv.fill(0, 14);
  salt.copy(iv, 0, 0, 14);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  const high = Number(index >> 32n) & 0xffff;
  const low = Number(index & 0xffffffffn);
  iv.writeUInt16BE(iv.readUInt16BE(8) ^ high, 8);
  iv.writeUInt32BE((iv.readUInt32BE(10) ^ low) >>> 0, 10);
  return iv;
}

/** §3.4 with §4.1.1: the SRTCP index (31 bits) takes the place of the RTP packet index. */
function rtcpIv(salt: Buffer, ssrc: number, index: number): Buffer {
  return rtpIv(salt, ssrc, BigInt(index));
}
