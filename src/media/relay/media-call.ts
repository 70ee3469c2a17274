import type { DtlsFailureReason, DtlsIdentity } from '../dtls/index.js';
import type { CallRecorder } from '../recording/call-recorder.js';
import { callReport, type CallReport } from './call-report.js';
import { DtlsBridge, type DtlsEdit, type DtlsTermination } from './dtls-bridge.js';
import { LegDtls } from './leg-dtls.js';
import { newIceCredentials, type StunDropReason } from './ice-lite.js';
import { MediaForwarder } from './media-forwarder.js';
import type { SdpFlags } from './ng-args.js';
import type { PortAllocator } from './port-allocator.js';
import { MediaRelayError } from './relay-errors.js';
import { invalidate, muxes, legOnPair, routeTo, SIDES, type Leg } from './relay-leg.js';
import type { StreamStats } from './rtp-stats.js';
import { other, SdesBridge, type CryptoEdit, type Side } from './sdes-bridge.js';
import { midsFor, offeredStreams, rewriteSdp, type OfferedStream } from './sdp-rewrite.js';

export type { CallReport, StreamReport } from './call-report.js';

/** Packets the whole relay forwarded and refused, shared by its calls (the `statistics` totals, metrics). */
export interface RelayCounters {
  packets: number;
  bytes: number;
  errors: number;
  /** SRTP/SRTCP packets refused, by why (`voxgate_media_srtp_dropped_total`). */
  srtpDropped: { malformed: number; auth: number; replay: number };
  /** STUN packets on ICE legs not answered with success, by why (`voxgate_media_stun_dropped_total`). */
  stunDropped: Record<StunDropReason, number>;
  /** Binding requests answered with success. */
  stunAnswered: number;
  /** DTLS records (RFC 7983: first byte 20-63) from a party the relay neither ends nor passes DTLS for. */
  dtlsDropped: number;
  /** DTLS-SRTP handshakes completed. */
  dtlsConnected: number;
  /** DTLS-SRTP handshakes failed, by why (`voxgate_media_dtls_failed_total{reason}`). */
  dtlsFailed: Record<DtlsFailureReason, number>;
}

export interface MediaCallOptions {
  /** The address parties are told to send to. */
  advertised: string;
  counters: RelayCounters;
  /** The relay's certificate for DTLS-SRTP. */
  dtls: DtlsIdentity;
}

/**
 * One call through the relay: two parties (sides a and b, by their tags), one leg per side and stream
 * (`relay-leg.ts`). This class is the call's signalling side — the SDPs of the parties, the legs' ports, the
 * relay's DTLS ends kept in line with them, the call's report (`call-report.ts`); the packets of its legs go
 * through `media-forwarder.ts`.
 */
export class MediaCall {
  readonly created = Date.now();
  lastSignal = Date.now();
  private readonly tags = new Map<string, Side>();
  private readonly legs: Record<Side, Leg[]> = { a: [], b: [] };
  /** SDES-SRTP per stream: which side the relay decrypts and encrypts, with which keys. */
  private readonly crypto: SdesBridge[] = [];
  /** DTLS-SRTP per stream: where the relay ends it, with which roles. */
  private readonly dtls: DtlsBridge[] = [];
  /** The packets of the call's legs (`media-forwarder.ts`). */
  private readonly forwarder: MediaForwarder;
  private closed = false;

  constructor(
    readonly callId: string,
    private readonly ports: PortAllocator,
    private readonly options: MediaCallOptions,
  ) {
    this.forwarder = new MediaForwarder({
      legs: this.legs,
      crypto: this.crypto,
      dtls: this.dtls,
      counters: options.counters,
      advertised: options.advertised,
      tagOf: (side) => this.tagOf(side),
    });
  }

  /** While the call is recorded: every packet received goes to it too. */
  get recorder(): CallRecorder | undefined {
    return this.forwarder.recorder;
  }

  set recorder(recorder: CallRecorder | undefined) {
    this.forwarder.recorder = recorder;
  }

  /** Which side a tag is; a new tag takes side a if free, else b. */
  private sideOf(tag: string, preferred?: Side): Side {
    const known = this.tags.get(tag);
    if (known) return known;
    const taken = new Set(this.tags.values());
    const side: Side = preferred && !taken.has(preferred) ? preferred : taken.has('a') ? 'b' : 'a';
    if (taken.has(side)) {
      throw new MediaRelayError('MEDIA_TOO_MANY_PARTIES', `Call ${this.callId} already has two parties`);
    }
    this.tags.set(tag, side);
    return side;
  }

  tagOf(side: Side): string | undefined {
    for (const [tag, s] of this.tags) if (s === side) return tag;
    return undefined;
  }

