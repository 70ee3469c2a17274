import type { RemoteInfo } from 'node:dgram';
import type { PortAllocator, PortPair } from './port-allocator.js';
import { RtpStats, type StreamStats } from './rtp-stats.js';
import { offeredStreams, rewriteSdp, type OfferedStream } from './sdp-rewrite.js';

type Side = 'a' | 'b';
const other = (side: Side): Side => (side === 'a' ? 'b' : 'a');

interface Address {
  address: string;
  port: number;
}

/**
 * The relay end one party sends one stream to: a port pair, what the party's SDP asked for, where its packets
 * really come from (latched), and the stats of what it sent. Packets to that party leave from this same pair,
 * so the party sees symmetric RTP (RFC 4961).
 */
interface Leg {
  pair: PortPair;
  offered?: OfferedStream;
  latchedRtp?: Address;
  latchedRtcp?: Address;
  stats: RtpStats;
  dropped: number;
}

export interface RelayOptions {
  /** The address parties are told to send to. */
  advertised: string;
  /** Only accept a party's packets from the address its SDP gave (no latching to another source). */
  strictSource?: boolean;
}

export interface SdpFlags {
  replaceOrigin: boolean;
  removeIce: boolean;
  strictSource: boolean;
}

/** One call through the relay: two parties (sides a and b, by their tags), one leg per side and stream. */
export class MediaCall {
  readonly created = Date.now();
  lastSignal = Date.now();
  private readonly tags = new Map<string, Side>();
  private readonly legs: Record<Side, Leg[]> = { a: [], b: [] };
  private strict = false;
  private closed = false;

  constructor(
    readonly callId: string,
    private readonly ports: PortAllocator,
    private readonly options: RelayOptions,
  ) {}

  /** Which side a tag is; a new tag takes side a if free, else b. */
  private sideOf(tag: string, preferred?: Side): Side {
    const known = this.tags.get(tag);
    if (known) return known;
    const taken = new Set(this.tags.values());
    const side: Side = preferred && !taken.has(preferred) ? preferred : taken.has('a') ? 'b' : 'a';
    if (taken.has(side)) throw new Error(`call ${this.callId} already has two parties`);
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
    const offerer = answerTo === undefined ? undefined : this.sideOf(answerTo, 'a');
    const side = this.sideOf(fromTag, offerer ? other(offerer) : 'a');
    const streams = offeredStreams(sdp);
    for (const stream of streams) {
      for (const s of ['a', 'b'] as const) {
        if (!this.legs[s][stream.index]) this.legs[s][stream.index] = await this.newLeg(s, stream.index);
      }
      const leg = this.legs[side][stream.index]!;
      const changed =
        !leg.offered || leg.offered.address !== stream.address || leg.offered.rtpPort !== stream.rtpPort;
      leg.offered = stream;
      if (changed) {
        // A new address for the party (re-INVITE to another device, hold with 0.0.0.0): latch again.
        leg.latchedRtp = undefined;
        leg.latchedRtcp = undefined;
      }
      leg.stats.setClockRates(stream.clockRates);
    }
    const facingOther = this.legs[other(side)];
    return rewriteSdp(sdp, {
      address: this.options.advertised,
      ports: streams.map((s) => (s.disabled ? undefined : facingOther[s.index]?.pair.port)),
      replaceOrigin: flags.replaceOrigin,
      removeIce: flags.removeIce,
    });
  }

  private async newLeg(side: Side, index: number): Promise<Leg> {
    const pair = await this.ports.allocate();
    if (this.closed) {
      this.ports.release(pair);
      throw new Error(`call ${this.callId} was deleted`);
    }
    const leg: Leg = { pair, stats: new RtpStats(), dropped: 0 };
    pair.rtp.on('message', (packet, from) => this.receive(side, index, packet, from, false));
    pair.rtcp.on('message', (packet, from) => this.receive(side, index, packet, from, true));
    return leg;
  }

