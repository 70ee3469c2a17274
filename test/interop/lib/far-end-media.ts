import { createSocket, type Socket } from 'node:dgram';
import { alawToLinear, linearToAlaw, linearToUlaw, sine, ulawToLinear, type Pcm } from './audio.js';

const DTMF_EVENTS = '0123456789*#ABCD';

/**
 * The far end's audio: one RTP socket offering PCMU, PCMA and telephone-event (RFC 4733). It sends its tone
 * in 20 ms G.711 packets while the session lets it send, decodes what it receives into 8 kHz PCM, notes each
 * packet's source port (audio must come from the relay) and collects RFC 4733 digits.
 */
export class FarEndMedia {
  /** What was heard, decoded, in arrival order. */
  private readonly heard: number[] = [];
  /** Source ports of received RTP. */
  readonly sources = new Set<number>();
  /** Digits received as RFC 4733 events (one per event, at its end). */
  readonly digits: string[] = [];
  /** RTP packets received while this side had put the stream on hold or been put on hold, for the report. */
  packets = 0;
  private remote: { host: string; port: number } | undefined;
  private sendPt = 0;
  private eventPt = 101;
  private remoteDirection = 'sendrecv';
  private timer: NodeJS.Timeout | undefined;
  private seq = Math.floor(Math.random() * 0xffff);
  private timestamp = Math.floor(Math.random() * 0xffffffff);
  private readonly ssrc = Math.floor(Math.random() * 0xffffffff);
  private offset = 0;
  private readonly endedEvents = new Set<number>();

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
    private readonly toneHz: number,
  ) {
    socket.on('message', (packet, from) => this.onPacket(packet, from.port));
  }

  static async open(toneHz: number): Promise<FarEndMedia> {
    // An even port, as RTP expects (RFC 3550 §11), outside both relays' ranges.
    for (let attempt = 0; ; attempt++) {
      const socket = createSocket('udp4');
      const port = 50000 + 2 * Math.floor(Math.random() * 5000);
      const bound = await new Promise<boolean>((resolve) => {
        socket.once('error', () => resolve(false));
        socket.bind(port, '127.0.0.1', () => resolve(true));
      });
      if (bound) return new FarEndMedia(socket, port, toneHz);
      socket.close();
      if (attempt > 50) throw new Error('far end: no free even RTP port');
    }
  }

  offer(): Buffer {
    return this.sdp([0, 8], 101, 'sendrecv');
  }

  /** The answer to `offer`: its first G.711 payload type, its telephone-event type, the mirrored direction. */
  answer(offer: Buffer): Buffer {
    const text = offer.toString('latin1');
    const mine = (
      { sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' } as Record<string, string>
    )[this.remoteDirection];
    const payloads = mediaPayloads(text);
    const pt = payloads.find((p) => p === 0 || p === 8) ?? 0;
    this.sendPt = pt;
    this.eventPt = eventPayload(text) ?? 101;
    return this.sdp([pt], eventPayload(text), mine ?? 'sendrecv');
  }

  /** Takes the remote address, codec and direction from an offer or an answer. */
  applyRemote(body: Buffer): void {
    if (body.length === 0) return;
    const text = body.toString('latin1');
    const host = /^c=IN IP4 (\S+)/m.exec(text)?.[1];
    const port = Number(/^m=audio (\d+)/m.exec(text)?.[1]);
    if (host && port) this.remote = { host, port };
    const payloads = mediaPayloads(text);
    const pt = payloads.find((p) => p === 0 || p === 8);
    if (pt !== undefined) this.sendPt = pt;
    this.eventPt = eventPayload(text) ?? this.eventPt;
    const dir = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(text)?.[1];
    this.remoteDirection = host === '0.0.0.0' ? 'inactive' : (dir ?? 'sendrecv');
  }

  /** Starts sending the tone every 20 ms (while the remote direction lets this side send). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sendFrame(), 20);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  /** What was heard, as 8 kHz PCM. */
  pcm(): Pcm {
    return { sampleRate: 8000, samples: Int16Array.from(this.heard) };
  }

  private sendFrame(): void {
    if (!this.remote || this.remoteDirection === 'sendonly' || this.remoteDirection === 'inactive') return;
    const samples = sine(this.toneHz, 8000, 160, this.offset);
    this.offset += 160;
    const packet = Buffer.alloc(12 + 160);
    packet[0] = 0x80;
    packet[1] = this.sendPt;
    packet.writeUInt16BE(this.seq, 2);
    packet.writeUInt32BE(this.timestamp >>> 0, 4);
    packet.writeUInt32BE(this.ssrc >>> 0, 8);
    const encode = this.sendPt === 8 ? linearToAlaw : linearToUlaw;
    for (let i = 0; i < 160; i++) packet[12 + i] = encode(samples[i]!);
    this.seq = (this.seq + 1) & 0xffff;
    this.timestamp = (this.timestamp + 160) >>> 0;
    this.socket.send(packet, this.remote.port, this.remote.host);
  }

  private onPacket(packet: Buffer, sourcePort: number): void {
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return;
    const pt = packet[1]! & 0x7f;
    if (pt >= 72 && pt <= 76) return; // RTCP on the RTP port (rtcp-mux)
    this.sources.add(sourcePort);
    this.packets++;
    const csrcs = packet[0]! & 0x0f;
    let at = 12 + 4 * csrcs;
    if (packet[0]! & 0x10 && packet.length >= at + 4) at += 4 + 4 * packet.readUInt16BE(at + 2);
    const payload = packet.subarray(at);
    if (pt === this.eventPt && payload.length >= 4) {
      // RFC 4733 §2.3: event, E bit; the end packet is sent three times, so one digit per timestamp.
      const end = (payload[1]! & 0x80) !== 0;
      const ts = packet.readUInt32BE(4);
      if (end && !this.endedEvents.has(ts)) {
        this.endedEvents.add(ts);
        this.digits.push(DTMF_EVENTS[payload[0]!] ?? `event ${payload[0]}`);
      }
      return;
    }
    if (pt !== 0 && pt !== 8) return;
    const decode = pt === 8 ? alawToLinear : ulawToLinear;
    for (const byte of payload) this.heard.push(decode(byte));
  }

  private sdp(payloads: number[], eventPt: number | undefined, dir: string): Buffer {
    const id = Date.now() % 1_000_000_000;
    const all = eventPt === undefined ? payloads : [...payloads, eventPt];
    return Buffer.from(
      [
        'v=0',
        `o=farend ${id} ${id} IN IP4 127.0.0.1`,
        's=interop far end',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        `m=audio ${this.port} RTP/AVP ${all.join(' ')}`,
        ...payloads.map((p) => (p === 8 ? 'a=rtpmap:8 PCMA/8000' : 'a=rtpmap:0 PCMU/8000')),
        ...(eventPt === undefined
          ? []
          : [`a=rtpmap:${eventPt} telephone-event/8000`, `a=fmtp:${eventPt} 0-16`]),
        'a=ptime:20',
        `a=${dir}`,
        '',
      ].join('\r\n'),
    );
  }
}

function mediaPayloads(sdp: string): number[] {
  const m = /^m=audio \d+ \S+ ([\d ]+)/m.exec(sdp);
  return m ? m[1]!.trim().split(/\s+/).map(Number) : [];
}

function eventPayload(sdp: string): number | undefined {
  const found = /^a=rtpmap:(\d+) telephone-event\/8000/m.exec(sdp);
  return found ? Number(found[1]) : undefined;
}