  /**
   * An SDP from the party `fromTag` (an offer, or the answer of `fromTag` when `answerTo` names the offerer):
   * remembers where that party receives, makes sure both sides have relay ports for every stream, and returns
   * the SDP the other party gets, pointing at the relay.
   */
  async sdpFrom(fromTag: string, sdp: string, flags: SdpFlags, answerTo?: string): Promise<string> {
    this.lastSignal = Date.now();
    if (flags.strictSource) this.forwarder.strict = true;
    const streams = offeredStreams(sdp);
    const offerer = answerTo === undefined ? undefined : this.sideOf(answerTo, 'a');
    const side = this.sideOf(fromTag, offerer ? other(offerer) : 'a');
    await this.allocateLegs(streams.length);
    for (const stream of streams) {
      // The SIP source replaces the SDP's address, except 0.0.0.0, which puts the stream on hold (RFC 3264 §8.4).
      const held = stream.address === '0.0.0.0' || stream.address === '::';
      if (flags.sourceAddress && !stream.disabled && !held) stream.address = flags.sourceAddress;
      const leg = this.legs[side][stream.index]!;
      const changed =
        !leg.offered || leg.offered.address !== stream.address || leg.offered.rtpPort !== stream.rtpPort;
      // RFC 8445 §9: new credentials from the party are an ICE restart; the relay's change too (RFC 8839 §4.4.1.1).
      const restart =
        leg.offered?.ice !== undefined &&
        stream.ice !== undefined &&
        leg.offered.ice.ufrag !== stream.ice.ufrag;
      if (restart) leg.ice = undefined;
      // A pair ICE checked stays selected while the party keeps doing ICE without a restart, whatever its c=.
      const checked = leg.iceLatched.rtp !== undefined || leg.iceLatched.rtcp !== undefined;
      const keepChecked = checked && !restart && stream.ice !== undefined;
      leg.offered = stream;
      invalidate(leg);
      if ((changed || restart || checked) && !keepChecked) {
        // A new address for the party (re-INVITE to another device, hold with 0.0.0.0): latch again.
        leg.latchedRtp = undefined;
        leg.latchedRtcp = undefined;
        leg.iceLatched = {};
      }
      leg.stats.setClockRates(stream.clockRates);
    }
    const facingOther = this.legs[other(side)];
    const mux = streams.map((s) => muxChoice(flags, s, facingOther[s.index], answerTo !== undefined));
    const dtlsEdits: DtlsEdit[] = [];
    const edits: CryptoEdit[] = streams.map((s) => {
      const dtls = (this.dtls[s.index] ??= new DtlsBridge(this.options.dtls));
      const bridge = (this.crypto[s.index] ??= new SdesBridge());
      if (answerTo === undefined) {
        const d = dtls.offer(side, s, flags.transportProtocol, flags.dtls, flags.sdes.off);
        dtlsEdits.push(d.edit);
        // The SDES bridge sees a party whose DTLS the relay ends as plain RTP.
        return bridge.offer(side, { ...s, protocol: d.senderView }, d.targetView, flags.sdes);
      }
      const d = dtls.answer(side, s, flags.dtls);
      dtlsEdits.push(d.edit);
      return bridge.answer(side, { ...s, protocol: d.answererView });
    });
    const ice = streams.map((s) => {
      const leg = facingOther[s.index];
      if (!leg) return undefined;
      leg.iceOn = wantsIce(flags, s, leg, answerTo !== undefined);
      if (!leg.iceOn) return undefined;
      leg.ice ??= newIceCredentials();
      return leg.ice;
    });
    const rewritten = rewriteSdp(sdp, {
      address: this.options.advertised,
      ports: streams.map((s) => (s.disabled ? undefined : facingOther[s.index]?.pair.port)),
      replaceOrigin: flags.replaceOrigin,
      // `force` replaces the sender's ICE; an answer carries no ICE but the relay's (RFC 8839 §4.2.2).
      removeIce: flags.ice !== 'default' || answerTo !== undefined,
      ice,
      rtcpMux: mux,
      protocols: edits.map((e) => e.protocol),
      cryptos: edits.map((e) => e.crypto),
      dtls: dtlsEdits,
      ...midsFor(streams, {
        generate: flags.generateMid,
        answer: answerTo !== undefined,
        offeredMids: streams.map((st) => facingOther[st.index]?.offered?.mid),
        edits: dtlsEdits,
      }),
    });
    for (const s of streams) {
      for (const sd of SIDES) {
        const leg = this.legs[sd][s.index];
        if (leg) this.syncDtls(leg, this.dtls[s.index]!.termination(sd));
      }
    }
    for (const s of streams) {
      const leg = facingOther[s.index];
      if (!leg) continue;
      leg.sentMux = mux[s.index] === 'add' ? true : mux[s.index] === 'remove' ? false : s.rtcpMux;
      invalidate(leg);
    }
    return rewritten;
  }