  /** A packet from the party of `side` on stream `index`: latch, count, send on to the other party. */
  private receive(side: Side, index: number, packet: Buffer, from: RemoteInfo, rtcpPort: boolean): void {
    const leg = this.legs[side][index];
    if (!leg) return;
    // RFC 5761 §4: with rtcp-mux, RTCP shares the RTP port; packet types 200-204 (SR, RR, SDES, BYE, APP).
    const rtcp = rtcpPort || (packet.length > 1 && packet[1]! >= 200 && packet[1]! <= 204);
    if (this.strict && leg.offered && from.address !== leg.offered.address) {
      leg.dropped++;
      return;
    }
    const now = Date.now();
    if (rtcp) {
      leg.latchedRtcp ??= { address: from.address, port: from.port };
      leg.stats.rtcp(packet, now);
    } else {
      // Symmetric RTP latching: the party's first packet tells where it really is (behind NAT, the SDP lies).
      leg.latchedRtp ??= { address: from.address, port: from.port };
      leg.stats.rtp(packet, now);
    }
    const out = this.legs[other(side)][index];
    const dest = out && destination(out, rtcp, rtcpPort);
    if (!out || !dest) {
      leg.dropped++;
      return;
    }
    (rtcpPort ? out.pair.rtcp : out.pair.rtp).send(packet, dest.port, dest.address);
  }

  /** The newest packet of any stream, or the last signal: what the media timeout is measured from. */
  get lastActivity(): number {
    let last = this.lastSignal;
    for (const side of ['a', 'b'] as const) {
      for (const leg of this.legs[side]) if (leg) last = Math.max(last, leg.stats.lastPacketAt);
    }
    return last;
  }

  /** Stats of what each party sent, per stream, shaped like RTPengine's `query` reply. */
  report(): {
    tags: Record<string, { medias: { index: number; streams: { stats: Record<string, number> }[] }[] }>;
    totals: { RTP: { packets: number; bytes: number }; RTCP: { packets: number } };
  } {
    const tags: Record<
      string,
      { medias: { index: number; streams: { stats: Record<string, number> }[] }[] }
    > = {};
    const totals = { RTP: { packets: 0, bytes: 0 }, RTCP: { packets: 0 } };
    for (const side of ['a', 'b'] as const) {
      const tag = this.tagOf(side);
      const medias = this.legs[side].flatMap((leg, index) => {
        if (!leg) return [];
        const s: StreamStats = leg.stats.snapshot();
        totals.RTP.packets += s.packets;
        totals.RTP.bytes += s.bytes;
        totals.RTCP.packets += s.rtcpPackets;
        return [
          {
            index: index + 1,
            streams: [
              {
                stats: {
                  packets: s.packets,
                  bytes: s.bytes,
                  errors: leg.dropped,
                  'packets lost': s.lost,
                  jitter: Math.round(s.jitterMs),
                  'last packet': Math.floor(s.lastPacketAt / 1000),
                },
              },
            ],
          },
        ];
      });
      if (tag) tags[tag] = { medias };
    }
    return { tags, totals };
  }

  /** Frees every port of the call. */
  close(): void {
    this.closed = true;
    for (const side of ['a', 'b'] as const) {
      for (const leg of this.legs[side]) if (leg) this.ports.release(leg.pair);
      this.legs[side] = [];
    }
  }

  get portPairs(): number {
    return this.legs.a.filter(Boolean).length + this.legs.b.filter(Boolean).length;
  }
}

/** Where packets to a party go: where it was seen sending from, else what its SDP said. */
function destination(leg: Leg, rtcp: boolean, rtcpPort: boolean): Address | undefined {
  const offered = leg.offered;
  if (!offered || offered.disabled) return undefined;
  // RFC 3264 §8.4 (and RFC 2543 hold): 0.0.0.0 means "send nothing" until the party is seen sending.
  if (!leg.latchedRtp && (offered.address === '0.0.0.0' || offered.address === '::')) return undefined;
  if (!rtcp) return leg.latchedRtp ?? { address: offered.address, port: offered.rtpPort };
  if (!rtcpPort) return leg.latchedRtp ?? { address: offered.address, port: offered.rtpPort }; // muxed
  return (
    leg.latchedRtcp ?? {
      address: offered.address,
      port: offered.rtcpMux ? offered.rtpPort : offered.rtcpPort,
    }
  );
}
