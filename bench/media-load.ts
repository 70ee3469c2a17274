/**
 * The load of bench:media: G.711 calls through an ng relay, two streams per call (caller → callee and back),
 * 50 packets/s each of 12 + 160 bytes. Every packet carries its send time; the receiving end records the
 * one-way time through the relay and the sequence number, so loss and latency are measured per packet.
 *
 * Two latencies per packet: as read (when this process got to read it) and, on the addon's sockets, at receipt
 * (when the kernel put it on the receiving socket, SO_TIMESTAMPNS). On loopback the kernel stamps a datagram as
 * the sender's send call delivers it, so the time at receipt ends when the relay sent the packet on: it holds the
 * relay's own delay and none of this process's, which shares the machine's CPUs with the relay and is not always
 * free to read at once.
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { createNgClient, type NgClient } from '../src/media/index.js';
import { udpBatchSockets, type UdpBatchSockets } from '../src/sip/index.js';
import { SrtpSession } from '../src/media/srtp/srtp-session.js';
import { parseCrypto } from '../src/media/srtp/sdes.js';
import { suiteNamed } from '../src/media/srtp/srtp-suites.js';
import type { SlowPacket } from './media-observe.js';

const PACKET = 172;
const PTIME_MS = 20;
const RING = 8;

const SUITE = suiteNamed('AES_CM_128_HMAC_SHA1_80')!;

/** A one-stream PCMA SDP; with `key` (30 bytes) an SDES-SRTP one (RTP/SAVP and its a=crypto line). */
function sdp(port: number, key?: Buffer): string {
  return [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=bench',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} ${key ? 'RTP/SAVP' : 'RTP/AVP'} 8`,
    'a=rtpmap:8 PCMA/8000',
    'a=ptime:20',
    ...(key ? [`a=crypto:1 ${SUITE.name} inline:${key.toString('base64')}`] : []),
    '',
  ].join('\r\n');
}

const mPort = (body: unknown) => Number(/^m=audio (\d+) /m.exec(String(body))?.[1]);

/** One end of a call in the generator: a UDP socket on 127.0.0.1. */
interface End {
  readonly port: number;
  send(packet: Buffer, port: number): void;
  /** `receivedAt`: the kernel's stamp of its arrival (ms, `realtimeMs()`'s clock), 0 without one. */
  onMessage(handler: (packet: Buffer, receivedAt: number) => void): void;
  close(): void;
}

/** The sockets the generator's ends use: `native`, the addon's batched ones, or Node.js dgram. */
export type GeneratorUdp = 'native' | 'dgram';

/**
 * The generator's default: the addon's sockets where it loads. On dgram the generator's own receive and send work
 * (~10 µs a packet) saturated its core from about 300 calls, which hid the relays' latency there.
 */
export function defaultGeneratorUdp(): GeneratorUdp {
  return udpBatchSockets() instanceof Error ? 'dgram' : 'native';
}

async function bound(native: UdpBatchSockets | undefined): Promise<End> {
  if (native) {
    const socket = native.open('127.0.0.1', 0);
    if (socket instanceof Error) throw socket;
    socket.setReceiveBuffer(1 << 20);
    socket.stampReceipts();
    // Lent packets, as the relay takes them: the receiver reads each and keeps nothing, so the generator
    // allocates nothing per packet and its own collections stay out of the latencies it measures.
    socket.lend = true;
    return {
      port: socket.localPort(),
      send: (packet, port) => socket.send(packet, port, '127.0.0.1'),
      onMessage: (handler) => {
        socket.onPacket = (packet, from) => handler(packet, from.receivedAt ?? 0);
      },
      close: () => socket.close(),
    };
  }
  const socket = createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    send: (packet, port) => socket.send(packet, port, '127.0.0.1'),
    onMessage: (handler) => socket.on('message', (packet) => handler(packet, 0)),
    close: () => socket.close(),
  };
}

