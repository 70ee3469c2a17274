/**
 * The relay end one party sends one stream to (`Leg`), and what is read off it: whether the party does ICE
 * with the relay, whether its RTCP is multiplexed, and where packets to it go.
 */
import type { IceCredentials } from './ice-lite.js';
import type { LegDtls } from './leg-dtls.js';
import type { PortPair } from './port-allocator.js';
import type { PacketSource, RelaySocket } from './relay-socket.js';
import { RtpStats } from './rtp-stats.js';
import type { OfferedStream } from './sdp-rewrite.js';

export const SIDES = ['a', 'b'] as const;

export interface Address {
  address: string;
  port: number;
}

export interface Route extends Address {
  socket: RelaySocket;
}

/**
 * The relay end one party sends one stream to: a port pair, what the party's SDP asked for, where its packets
 * really come from (latched), and the stats of what it sent. Packets to that party leave from this same pair,
 * so the party sees symmetric RTP (RFC 4961).
 */
export interface Leg {
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
  earlyDtls: { packet: Buffer; from: PacketSource; rtcpPort: boolean }[];
  /** Where the relay ends DTLS-SRTP towards this party: the roles and fingerprints, a handshake per component. */
  dtls?: LegDtls;
}

/** A leg on a new port pair: nothing offered, latched or counted yet. */
export function legOnPair(pair: PortPair): Leg {
  return {
    pair,
    stats: new RtpStats(),
    dropped: 0,
    iceOn: false,
    iceLatched: {},
    earlyDtls: [],
    lastCheckAt: 0,
  };
}

/**
 * A party doing ICE with the relay: it got the relay's ICE-lite and its own SDP has ICE credentials. Media goes
 * to it only where a valid connectivity check came from (RFC 8445 §12: the selected pair), and its RTP does not
 * latch.
 */
export const iceActive = (leg: Leg) => leg.iceOn && leg.offered?.ice !== undefined;

/** RFC 5761 §5.1.1: multiplexing is used when the offer had a=rtcp-mux and the answer kept it. */
export const muxes = (leg: Leg) => leg.offered !== undefined && leg.offered.rtcpMux && leg.sentMux !== false;

/** Forgets the cached routes to a party whose address, latch or multiplexing changed. */
export function invalidate(leg: Leg): void {
  leg.rtpRoute = undefined;
  leg.rtcpRoute = undefined;
}

/** Where, and from which socket, a packet to the party of `leg` goes; null when nowhere yet. */
export function routeTo(leg: Leg, rtcp: boolean): Route | null {
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
