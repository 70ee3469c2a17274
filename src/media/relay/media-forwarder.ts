/**
 * The data plane of one relay call: each packet a party sends is told apart (STUN, DTLS, RTP/RTCP; RFC 7983
 * §7), latched, counted, decrypted and encrypted where the relay ends SRTP, recorded, and sent on from the
 * other party's port pair.
 */
import { performance } from 'node:perf_hooks';
import type { CallRecorder } from '../recording/call-recorder.js';
import type { DtlsBridge } from './dtls-bridge.js';
import { answerBinding } from './ice-lite.js';
import type { RelayCounters } from './media-call.js';
import type { PacketSource } from './relay-socket.js';
import { iceActive, invalidate, muxes, routeTo, type Leg, type Route } from './relay-leg.js';
import { other, type SdesBridge, type Side } from './sdes-bridge.js';

/** Epoch ms at the process's performance clock's zero: packets are timed as this + `performance.now()`. */
const TIME_ORIGIN = performance.timeOrigin;

/** RFC 5761 §4: RTCP packet types 200-204 (SR, RR, SDES, BYE, APP) tell RTCP from RTP on a shared port. */
const isRtcp = (packet: Buffer) => packet.length > 1 && packet[1]! >= 200 && packet[1]! <= 204;

/** The call's legs and per-stream bridges the forwarder reads (the call's own arrays, changed in place). */
export interface ForwardedCall {
  readonly legs: Record<Side, Leg[]>;
  /** SDES-SRTP per stream: which side the relay decrypts and encrypts, with which keys. */
  readonly crypto: SdesBridge[];
  /** DTLS-SRTP per stream: where the relay ends it, with which roles. */
  readonly dtls: DtlsBridge[];
  readonly counters: RelayCounters;
  /** The address parties are told to send to (the recording's destination). */
  readonly advertised: string;
  tagOf(side: Side): string | undefined;
}

export class MediaForwarder {
  /** RTPengine's strict-source, once an SDP asked for it. */
  strict = false;
  /** While the call is recorded: every packet received goes to it too. */
  recorder: CallRecorder | undefined;

  constructor(private readonly call: ForwardedCall) {}

  /**
   * A packet from the party of `side` on stream `index`: latch, count, send on to the other party. `packet` and
   * `from` are lent (`RelaySocket.onPacket`): what is kept past this call is copied.
   */
  receive(side: Side, index: number, packet: Buffer, from: PacketSource, rtcpPort: boolean): void {
    // `legs.a` / `legs.b` by name: `legs[side]` is a keyed load that sees two names and goes megamorphic (a
    // stub-cache lookup per packet: 1.3 % of the relay's CPU under `perf` at 300 calls, a fifth of this function's).
    const legs = this.call.legs;
    const leg = (side === 'a' ? legs.a : legs.b)[index];
    if (!leg) return;
    const counters = this.call.counters;
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
      if (this.call.dtls[index]?.endsAt(side)) {
        // The relay offered the party DTLS and the party connects before its answer reached the relay (a
        // phone's ClientHello races its 200 OK): kept for the association the answer makes.
        if (leg.earlyDtls.length < 4)
          leg.earlyDtls.push({
            packet: Buffer.from(packet),
            from: { address: from.address, port: from.port },
            rtcpPort,
          });
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
    const bridge = this.call.crypto[index];
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
    const now = TIME_ORIGIN + performance.now();
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
      const to = { address: this.call.advertised, port: leg.pair.port + (rtcpPort ? 1 : 0) };
      // The recording's files keep the bytes (queued for their streams): a copy, not the lent packet.
      this.recorder.packet(
        this.call.tagOf(side) ?? side,
        index + 1,
        from,
        to,
        Buffer.from(packet),
        rtcp,
        now,
      );
    }
    const out = (side === 'a' ? legs.b : legs.a)[index];
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

  /** A DTLS packet for the relay's own DTLS end towards the party of `leg`. */
  dtlsPacket(leg: Leg, packet: Buffer, from: PacketSource, rtcpPort: boolean): void {
    // With ICE the checks say where the party is; DTLS from elsewhere is not the party's (RFC 7675).
    if (iceActive(leg) && !leg.iceLatched[rtcpPort ? 'rtcp' : 'rtp'] && !(muxes(leg) && leg.iceLatched.rtp)) {
      leg.dropped++;
      this.call.counters.errors++;
      this.call.counters.dtlsDropped++;
      return;
    }
    // The handshake keeps records (fragments, its transcript): a copy, not the lent packet.
    leg.dtls?.receive(Buffer.from(packet), from, rtcpPort ? 1 : 0);
  }

  /**
   * A STUN packet on an ICE leg: answered as an ICE-lite agent (`ice-lite.ts`). A valid check latches the
   * component it arrived on to its source — a nominated one (USE-CANDIDATE) for good, an unnominated one until
   * a nomination comes (RFC 8445 §8.1.1: the controlling agent nominates).
   */
  private stun(leg: Leg, packet: Buffer, from: PacketSource, rtcpPort: boolean): void {
    const counters = this.call.counters;
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
    const legs = this.call.legs;
    const dtls = this.call.dtls;
    const out = legs[other(side)][index];
    return (
      out !== undefined &&
      out.dtls === undefined &&
      dtls[index] !== undefined &&
      !dtls[index].endsAt(side) &&
      !dtls[index].endsAt(other(side)) &&
      legs[side][index]?.offered?.fingerprints.length !== 0 &&
      out.offered?.fingerprints.length !== 0
    );
  }
}
