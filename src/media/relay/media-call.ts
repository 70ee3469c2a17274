import type { RemoteInfo, Socket } from 'node:dgram';
import type { DtlsFailureReason, DtlsIdentity } from '../dtls/index.js';
import type { CallRecorder } from '../recording/call-recorder.js';
import { DtlsBridge, type DtlsEdit, type DtlsTermination } from './dtls-bridge.js';
import { LegDtls } from './leg-dtls.js';
import { answerBinding, newIceCredentials, type IceCredentials, type StunDropReason } from './ice-lite.js';
import type { SdpFlags } from './ng-args.js';
import type { PortAllocator, PortPair } from './port-allocator.js';
import { MediaRelayError } from './relay-errors.js';
import { RtpStats, type StreamStats } from './rtp-stats.js';
import { SdesBridge, type CryptoEdit, type Side } from './sdes-bridge.js';
import { midsFor, offeredStreams, rewriteSdp, type OfferedStream } from './sdp-rewrite.js';

const other = (side: Side): Side => (side === 'a' ? 'b' : 'a');
const SIDES = ['a', 'b'] as const;

interface Address {
  address: string;
  port: number;
}

interface Route extends Address {
  socket: Socket;
}

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

/**
 * The relay end one party sends one stream to: a port pair, what the party's SDP asked for, where its packets
 * really come from (latched), and the stats of what it sent. Packets to that party leave from this same pair,
 * so the party sees symmetric RTP (RFC 4961).
 */
interface Leg {
  pair: PortPair;
  offered?: OfferedStream;
  /** Whether the SDP the relay sent this party offered (or accepted) rtcp-mux; undefined before any. */
  sentMux?: boolean;
  latchedRtp?: Address;
  latchedRtcp?: Address;
  /** The relay's ICE-lite credentials towards this party, made the first time it gets ICE and then kept. */
  ice?: IceCredentials;
  /** Whether the SDP the relay last sent this party carried the relay's ICE-lite (its STUN is answered). */
  iceOn: boolean;
  /** Which components a valid check latched, and whether that check nominated (USE-CANDIDATE). */
  iceLatched: { rtp?: 'checked' | 'nominated'; rtcp?: 'checked' | 'nominated' };
  /** When the last valid connectivity check came (0: never). */
  lastCheckAt: number;
  /** Where packets to this party go, computed on the first packet after a change (null: nowhere yet). */
  rtpRoute?: Route | null;
  rtcpRoute?: Route | null;
  stats: RtpStats;
  dropped: number;
  /** DTLS that came before the relay knew its roles towards this party (replayed once it does). */
  earlyDtls: { packet: Buffer; from: RemoteInfo; rtcpPort: boolean }[];
  /** Where the relay ends DTLS-SRTP towards this party: the roles and fingerprints, a handshake per component. */
  dtls?: LegDtls;
}

export interface MediaCallOptions {
  /** The address parties are told to send to. */
  advertised: string;
  counters: RelayCounters;
  /** The relay's certificate for DTLS-SRTP. */
  dtls: DtlsIdentity;
}

/** One stream's line in a `query`/`delete` reply (RTPengine's names). */
// Type aliases, not interfaces: the reply is a bencode dictionary, and only aliases fit its index signature.
export type StreamReport = {
  stats: Record<string, number>;
  'local port': number;
  endpoint?: { family: string; address: string; port: number };
};

export type CallReport = {
  tags: Record<string, { tag: string; medias: { index: number; type: string; streams: StreamReport[] }[] }>;
  totals: {
    RTP: { packets: number; bytes: number; errors: number };
    RTCP: { packets: number; bytes: number; errors: number };
  };
};

/** RFC 5761 §4: RTCP packet types 200-204 (SR, RR, SDES, BYE, APP) tell RTCP from RTP on a shared port. */
const isRtcp = (packet: Buffer) => packet.length > 1 && packet[1]! >= 200 && packet[1]! <= 204;

/**
 * A party doing ICE with the relay: it got the relay's ICE-lite and its own SDP has ICE credentials. Media goes
 * to it only where a valid connectivity check came from (RFC 8445 §12: the selected pair), and its RTP does not
 * latch.
 */
