import { createWriteStream, type WriteStream } from 'node:fs';

/** LINKTYPE_RAW: each record is an IP packet with no link-layer header (tcpdump.org link types). */
const LINKTYPE_RAW = 101;

function ipv4(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

/** RFC 791 header checksum: the one's complement of the one's complement sum of the header's 16-bit words. */
function checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Endpoint {
  address: string;
  port: number;
}

/**
 * A pcap file (libpcap format, microsecond timestamps) of UDP packets, each wrapped in the IPv4 and UDP headers
 * it had on the wire (UDP checksum 0, "no checksum" for IPv4, RFC 768), so Wireshark decodes RTP as is.
 * IPv6 packets are left out.
 */
export class PcapFile {
  private readonly out: WriteStream;

  constructor(readonly path: string) {
    this.out = createWriteStream(path);
    this.out.on('error', () => undefined); // surfaced by close()
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(65535, 16); // snapshot length
    h.writeUInt32LE(LINKTYPE_RAW, 20);
    this.out.write(h);
  }

  packet(atMs: number, from: Endpoint, to: Endpoint, payload: Buffer): void {
    if (from.address.includes(':') || to.address.includes(':')) return;
    const ip = Buffer.alloc(28);
    ip[0] = 0x45; // version 4, 5 words
    ip.writeUInt16BE(28 + payload.length, 2);
    ip[8] = 64; // TTL
    ip[9] = 17; // UDP
    ipv4(from.address).copy(ip, 12);
    ipv4(to.address).copy(ip, 16);
    ip.writeUInt16BE(checksum(ip.subarray(0, 20)), 10);
    ip.writeUInt16BE(from.port, 20);
    ip.writeUInt16BE(to.port, 22);
    ip.writeUInt16BE(8 + payload.length, 24);
    const record = Buffer.alloc(16);
    record.writeUInt32LE(Math.floor(atMs / 1000), 0);
    record.writeUInt32LE(Math.floor((atMs % 1000) * 1000), 4);
    record.writeUInt32LE(28 + payload.length, 8);
    record.writeUInt32LE(28 + payload.length, 12);
    this.out.write(Buffer.concat([record, ip, payload]));
  }

  close(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.out.once('error', reject);
      this.out.end(resolve);
    });
  }
}
