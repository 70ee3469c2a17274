import { rtpHeaderLength } from '../rtp-header.js';
import { ReplayWindow } from './replay-window.js';
import { deriveSessionKeys } from './srtp-kdf.js';
import { srtpKey, type SrtpEngine, type SrtpKey } from './srtp-key.js';
import type { SrtpSuite } from './srtp-suites.js';

/** Why a packet was refused; counted by the relay (`voxgate_media_srtp_dropped_total{reason}`). */
export type SrtpDropReason = 'malformed' | 'auth' | 'replay';

export type Unprotected = { ok: true; packet: Buffer } | { ok: false; reason: SrtpDropReason };

/** Refusals carry nothing of the packet: one object per reason. */
const REFUSED: Record<SrtpDropReason, Unprotected> = {
  malformed: Object.freeze({ ok: false, reason: 'malformed' }),
  auth: Object.freeze({ ok: false, reason: 'auth' }),
  replay: Object.freeze({ ok: false, reason: 'replay' }),
};
/** SSRCs one direction keeps state for; a party changing SSRC often (or forging them) evicts the oldest. */
const MAX_SSRCS = 32;

/**
 * One output buffer a lending session writes every packet of one kind into (protected, or unprotected), and
 * the view of it last returned, handed out again while packets keep one length.
 */
class Scratch {
  private space = Buffer.allocUnsafeSlow(2048);
  private view: Buffer | undefined;

  take(length: number): Buffer {
    if (this.view?.length === length) return this.view;
    if (length > this.space.length)
      this.space = Buffer.allocUnsafeSlow(Math.max(length, 2 * this.space.length));
    return (this.view = this.space.subarray(0, length));
  }
}

/** Per-SSRC state of one direction (RFC 3711 §3.2.1: ROC, s_l, the replay list). */
interface StreamState {
  roc: number;
  /** s_l: the highest sequence number received (or sent), once one was. */
  highestSeq: number;
  /** Highest index authenticated, and the replay bitmap below it (bit i: index highest - i seen). */
  highestIndex: number;
  window: ReplayWindow;
  started: boolean;
  /** SRTCP: the index of the next packet sent (31 bits, RFC 3711 §3.4). */
  rtcpIndex: number;
  rtcpHighest: number;
  rtcpWindow: ReplayWindow;
  rtcpStarted: boolean;
}

/**
 * One direction of SRTP and SRTCP under one master key (RFC 3711): what the relay decrypts from a party with
 * the party's key, or encrypts to a party with the key the relay gave it. AES-CM with HMAC-SHA1 (§4.1.1,
 * §4.2.1); rollover counter and index estimation (§3.3.1, Appendix A); a 64-packet replay window (§3.3.2);
 * state per SSRC, so a party changing SSRC (a new source after hold, a transfer) starts a new stream.
 */
export class SrtpSession {
  private readonly rtpKey: SrtpKey;
  private readonly rtcpKey: SrtpKey;
  private readonly streams = new Map<number, StreamState>();
  /** Lending only: where protected and unprotected packets are written, and the result object reused. */
  private readonly sealed: Scratch | undefined;
  private readonly opened: Scratch | undefined;
  private readonly openedResult: { ok: true; packet: Buffer } | undefined;

  constructor(
    readonly suite: SrtpSuite,
    masterKey: Buffer,
    masterSalt: Buffer,
    /** The native addon when it loads, else JavaScript (`srtp-key.ts`); the tests pick one. */
    engine?: SrtpEngine,
    /**
     * Lends what it returns (default false): each packet protected or unprotected, and the `Unprotected` that
     * carries one, are this session's own buffer and object, valid until its next packet of the same kind. For
     * the relay's forwarder, which sends each packet on at once: nothing allocated per packet.
     */
    lend = false,
  ) {
    const keys = deriveSessionKeys(suite, masterKey, masterSalt);
    this.rtpKey = srtpKey(keys.srtp, engine);
    this.rtcpKey = srtpKey(keys.srtcp, engine);
    if (lend) {
      this.sealed = new Scratch();
      this.opened = new Scratch();
      this.openedResult = { ok: true, packet: Buffer.alloc(0) };
    }
  }

  /** A buffer of `length` for a protected packet: the session's own when it lends, else a new one. */
  private sealedOutput(length: number): Buffer {
    return this.sealed ? this.sealed.take(length) : Buffer.allocUnsafe(length);
  }

  private openedOutput(length: number): Buffer {
    return this.opened ? this.opened.take(length) : Buffer.allocUnsafe(length);
  }

  private openedPacket(packet: Buffer): Unprotected {
    const result = this.openedResult;
    if (!result) return { ok: true, packet };
    result.packet = packet;
    return result;
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
    const tagLength = this.suite.srtpTagLength;
    const out = this.sealedOutput(packet.length + tagLength);
    copyHead(packet, out, header);
    this.rtpKey.crypt(ssrc, v >>> 16, indexLow(v, seq), packet, header, packet.length - header, out, header);
    // §4.2: the authenticated portion is the header and encrypted payload, followed by the ROC (M = … || ROC).
    this.rtpKey.sign(out, packet.length, v, out, packet.length, tagLength);
    return out;
  }