const iceActive = (leg: Leg) => leg.iceOn && leg.offered?.ice !== undefined;

/** RFC 5761 §5.1.1: multiplexing is used when the offer had a=rtcp-mux and the answer kept it. */
const muxes = (leg: Leg) => leg.offered !== undefined && leg.offered.rtcpMux && leg.sentMux !== false;

/** One call through the relay: two parties (sides a and b, by their tags), one leg per side and stream. */
export class MediaCall {
  readonly created = Date.now();
  lastSignal = Date.now();
  /** While the call is recorded: every packet received goes to it too. */
  recorder: CallRecorder | undefined;
  private readonly tags = new Map<string, Side>();
  private readonly legs: Record<Side, Leg[]> = { a: [], b: [] };
  /** SDES-SRTP per stream: which side the relay decrypts and encrypts, with which keys. */
  private readonly crypto: SdesBridge[] = [];
  /** DTLS-SRTP per stream: where the relay ends it, with which roles. */
  private readonly dtls: DtlsBridge[] = [];
  private strict = false;
  private closed = false;

  constructor(
    readonly callId: string,
    private readonly ports: PortAllocator,
    private readonly options: MediaCallOptions,
  ) {}

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
    if (flags.strictSource) this.strict = true;
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
    const leg: Leg = {
      pair,
      stats: new RtpStats(),
      dropped: 0,
      iceOn: false,
      iceLatched: {},
      earlyDtls: [],
      lastCheckAt: 0,
    };
    pair.rtp.on('message', (packet, from) => this.receive(side, index, packet, from, false));
    pair.rtcp.on('message', (packet, from) => this.receive(side, index, packet, from, true));
    return leg;
  }

  /** A packet from the party of `side` on stream `index`: latch, count, send on to the other party. */
  private receive(side: Side, index: number, packet: Buffer, from: RemoteInfo, rtcpPort: boolean): void {
    const leg = this.legs[side][index];
    if (!leg) return;
    const counters = this.options.counters;
    // RFC 7983 §7: the first byte tells STUN (0-3) and DTLS (20-63) from RTP/RTCP (128-191).
    const first = packet[0] ?? 0;
    if (first < 4 && leg.iceOn) {
      this.stun(leg, packet, from, rtcpPort);
      return;
    }
    if (first >= 20 && first < 64) {
      if (leg.dtls) {
        this.dtlsPacket(leg, packet, from, rtcpPort);
        return;
      }
      if (this.dtls[index]?.endsAt(side)) {
        // The relay offered the party DTLS and the party connects before its answer reached the relay (a
        // phone's ClientHello races its 200 OK): kept for the association the answer makes.
        if (leg.earlyDtls.length < 4) leg.earlyDtls.push({ packet: Buffer.from(packet), from, rtcpPort });
        return;
      }
      if (!this.passesDtls(side, index)) {
        leg.dropped++;
        counters.errors++;
        counters.dtlsDropped++;
        return;
      }
    }
    if (this.strict && leg.offered && from.address !== leg.offered.address) {
      // RTPengine's strict-source: packets from anywhere but the party's known address are dropped.
      leg.dropped++;
      counters.errors++;
      return;
    }
    const rtcp = rtcpPort || isRtcp(packet);
    const bridge = this.crypto[index];
    const rx = leg.dtls ? leg.dtls.session(rtcpPort, 'rx') : bridge?.rx(side);
    if (leg.dtls && !rx) {
      // Media before the handshake is done cannot be read.
      leg.dropped++;
      counters.errors++;
      return;
    }
    if (rx) {
      // SRTP ended here (RFC 3711 §3.3): a packet that does not authenticate, or replays, goes no further.
      const opened = rtcp ? rx.unprotectRtcp(packet) : rx.unprotectRtp(packet);
      if (!opened.ok) {
        leg.dropped++;
        counters.errors++;
        counters.srtpDropped[opened.reason]++;
        return;
      }
      packet = opened.packet;
    }
    // Sub-millisecond arrival times: jitter of G.711 at 8 kHz is in 125 µs units.
    const now = performance.timeOrigin + performance.now();
    // Symmetric RTP latching: the party's first packet tells where it really is (behind NAT, the SDP lies).
    // With ICE, the connectivity checks tell it instead.
    if (!iceActive(leg) && (rtcpPort ? !leg.latchedRtcp : !leg.latchedRtp)) {
      if (rtcpPort) leg.latchedRtcp = { address: from.address, port: from.port };
      else leg.latchedRtp = { address: from.address, port: from.port };
      invalidate(leg);
    }
    if (rtcp) leg.stats.rtcp(packet, now);
    else leg.stats.rtp(packet, now);
    if (this.recorder) {
      const to = { address: this.options.advertised, port: leg.pair.port + (rtcpPort ? 1 : 0) };
      this.recorder.packet(this.tagOf(side) ?? side, index + 1, from, to, packet, rtcp, now);
    }
    const out = this.legs[other(side)][index];
    let route: Route | null | undefined;
    if (out) {
      if (rtcp) route = out.rtcpRoute === undefined ? (out.rtcpRoute = routeTo(out, true)) : out.rtcpRoute;
      else route = out.rtpRoute === undefined ? (out.rtpRoute = routeTo(out, false)) : out.rtpRoute;
    }
    if (!route) {
      leg.dropped++;
      counters.errors++;
      return;
    }
    const tx = out?.dtls ? out.dtls.session(rtcp, 'tx') : bridge?.tx(other(side));
    if (out?.dtls && !tx) {
      leg.dropped++;
      counters.errors++;
      return;
    }
    if (tx) {
      const sealed = rtcp ? tx.protectRtcp(packet) : tx.protectRtp(packet);
      if (!sealed) {
        leg.dropped++;
        counters.errors++;
        counters.srtpDropped.malformed++;
        return;
      }
      packet = sealed;
    }
    route.socket.send(packet, route.port, route.address);
    counters.packets++;
    counters.bytes += packet.length;
  }

  /**
   * A STUN packet on an ICE leg: answered as an ICE-lite agent (`ice-lite.ts`). A valid check latches the
   * component it arrived on to its source — a nominated one (USE-CANDIDATE) for good, an unnominated one until
   * a nomination comes (RFC 8445 §8.1.1: the controlling agent nominates).
   */
  private stun(leg: Leg, packet: Buffer, from: RemoteInfo, rtcpPort: boolean): void {
    const counters = this.options.counters;
    const outcome = answerBinding(packet, from, leg.ice!, leg.offered?.ice?.ufrag);
    const socket = rtcpPort ? leg.pair.rtcp : leg.pair.rtp;
    if (outcome.kind === 'keepalive') return;
    if (outcome.response) socket.send(outcome.response, from.port, from.address);
    if (outcome.kind === 'refused') {
      leg.dropped++;
      counters.errors++;
      counters.stunDropped[outcome.reason]++;
      return;
    }
    counters.stunAnswered++;
    // Consent checks (RFC 7675, every few seconds) keep a call alive while its media is on hold.
    leg.lastCheckAt = Date.now();
    const component = rtcpPort ? 'rtcp' : 'rtp';
    if (leg.iceLatched[component] === 'nominated' && !outcome.nominated) return;
    const address = { address: from.address, port: from.port };
    if (rtcpPort) leg.latchedRtcp = address;
    else leg.latchedRtp = address;
    leg.iceLatched[component] = outcome.nominated ? 'nominated' : 'checked';
    invalidate(leg);
    // A relay that connects (a=setup:active) knows where to once a check came.
    leg.dtls?.startClients();
  }

  /** DTLS passes end to end on a stream where both parties speak it and the relay ends it for neither. */
  private passesDtls(side: Side, index: number): boolean {
    const out = this.legs[other(side)][index];
    return (
      out !== undefined &&
      out.dtls === undefined &&
      this.dtls[index] !== undefined &&
      !this.dtls[index].endsAt(side) &&
      !this.dtls[index].endsAt(other(side)) &&
      this.legs[side][index]?.offered?.fingerprints.length !== 0 &&
      out.offered?.fingerprints.length !== 0
    );
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
    if (leg.dtls) for (const e of early) this.dtlsPacket(leg, e.packet, e.from, e.rtcpPort);
  }

  /** The first DTLS failure of the call, for its report. */
  dtlsFailure: string | undefined;

  private dtlsPacket(leg: Leg, packet: Buffer, from: RemoteInfo, rtcpPort: boolean): void {
    // With ICE the checks say where the party is; DTLS from elsewhere is not the party's (RFC 7675).
    if (iceActive(leg) && !leg.iceLatched[rtcpPort ? 'rtcp' : 'rtp'] && !(muxes(leg) && leg.iceLatched.rtp)) {
      leg.dropped++;
      this.options.counters.errors++;
      this.options.counters.dtlsDropped++;
      return;
    }
    leg.dtls?.receive(packet, from, rtcpPort ? 1 : 0);
  }

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
    const tags: CallReport['tags'] = {};
    const totals: CallReport['totals'] = {
      RTP: { packets: 0, bytes: 0, errors: 0 },
      RTCP: { packets: 0, bytes: 0, errors: 0 },
    };
    for (const side of SIDES) {
      const tag = this.tagOf(side);
      const medias = this.legs[side].flatMap((leg, index) => {
        if (!leg) return [];
        const s = leg.stats.snapshot();
        totals.RTP.packets += s.packets;
        totals.RTP.bytes += s.bytes - s.rtcpBytes;
        totals.RTP.errors += leg.dropped;
        totals.RTCP.packets += s.rtcpPackets;
        totals.RTCP.bytes += s.rtcpBytes;
        const seen = leg.latchedRtp ?? leg.latchedRtcp;
        const stream: StreamReport = {
          'local port': leg.pair.port,
          stats: {
            packets: s.packets,
            bytes: s.bytes,
            errors: leg.dropped,
            'packets lost': s.lost,
            jitter: Math.round(s.jitterMs),
            'RTCP packets': s.rtcpPackets,
            'last packet': Math.floor(s.lastPacketAt / 1000),
          },
        };
        if (seen) {
          stream.endpoint = {
            family: seen.address.includes(':') ? 'IP6' : 'IP4',
            address: seen.address,
            port: seen.port,
          };
        }
        return [{ index: index + 1, type: leg.offered?.media ?? 'audio', streams: [stream] }];
      });
      if (tag) tags[tag] = { tag, medias };
    }
    return { tags, totals };
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

