import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

/** A one-stream audio SDP at 127.0.0.1 (or `address`) and `port`, PCMA and telephone-event. */
export function sdp(port: number, extra: string[] = [], address = '127.0.0.1'): string {
  return [
    'v=0',
    `o=- 1 1 IN IP4 ${address}`,
    's=-',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 8 101`,
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    ...extra,
    '',
  ].join('\r\n');
}

/** A G.711 packet of 20 ms (RTP header + 160 bytes). */
export function rtp(seq: number, ssrc: number, ts = seq * 160): Buffer {
  const p = Buffer.alloc(172, 0xd5);
  p[0] = 0x80;
  p[1] = 8;
  p.writeUInt16BE(seq & 0xffff, 2);
  p.writeUInt32BE(ts >>> 0, 4);
  p.writeUInt32BE(ssrc, 8);
  return p;
}

/** An RTCP receiver report with no report blocks (RFC 3550 §6.4.2), 8 bytes + padding to `size`. */
export function rtcpRr(ssrc: number, size = 28): Buffer {
  const p = Buffer.alloc(size);
  p[0] = 0x80;
  p[1] = 201;
  p.writeUInt16BE(size / 4 - 1, 2);
  p.writeUInt32BE(ssrc, 4);
  return p;
}

export interface Party {
  socket: Socket;
  port: number;
  rtcp: Socket;
  got: Buffer[];
  gotFrom: RemoteInfo[];
  gotRtcp: Buffer[];
  close(): void;
}

/** A phone's media end: an even port for RTP and the next one for RTCP, both on `host`, recording what comes. */
export async function party(host = '127.0.0.1'): Promise<Party> {
  for (;;) {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, host, r));
    const port = socket.address().port;
    if (port % 2 !== 0) {
      socket.close();
      continue;
    }
    const rtcp = createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      rtcp.once('error', () => r(false));
      rtcp.bind(port + 1, host, () => r(true));
    });
    if (!ok) {
      socket.close();
      continue;
    }
    const p: Party = {
      socket,
      port,
      rtcp,
      got: [],
      gotFrom: [],
      gotRtcp: [],
      close() {
        socket.close();
        rtcp.close();
      },
    };
    socket.on('message', (m, from) => {
      p.got.push(m);
      p.gotFrom.push(from);
    });
    rtcp.on('message', (m) => p.gotRtcp.push(m));
    return p;
  }
}

export const mPort = (s: unknown, media = 'audio') =>
  Number(new RegExp(`^m=${media} (\\d+) `, 'm').exec(String(s))?.[1]);

export async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sends RTP from `from` to the relay port `to` until `receiver` got some from `ssrc`. */
export async function talks(from: Party, to: number, receiver: Party, ssrc: number): Promise<void> {
  let seq = 1;
  const heard = () => receiver.got.some((p) => p.readUInt32BE(8) === ssrc);
  const deadline = Date.now() + 3000;
  while (!heard()) {
    if (Date.now() > deadline) throw new Error(`no RTP of ${ssrc.toString(16)} through the relay`);
    from.socket.send(rtp(seq++, ssrc), to, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** RTP parties for a describe block: `open()` binds one on 127.0.0.1, `closeAll()` (afterEach) closes them. */
export function partyPool(): { open(): Promise<Party>; closeAll(): void } {
  const parties: Party[] = [];
  return {
    async open() {
      const p = await party();
      parties.push(p);
      return p;
    },
    closeAll() {
      for (const p of parties.splice(0)) p.close();
    },
  };
}
