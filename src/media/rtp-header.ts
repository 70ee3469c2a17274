/**
 * The RTP fixed header's length (RFC 3550 §5.1: 12 bytes, then 4 per CSRC, then a header extension of
 * 4 + 4 × its length in words); undefined when the packet is not RTP version 2 or is shorter than its header.
 * What the SRTP layer protects after, and where the recorder's payload begins.
 */
export function rtpHeaderLength(packet: Buffer): number | undefined {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined;
  let length = 12 + 4 * (packet[0]! & 0x0f);
  if (packet[0]! & 0x10) {
    if (packet.length < length + 4) return undefined;
    length += 4 + 4 * packet.readUInt16BE(length + 2);
  }
  return length <= packet.length ? length : undefined;
}
