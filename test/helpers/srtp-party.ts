import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { formatCrypto, type CryptoAttribute } from '../../src/media/srtp/sdes.js';

/** An SDP with one PCMU audio stream at 127.0.0.1:`port` in `protocol`, with the given a=crypto lines. */
export function audioOffer(
  port: number,
  protocol: 'RTP/AVP' | 'RTP/SAVP',
  cryptos: readonly CryptoAttribute[] = [],
): Buffer {
  return Buffer.from(
    [
      'v=0',
      'o=party 1 1 IN IP4 127.0.0.1',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${port} ${protocol} 0`,
      'a=rtpmap:0 PCMU/8000',
      ...cryptos.map((c) => `a=crypto:${formatCrypto(c)}`),
      'a=sendrecv',
      '',
    ].join('\r\n'),
  );
}

/** An RTP packet (payload type `pt`) with 160 random payload bytes, so a packet is recognised byte for byte. */
export function randomRtp(seq: number, ssrc: number, pt = 0): Buffer {
  const p = Buffer.concat([Buffer.alloc(12), randomBytes(160)]);
  p[0] = 0x80;
  p[1] = pt;
  p.writeUInt16BE(seq & 0xffff, 2);
  p.writeUInt32BE((seq * 160) >>> 0, 4);
  p.writeUInt32BE(ssrc, 8);
  return p;
}

/** A UDP socket on 127.0.0.1 keeping what it receives. */
export async function mediaSocket(): Promise<{ socket: Socket; port: number; got: Buffer[] }> {
  const s = createSocket('udp4');
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return { socket: s, port: s.address().port, got };
}

/** The first audio stream's port, protocol and a=crypto lines of an SDP. */
export const audioPort = (body: Buffer | string) => Number(/^m=audio (\d+) /m.exec(body.toString())?.[1]);
export const audioProtocol = (body: Buffer | string) => /^m=audio \d+ (\S+) /m.exec(body.toString())?.[1];
export const cryptoLines = (body: Buffer | string) =>
  body
    .toString()
    .split('\r\n')
    .filter((l) => l.startsWith('a=crypto:'));