/** One direction of a call: a socket sending to the relay, and what the other end received of it. */
interface Stream {
  from: End;
  relayPort: number;
  ring: Buffer[];
  seq: number;
  sent: number;
  received: number;
  /** SRTP: encrypts what this stream sends (the caller's key), when the caller speaks SRTP. */
  protect?: SrtpSession;
}

/** Latencies up to 1 s in buckets of 1 / `perMs` ms (10 µs by default: cheap to record, enough for reading). */
class LatencyHistogram {
  private readonly buckets: Uint32Array;
  count = 0;
  constructor(private readonly perMs = 100) {
    this.buckets = new Uint32Array(1000 * perMs + 1);
  }
  record(ms: number): void {
    this.buckets[Math.min(this.buckets.length - 1, Math.max(0, Math.round(ms * this.perMs)))]!++;
    this.count++;
  }
  quantile(q: number): number {
    const target = Math.ceil(this.count * q);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= target) return i / this.perMs;
    }
    return Infinity;
  }
  reset(): void {
    this.buckets.fill(0);
    this.count = 0;
  }
}

export interface LoadResult {
  calls: number;
  /** Packets the load should have sent in the measured window (calls × 100/s). */
  offered: number;
  sent: number;
  received: number;
  lossPct: number;
  p50Ms: number;
  p99Ms: number;
  /**
   * The same at the kernel's receipt (1 µs buckets), when every counted packet had its stamp (the addon's
   * sockets): the relay's delay without the generator's own.
   */
  receipt?: { p50Ms: number; p99Ms: number; p999Ms: number };
  /** How late the generator's 20 ms ticks fired at the 99th percentile (its own saturation). */
  tickLateP99Ms: number;
  /** Packets sent in the whole run, warm-up included (what the relay's CPU time is divided by). */
  sentAll: number;
  /**
   * The packets at or above the p99 latency (at receipt where stamped), with their send times (to set against
   * the relays' pauses).
   */
  slow: SlowPacket[];
  /** When the measured window began and ended (epoch ms). */
  window: { start: number; end: number };
}

export interface Load {
  /** Sends for `seconds`, then waits for stragglers; counts only packets sent after `warmupMs`. */
  run(seconds: number, warmupMs: number): Promise<LoadResult>;
  close(): Promise<void>;
}

const now = () => performance.timeOrigin + performance.now();

/**
 * Sets up `calls` calls on the relay at `ngPort` (offer, answer) with their sockets; without `ngPort` the two
 * ends of each call send to each other directly (the generator's and loopback's own latency, for reference).
 */