/** Forgets the cached routes to a party whose address, latch or multiplexing changed. */
function invalidate(leg: Leg): void {
  leg.rtpRoute = undefined;
  leg.rtcpRoute = undefined;
}

/** Where, and from which socket, a packet to the party of `leg` goes; null when nowhere yet. */
function routeTo(leg: Leg, rtcp: boolean): Route | null {
  const offered = leg.offered;
  if (!offered || offered.disabled) return null;
  // RFC 3264 §8.4: "the offerer can set the connection address to 0.0.0.0" to put a stream on hold; nothing is
  // sent there until the party is seen sending.
  if (iceActive(leg)) {
    // Only where a connectivity check came from (RFC 7675: consent), never the SDP's address.
    if (!rtcp || muxes(leg)) return leg.latchedRtp ? { socket: leg.pair.rtp, ...leg.latchedRtp } : null;
    return leg.latchedRtcp ? { socket: leg.pair.rtcp, ...leg.latchedRtcp } : null;
  }
  const held = offered.address === '0.0.0.0' || offered.address === '::';
  if (held && !leg.latchedRtp && !leg.latchedRtcp) return null;
  const rtp = leg.latchedRtp ?? { address: offered.address, port: offered.rtpPort };
  if (!rtcp || muxes(leg)) return { socket: leg.pair.rtp, ...rtp };
  const rtcpTo = leg.latchedRtcp ?? {
    address: leg.latchedRtp?.address ?? offered.address,
    port: offered.rtcpPort,
  };
  return { socket: leg.pair.rtcp, ...rtcpTo };
}