  /** SRTP → RTP: authenticated, checked against replay, decrypted (§3.3). */
  unprotectRtp(packet: Buffer): Unprotected {
    const tagLength = this.suite.srtpTagLength;
    const header = rtpHeaderLength(packet);
    if (header === undefined || packet.length < header + tagLength) return REFUSED.malformed;
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const known = this.streams.get(ssrc);
    const state = known ?? newState();
    const v = state.started ? estimateRoc(state.roc, state.highestSeq, seq) : state.roc;
    // The 48-bit index is exact in a double (§3.3.1: i = 2^16 · ROC + SEQ).
    const index = v * 65536 + seq;
    const length = packet.length - tagLength;
    // §3.3: "the replay list … SHOULD be checked" before authentication, and updated only after it succeeds.
    // Newer than the highest: not a replay; else the list says.
    if (state.started && index <= state.highestIndex && state.window.seen(state.highestIndex - index))
      return REFUSED.replay;
    if (!this.rtpKey.verify(packet, length, v, tagLength)) return REFUSED.auth;
    if (!known) this.remember(ssrc, state);
    const plain = this.openedOutput(length);
    copyHead(packet, plain, header);
    this.rtpKey.crypt(ssrc, v >>> 16, indexLow(v, seq), packet, header, length - header, plain, header);
    // §3.3.1: ROC and s_l are updated from the authenticated packet's index.
    if (!state.started || index > state.highestIndex) {
      if (state.started) state.window.advance(index - state.highestIndex);
      else state.window.start();
      state.highestIndex = index;
      state.roc = v;
      state.highestSeq = seq;
      state.started = true;
    } else {
      state.window.mark(state.highestIndex - index);
    }
    return this.openedPacket(plain);
  }

  /** RTCP → SRTCP: all but the first 8 bytes encrypted, E flag and index appended, then the tag (§3.4). */
  protectRtcp(packet: Buffer): Buffer | undefined {
    if (packet.length < 8) return undefined;
    const ssrc = packet.readUInt32BE(4);
    const state = this.state(ssrc);
    const index = state.rtcpIndex;
    state.rtcpIndex = (state.rtcpIndex + 1) & 0x7fffffff;
    const tagLength = this.suite.srtcpTagLength;
    const out = this.sealedOutput(packet.length + 4 + tagLength);
    copyHead(packet, out, 8);
    // §3.4: the SRTCP index (31 bits) takes the place of the RTP packet index in the IV.
    this.rtcpKey.crypt(ssrc, 0, index, packet, 8, packet.length - 8, out, 8);
    out.writeUInt32BE((0x80000000 | index) >>> 0, packet.length);
    // §3.4: the tag covers the header, the encrypted part, the E flag and the index; no ROC.
    this.rtcpKey.sign(out, packet.length + 4, -1, out, packet.length + 4, tagLength);
    return out;
  }

  /** SRTCP → RTCP (§3.4): authenticated, replay-checked, decrypted when its E flag says so. */
  unprotectRtcp(packet: Buffer): Unprotected {
    const tagLength = this.suite.srtcpTagLength;
    if (packet.length < 8 + 4 + tagLength) return REFUSED.malformed;
    const end = packet.length - tagLength;
    if (!this.rtcpKey.verify(packet, end, -1, tagLength)) return REFUSED.auth;
    const word = packet.readUInt32BE(end - 4);
    const encrypted = (word & 0x80000000) !== 0;
    const index = word & 0x7fffffff;
    const ssrc = packet.readUInt32BE(4);
    const state = this.state(ssrc);
    if (state.rtcpStarted) {
      const delta = index - state.rtcpHighest;
      if (delta <= 0) {
        if (state.rtcpWindow.seen(-delta)) return REFUSED.replay;
        state.rtcpWindow.mark(-delta);
      } else {
        state.rtcpWindow.advance(delta);
        state.rtcpHighest = index;
      }
    } else {
      state.rtcpStarted = true;
      state.rtcpHighest = index;
      state.rtcpWindow.start();
    }
    const bodyLength = end - 4;
    const plain = this.openedOutput(bodyLength);
    if (!encrypted) {
      // RFC 3711 §3.4: the E flag clear, the compound packet is carried in the clear (an RTCP packet, tens of
      // bytes: copied byte by byte, as the headers are, rather than through a view `Buffer#copy` would make).
      copyHead(packet, plain, bodyLength);
      return this.openedPacket(plain);
    }
    copyHead(packet, plain, 8);
    this.rtcpKey.crypt(ssrc, 0, index, packet, 8, bodyLength - 8, plain, 8);
    return this.openedPacket(plain);
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
    highestIndex: 0,
    window: new ReplayWindow(),
    started: false,
    rtcpIndex: 0,
    rtcpHighest: 0,
    rtcpWindow: new ReplayWindow(),
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

/**
 * The first `length` bytes of `from` into `to`, which SRTP leaves in the clear (a header: 8 to a few dozen bytes).
 * Byte by byte: `Buffer#copy` of part of a buffer makes a typed-array view of it first, an allocation per packet.
 */
function copyHead(from: Buffer, to: Buffer, length: number): void {
  for (let i = 0; i < length; i++) to[i] = from[i]!;
}

/** The low 32 bits of the 48-bit packet index 2^16 · ROC + SEQ (its high 16 bits are ROC >>> 16). */
const indexLow = (roc: number, seq: number): number => (((roc & 0xffff) << 16) | seq) >>> 0;