export async function openLoad(
  ngPort: number | undefined,
  calls: number,
  tag: string,
  options: { srtp?: boolean; udp?: GeneratorUdp } = {},
): Promise<Load> {
  let native: UdpBatchSockets | undefined;
  if ((options.udp ?? defaultGeneratorUdp()) === 'native') {
    const found = udpBatchSockets();
    if (found instanceof Error) throw found;
    native = found;
  }
  // With `srtp`, each caller speaks SDES-SRTP and each callee plain RTP: the relay decrypts one direction and
  // encrypts the other (`transport-protocol: RTP/AVP` towards the callee), as for an SRTP phone and a carrier.
  const srtp = options.srtp === true && ngPort !== undefined;
  /** Decrypts what reaches each caller, by SSRC (the relay's key for that caller). */
  const unprotect = new Map<number, SrtpSession>();
  const ng: NgClient | undefined =
    ngPort === undefined
      ? undefined
      : createNgClient({ host: '127.0.0.1', port: ngPort, timeoutMs: 2000, retries: 2 });
  const streams: Stream[] = [];
  const sockets: End[] = [];
  // Send times and the kernel's receipt stamps are on the system's real-time clock where the addon gives both.
  const clock = native ? () => native!.realtimeMs() : now;
  const latency = new LatencyHistogram();
  const receipt = new LatencyHistogram(1000);
  // Every counted packet's send time and latency (at receipt where stamped), to pick out the slow ones and when
  // they were sent.
  let sentAts = new Float64Array(0);
  let latencies = new Float64Array(0);
  let recorded = 0;
  let counting = false;
  const ids: string[] = [];
  for (let i = 0; i < calls; i++) {
    const caller = await bound(native);
    const callee = await bound(native);
    sockets.push(caller, callee);
    const callId = `bench-${tag}-${i}`;
    ids.push(callId);
    let toCallee = callee.port;
    let toCaller = caller.port;
    const callerKey = srtp ? randomBytes(30) : undefined;
    let relayKey: Buffer | undefined;
    if (ng) {
      const flags = { replace: ['origin', 'session-connection'], ICE: 'remove' };
      const offer = await ng.request('offer', {
        'call-id': callId,
        'from-tag': 'caller',
        sdp: sdp(caller.port, callerKey),
        ...flags,
        ...(srtp ? { 'transport-protocol': 'RTP/AVP' } : {}),
      });
      const answer = await ng.request('answer', {
        'call-id': callId,
        'from-tag': 'caller',
        'to-tag': 'callee',
        sdp: sdp(callee.port),
        ...flags,
      });
      toCallee = mPort(answer.sdp);
      toCaller = mPort(offer.sdp);
      if (srtp) {
        const line = /^a=crypto:(.+)$/m.exec(String(answer.sdp))?.[1]?.trim();
        const crypto = line ? parseCrypto(line) : undefined;
        if (!crypto)
          throw new Error(
            `the relay answered the SRTP caller without a usable a=crypto: ${String(answer.sdp)}`,
          );
        relayKey = Buffer.concat([crypto.key, crypto.salt]);
      }
    }
    for (const [from, relayPort] of [
      [caller, toCallee],
      [callee, toCaller],
    ] as const) {
      const index = streams.length;
      const packet = Buffer.alloc(PACKET, 0xd5);
      packet[0] = 0x80;
      packet[1] = 8;
      packet.writeUInt32BE(0x1000 + index, 8);
      packet.writeUInt32BE(index, 20);
      const ring = Array.from({ length: RING }, () => Buffer.from(packet));
      const stream: Stream = { from, relayPort, ring, seq: 0, sent: 0, received: 0 };
      if (callerKey && from === caller) {
        // Lending sessions on the addon (its sends copy at once), as the relay's; dgram keeps what it sends.
        stream.protect = new SrtpSession(
          SUITE,
          callerKey.subarray(0, 16),
          callerKey.subarray(16),
          undefined,
          native !== undefined,
        );
      }
      if (relayKey && from === callee) {
        unprotect.set(
          0x1000 + index,
          new SrtpSession(SUITE, relayKey.subarray(0, 16), relayKey.subarray(16), undefined, true),
        );
      }
      streams.push(stream);
    }
  }
  for (const socket of sockets) {
    socket.onMessage((received, receivedAt) => {
      if (!counting) return;
      let packet: Buffer = received;
      const session = srtp && packet.length > 12 ? unprotect.get(packet.readUInt32BE(8)) : undefined;
      if (session) {
        const opened = session.unprotectRtp(packet);
        if (!opened.ok) return;
        packet = opened.packet;
      }
      if (packet.length !== PACKET) return;
      const stream = streams[packet.readUInt32BE(20)];
      if (!stream) return;
      stream.received++;
      const sentAt = packet.readDoubleLE(12);
      let ms = clock() - sentAt;
      latency.record(ms);
      if (receivedAt > 0) {
        ms = receivedAt - sentAt;
        receipt.record(ms);
      }
      if (recorded < sentAts.length) {
        sentAts[recorded] = sentAt;
        latencies[recorded++] = ms;
      }
    });
  }

  let sentAll = 0;
  const send = (stream: Stream) => {
    sentAll++;
    stream.seq = (stream.seq + 1) & 0xffff;
    // A ring of buffers per stream: dgram holds the buffer until the send completes, so it is not rewritten
    // while in flight (8 packets = 160 ms of audio), and nothing is allocated per packet.
    const p = stream.ring[stream.seq % RING]!;
    p.writeUInt16BE(stream.seq, 2);
    p.writeUInt32BE((stream.seq * 160) >>> 0, 4);
    p.writeDoubleLE(clock(), 12);
    const out = stream.protect ? stream.protect.protectRtp(p)! : p;
    stream.from.send(out, stream.relayPort);
    if (counting) stream.sent++;
  };

  return {
    async run(seconds, warmupMs) {
      // The streams are spread over the 20 ms period in 1 ms slots, as real calls are not in phase.
      const groups = 20;
      const tickLate = new LatencyHistogram();
      const start = now();
      const due = (slot: number) => start + (slot * PTIME_MS) / groups;
      let tick = 0;
      let warm = false;
      let windowStart = 0;
      sentAts = new Float64Array(Math.ceil(streams.length * 50 * (seconds + 1)));
      latencies = new Float64Array(sentAts.length);
      recorded = 0;
      await new Promise<void>((resolve) => {
        const next = () => {
          const t = now();
          if (warm) tickLate.record(Math.max(0, t - due(tick)));
          // Every slot that is due (a timer fires 1 ms late at best): the generator never drifts behind.
          while (due(tick) <= t) {
            const group = tick % groups;
            // On the addon, a slot's packets leave together (sendmmsg), as a batch's do in a relay.
            native?.cork();
            for (let i = group; i < streams.length; i += groups) send(streams[i]!);
            native?.uncork();
            tick++;
          }
          const elapsed = now() - start;
          if (!warm && elapsed >= warmupMs) {
            warm = true;
            counting = true;
            latency.reset();
            receipt.reset();
            recorded = 0;
            windowStart = now();
          }
          if (elapsed >= warmupMs + seconds * 1000) return resolve();
          setTimeout(next, Math.max(0, due(tick) - now()));
        };
        next();
      });
      counting = false;
      const windowEnd = now();
      // Packets in flight when the sending stopped still count as received if they arrive within 200 ms.
      const sentTotal = streams.reduce((n, s) => n + s.sent, 0);
      counting = true;
      const sentFrozen = streams.map((s) => s.sent);
      await new Promise((r) => setTimeout(r, 200));
      counting = false;
      const received = streams.reduce((n, s, i) => n + Math.min(s.received, sentFrozen[i]!), 0);
      const stamped = receipt.count > 0 && receipt.count === latency.count;
      const p99 = (stamped ? receipt : latency).quantile(0.99);
      const slow: SlowPacket[] = [];
      for (let i = 0; i < recorded; i++) {
        if (latencies[i]! >= p99) slow.push({ sentAt: sentAts[i]!, ms: latencies[i]! });
      }
      const result: LoadResult = {
        calls,
        offered: streams.length * (1000 / PTIME_MS) * seconds,
        sent: sentTotal,
        received,
        lossPct: sentTotal ? ((sentTotal - received) / sentTotal) * 100 : 0,
        p50Ms: latency.quantile(0.5),
        p99Ms: latency.quantile(0.99),
        ...(stamped
          ? { receipt: { p50Ms: receipt.quantile(0.5), p99Ms: p99, p999Ms: receipt.quantile(0.999) } }
          : {}),
        tickLateP99Ms: tickLate.quantile(0.99),
        sentAll,
        slow,
        window: { start: windowStart, end: windowEnd },
      };
      sentAll = 0;
      for (const s of streams) {
        s.sent = 0;
        s.received = 0;
      }
      return result;
    },
    async close() {
      if (ng) {
        for (const id of ids) {
          await ng.request('delete', { 'call-id': id, 'from-tag': 'caller' }).catch(() => undefined);
        }
        await ng.close();
      }
      for (const socket of sockets) socket.close();
    },
  };
}