  /**
   * Port pairs for `count` streams on both sides. All or nothing: when the range runs out half-way, the pairs
   * this command took are given back, so a refused offer holds no port.
   */
  private async allocateLegs(count: number): Promise<void> {
    const added: [Side, number][] = [];
    try {
      for (let index = 0; index < count; index++) {
        for (const s of SIDES) {
          if (this.legs[s][index]) continue;
          this.legs[s][index] = await this.newLeg(s, index);
          added.push([s, index]);
        }
      }
    } catch (err) {
      for (const [s, index] of added) {
        const leg = this.legs[s][index];
        if (leg) this.ports.release(leg.pair);
        delete this.legs[s][index];
      }
      throw err;
    }
  }

  private async newLeg(side: Side, index: number): Promise<Leg> {
    const pair = await this.ports.allocate();
    if (this.closed) {
      this.ports.release(pair);
      throw new MediaRelayError('MEDIA_CALL_DELETED', `Call ${this.callId} was deleted`);
    }
    const leg = legOnPair(pair);
    const forwarder = this.forwarder;
    pair.rtp.onPacket = (packet, from) => forwarder.receive(side, index, packet, from, false);
    pair.rtcp.onPacket = (packet, from) => forwarder.receive(side, index, packet, from, true);
    return leg;
  }

  /** Brings a leg's DTLS ends in line with where the relay now ends DTLS towards its party. */
  private syncDtls(leg: Leg, termination: DtlsTermination | undefined): void {
    if (leg.dtls?.termination === termination) return;
    leg.dtls?.close();
    leg.dtls = termination
      ? new LegDtls(termination, {
          identity: this.options.dtls,
          counters: this.options.counters,
          socket: (component) => (component === 1 ? leg.pair.rtcp : leg.pair.rtp),
          route: (component) => routeTo(leg, component === 1),
          muxed: () => muxes(leg),
          onFailed: (message) => (this.dtlsFailure ??= message),
        })
      : undefined;
    invalidate(leg);
    leg.dtls?.startClients();
    const early = leg.earlyDtls.splice(0);
    if (leg.dtls) for (const e of early) this.forwarder.dtlsPacket(leg, e.packet, e.from, e.rtcpPort);
  }

  /** The first DTLS failure of the call, for its report. */
  dtlsFailure: string | undefined;

  /** The newest packet of any stream, or the last signal: what the media timeout is measured from. */
  get lastActivity(): number {
    let last = this.lastSignal;
    for (const side of SIDES) {
      for (const leg of this.legs[side])
        if (leg) last = Math.max(last, leg.stats.lastPacketAt, leg.lastCheckAt);
    }
    return last;
  }

  /** What each stream's party sent, in one list (for metrics at the end of the call). */
  streamStats(): StreamStats[] {
    return SIDES.flatMap((side) => this.legs[side].filter(Boolean).map((leg) => leg.stats.snapshot()));
  }

  /** Stats of what each party sent, per stream, shaped like RTPengine's `query` reply. */
  report(): CallReport {
    return callReport(this.legs, (side) => this.tagOf(side));
  }

  /** Frees every port of the call. */
  close(): void {
    this.closed = true;
    for (const side of SIDES) {
      for (const leg of this.legs[side]) {
        leg?.dtls?.close();
        if (leg) this.ports.release(leg.pair);
      }
      this.legs[side] = [];
    }
  }

  get portPairs(): number {
    return this.legs.a.filter(Boolean).length + this.legs.b.filter(Boolean).length;
  }
}

/**
 * What the SDP going to the other party says about rtcp-mux for one stream. ng `rtcp-mux`: `offer`/`require`
 * add it, `demux`/`reject` take it out (the relay then splits RTCP onto the next port for that party);
 * `accept` in an answer keeps it for an offerer that offered it even when the answerer declined.
 */
function muxChoice(
  flags: SdpFlags,
  stream: OfferedStream,
  receiver: Leg | undefined,
  answer: boolean,
): 'add' | 'remove' | undefined {
  if (stream.disabled) return undefined;
  const m = flags.rtcpMux;
  if (m.has('demux') || m.has('reject')) return 'remove';
  if (m.has('offer') || m.has('require')) return 'add';
  if (answer && m.has('accept') && receiver?.offered?.rtcpMux) return 'add';
  return undefined;
}

/**
 * Whether the SDP going to the party of `receiver` carries the relay's ICE-lite (ng `ICE`, see `IceFlag`): in
 * an offer, with `force` or when the offer has ICE or the receiver did ICE before; in an answer, when the
 * receiver (the offerer) offered ICE — unless `remove`.
 */
function wantsIce(flags: SdpFlags, stream: OfferedStream, receiver: Leg, answer: boolean): boolean {
  if (stream.disabled || flags.ice === 'remove') return false;
  const receiverDoesIce = receiver.offered?.ice !== undefined;
  if (answer) return receiverDoesIce;
  return flags.ice === 'force' || stream.ice !== undefined || receiverDoesIce;
}
