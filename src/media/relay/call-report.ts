/** What a relay call reports of its streams to ng `query` and `delete` (RTPengine's names and shape). */
import { SIDES, type Leg } from './relay-leg.js';
import type { Side } from './sdes-bridge.js';

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

/** Stats of what each party sent, per stream, shaped like RTPengine's `query` reply. */
export function callReport(legs: Record<Side, Leg[]>, tagOf: (side: Side) => string | undefined): CallReport {
  const tags: CallReport['tags'] = {};
  const totals: CallReport['totals'] = {
    RTP: { packets: 0, bytes: 0, errors: 0 },
    RTCP: { packets: 0, bytes: 0, errors: 0 },
  };
  for (const side of SIDES) {
    const tag = tagOf(side);
    const medias = legs[side].flatMap((leg, index) => {
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
