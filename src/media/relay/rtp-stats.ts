/** What the relay saw of one party's stream (the packets it sent), in RTPengine's query vocabulary. */
export interface StreamStats {
  packets: number;
  bytes: number;
  /** Packets missing from the RTP sequence (RFC 3550 §6.4.1, extended sequence numbers). */
  lost: number;
  /** Interarrival jitter, RFC 3550 §6.4.1 / A.8, in milliseconds. */
  jitterMs: number;
  /** Epoch ms of the last packet, 0 before the first. */
  lastPacketAt: number;
  rtcpPackets: number;
  /** RTCP's share of `bytes`. */
  rtcpBytes: number;
}

/**
 * Per-stream RTP accounting. Loss: the extended highest sequence number received minus the first, plus one,
 * minus the packets received (RFC 3550 A.3), never negative (duplicates). Jitter: "J(i) = J(i-1) +
 * (|D(i-1,i)| - J(i-1))/16" (RFC 3550 §6.4.1) over transit times in timestamp units of the payload's clock.
 */
export class RtpStats {
  packets = 0;
  bytes = 0;
  rtcpPackets = 0;
  rtcpBytes = 0;
  lastPacketAt = 0;
  private baseSeq = -1;
  private maxSeq = 0;
  private cycles = 0;
  private jitter = 0;
  private lastTransit: number | undefined;
  private clock = 8000;
  private clockRates: ReadonlyMap<number, number> = new Map();

  /** The payload types' clock rates from the party's SDP (a=rtpmap). */
  setClockRates(rates: ReadonlyMap<number, number>): void {
    this.clockRates = rates;
  }

  rtp(packet: Buffer, now: number): void {
    this.packets++;
    this.bytes += packet.length;
    this.lastPacketAt = now;
    // RFC 3550 §5.1: version 2, and at least the 12-byte fixed header; anything else (SRTP is RTP-shaped too)
    // is relayed and counted but not analysed.
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return;
    const payloadType = packet[1]! & 0x7f;
    const seq = packet.readUInt16BE(2);
    const timestamp = packet.readUInt32BE(4);
    this.clock = this.clockRates.get(payloadType) ?? (payloadType < 96 ? 8000 : this.clock);
    if (this.baseSeq < 0) {
      this.baseSeq = seq;
      this.maxSeq = seq;
    } else {
      const delta = (seq - this.maxSeq + 65536) % 65536;
      if (delta > 0 && delta < 32768) {
        if (seq < this.maxSeq) this.cycles += 65536; // wrapped around
        this.maxSeq = seq;
      }
    }
    const arrival = (now / 1000) * this.clock;
    const transit = arrival - timestamp;
    if (this.lastTransit !== undefined) {
      const d = Math.abs(transit - this.lastTransit);
      // A timestamp jump (new talk spurt, new source) of more than a second is not jitter.
      if (d < this.clock) this.jitter += (d - this.jitter) / 16;
    }
    this.lastTransit = transit;
  }

  rtcp(packet: Buffer, now: number): void {
    this.rtcpPackets++;
    this.rtcpBytes += packet.length;
    this.bytes += packet.length;
    this.lastPacketAt = now;
  }

  snapshot(): StreamStats {
    const expected = this.baseSeq < 0 ? 0 : this.cycles + this.maxSeq - this.baseSeq + 1;
    return {
      packets: this.packets,
      bytes: this.bytes,
      lost: Math.max(0, expected - this.packets),
      jitterMs: Math.round((this.jitter / this.clock) * 1000 * 100) / 100,
      lastPacketAt: this.lastPacketAt,
      rtcpPackets: this.rtcpPackets,
      rtcpBytes: this.rtcpBytes,
    };
  }
}
