import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { WebSocket } from 'ws';
import type { DialogBook } from './dialogs.js';
import type { Prng } from './prng.js';
import type { FuzzMessage } from './sip-generator.js';
import type { TargetPorts } from './target.js';

export const TRANSPORTS = ['udp', 'tcp', 'tls', 'ws', 'wss', 'ng'] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** The Via transport token a SIP message sent over each transport would carry. */
export const VIA_TOKEN: Record<Exclude<TransportName, 'ng'>, string> = {
  udp: 'UDP',
  tcp: 'TCP',
  tls: 'TLS',
  ws: 'WS',
  wss: 'WSS',
};

/**
 * Sends fuzzed messages over one transport and resolves with how (split, trickled, fragmented …); without a
 * generator, plainly (a replay).
 */
export interface Sender {
  send(message: FuzzMessage, rng?: Prng): Promise<string>;
  /** Waits until the target has read what was sent (where the transport lets us know). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MAX_DATAGRAM = 65_507;

/** Datagrams from a few source ports; `flush` sends a probe and waits for its answer (or 2 s). */
class DatagramSender implements Sender {
  private probes = new Map<string, () => void>();

  private constructor(
    private readonly sockets: UdpSocket[],
    private readonly port: number,
    private readonly probe: (id: string) => Buffer,
    private readonly probeId: (reply: Buffer) => string | undefined,
    book?: DialogBook,
  ) {
    for (const s of sockets) {
      s.on('message', (reply) => {
        const id = this.probeId(reply);
        if (id !== undefined) this.probes.get(id)?.();
        else book?.record(reply);
      });
      s.on('error', () => undefined);
    }
  }

  static async open(
    port: number,
    probe: (id: string) => Buffer,
    probeId: (reply: Buffer) => string | undefined,
    book?: DialogBook,
  ): Promise<DatagramSender> {
    const sockets = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const s = createSocket('udp4');
        await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
        return s;
      }),
    );
    return new DatagramSender(sockets, port, probe, probeId, book);
  }

  async send(message: FuzzMessage, rng?: Prng): Promise<string> {
    const socket = rng ? rng.pick(this.sockets) : this.sockets[0]!;
    const bytes = message.bytes.subarray(0, MAX_DATAGRAM);
    if (this.unflushed + bytes.length > 64 * 1024) await this.flush();
    this.unflushed += bytes.length;
    await new Promise<void>((r) => socket.send(bytes, this.port, '127.0.0.1', () => r()));
    return bytes.length < message.bytes.length ? 'datagram-truncated' : 'datagram';
  }

  /**
   * A probe, answered once the target has read everything before it. A datagram can be lost when a burst
   * overflows the target's receive buffer, the probe too: it is sent again every 500 ms, 2 s at most.
   */
  async flush(): Promise<void> {
    this.unflushed = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      const id = randomBytes(8).toString('hex');
      const answered = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 500);
        this.probes.set(id, () => {
          clearTimeout(timer);
          resolve(true);
        });
        this.sockets[0]!.send(this.probe(id), this.port, '127.0.0.1');
      });
      this.probes.delete(id);
      if (answered) return;
    }
  }

  /** Bytes sent since the last flush: past 64 KiB a flush comes first, so that bursts are not lost. */
  private unflushed = 0;

  async close(): Promise<void> {
    await Promise.all(this.sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

export function sipProbe(port: number, id: string, via = 'UDP'): Buffer {
  return Buffer.from(
    [
      `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/${via} 127.0.0.1:9;branch=z9hG4bK${id};rport`,
      'Max-Forwards: 70',
      `From: <sip:probe@127.0.0.1>;tag=${id}`,
      `To: <sip:127.0.0.1:${port}>`,
      `Call-ID: ${id}@probe`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
}

const sipProbeId = (reply: Buffer) => /Call-ID: ?([0-9a-f]{16})@probe/i.exec(reply.toString('latin1'))?.[1];

/**
 * A SIP byte stream (TCP or TLS): a connection used for a few messages, then replaced; messages are written
 * whole, split at random points, or — now and then, on a connection of their own — trickled a byte at a time
 * by a slow sender or preceded by a 1 MiB header line.
 */
class StreamSender implements Sender {
  private socket?: Socket;
  private used = 0;
  private budget = 0;
  private readonly background = new Set<Promise<void>>();

  constructor(
    private readonly open: () => Socket,
    private readonly probe: (id: string) => Buffer,
  ) {}

  private fresh(): Socket {
    const socket = this.open();
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    return socket;
  }

  private current(rng?: Prng): Socket {
    if (!this.socket || this.socket.destroyed || this.used >= this.budget) {
      this.socket?.destroy();
      this.socket = this.fresh();
      this.used = 0;
      this.budget = rng ? rng.range(1, 60) : Infinity;
    }
    this.used++;
    return this.socket;
  }

  private write(socket: Socket, bytes: Buffer): Promise<void> {
    if (socket.destroyed) return Promise.resolve();
    return new Promise<void>((r) => socket.write(bytes, () => r()));
  }

  /** Runs in the background (at most 4 at once) so that a slow sender does not slow the fuzzer down. */
  private detach(work: (socket: Socket) => Promise<void>): void {
    if (this.background.size >= 4) return;
    const socket = this.fresh();
    const job = work(socket)
      .catch(() => undefined)
      .finally(() => {
        socket.destroy();
        this.background.delete(job);
      });
    this.background.add(job);
  }

  async send(message: FuzzMessage, rng?: Prng): Promise<string> {
    const r = rng ? rng.int(1000) : 999;
    if (r < 3) {
      const slice = message.bytes.subarray(0, 400);
      this.detach(async (socket) => {
        for (const byte of slice) {
          if (socket.destroyed) return;
          await this.write(socket, Buffer.from([byte]));
          await sleep(10);
        }
      });
      return 'trickle';
    }
    if (r < 5) {
      const line = Buffer.concat([
        Buffer.from('INVITE sip:x@127.0.0.1 SIP/2.0\r\nX-Long: '),
        Buffer.alloc(1024 * 1024, 'a'),
        Buffer.from('\r\n\r\n'),
      ]);
      this.detach(async (socket) => {
        await this.write(socket, line);
        await this.write(socket, message.bytes);
        await sleep(200);
      });
      return 'header-1MiB';
    }
    const socket = this.current(rng);
    if (rng && r < 400) {
      const cuts = Array.from({ length: rng.range(1, 5) }, () => rng.int(message.bytes.length + 1)).sort(
        (a, b) => a - b,
      );
      let from = 0;
      for (const cut of [...cuts, message.bytes.length]) {
        await this.write(socket, message.bytes.subarray(from, cut));
        from = cut;
        await tick();
      }
      return 'split';
    }
    await this.write(socket, message.bytes);
    return 'whole';
  }

  /** An OPTIONS on a connection of its own, answered (or 3 s): the listener still reads and answers. */
  async flush(): Promise<void> {
    const id = randomBytes(8).toString('hex');
    const socket = this.fresh();
    let seen = '';
    await Promise.race([
      new Promise<void>((resolve) => {
        socket.on('data', (d: Buffer) => {
          seen += d.toString('latin1');
          if (seen.includes(id)) resolve();
        });
        socket.on('close', () => resolve());
        socket.write(this.probe(id));
      }),
      sleep(3000),
    ]);
    socket.destroy();
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    await Promise.race([Promise.all(this.background), sleep(5000)]);
  }
}

/**
 * SIP over WebSocket (RFC 7118): text frames mostly, binary frames, a message fragmented over several frames,
 * oversize (2 MiB) frames, a connection without the `sip` subprotocol; connections replaced every few messages.
 */
class WebSocketSender implements Sender {
  private socket?: WebSocket;
  private used = 0;
  private budget = 0;

  constructor(
    private readonly url: string,
    private readonly book?: DialogBook,
  ) {}

  private connect(protocol: string | undefined): Promise<WebSocket | undefined> {
    return new Promise((resolve) => {
      const ws = new WebSocket(this.url, protocol ? [protocol] : [], {
        rejectUnauthorized: false,
        handshakeTimeout: 5000,
      });
      ws.on('error', () => resolve(undefined));
      ws.on('message', (data: Buffer) => this.book?.record(data));
      ws.once('open', () => resolve(ws));
      ws.once('close', () => resolve(undefined));
      ws.once('unexpected-response', () => resolve(undefined));
    });
  }

  private async current(rng?: Prng): Promise<WebSocket | undefined> {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN || this.used >= this.budget) {
      this.socket?.terminate();
      this.socket = await this.connect(!rng || rng.chance(0.97) ? 'sip' : rng.pick(['chat', 'SIP', 'sip2']));
      this.used = 0;
      this.budget = rng ? rng.range(1, 60) : Infinity;
    }
    this.used++;
    return this.socket;
  }

  private frame(ws: WebSocket, data: Buffer, options: { binary: boolean; fin: boolean }): Promise<void> {
    if (ws.readyState !== WebSocket.OPEN) return Promise.resolve();
    return new Promise<void>((r) => ws.send(data, { ...options, compress: false }, () => r()));
  }

  async send(message: FuzzMessage, rng?: Prng): Promise<string> {
    const ws = await this.current(rng);
    if (!ws) return 'ws-refused';
    const r = rng ? rng.int(100) : 99;
    if (r < 10) {
      await this.frame(ws, message.bytes, { binary: true, fin: true });
      return 'ws-binary';
    }
    if (rng && r < 25 && message.bytes.length > 1) {
      const cuts = Array.from({ length: rng.range(1, 4) }, () => rng.int(message.bytes.length)).sort(
        (a, b) => a - b,
      );
      let from = 0;
      const binary = rng.chance(0.2);
      for (const cut of cuts) {
        await this.frame(ws, message.bytes.subarray(from, cut), { binary, fin: false });
        from = cut;
      }
      await this.frame(ws, message.bytes.subarray(from), { binary, fin: true });
      return 'ws-fragmented';
    }
    if (r < 26) {
      await this.frame(ws, Buffer.concat([message.bytes, Buffer.alloc(2 * 1024 * 1024, 'x')]), {
        binary: false,
        fin: true,
      });
      return 'ws-oversize';
    }
    if (rng && r < 27) {
      ws.ping(rng.bytes(rng.range(0, 125)));
      await this.frame(ws, message.bytes, { binary: false, fin: true });
      return 'ws-ping';
    }
    await this.frame(ws, message.bytes, { binary: false, fin: true });
    return 'ws-text';
  }

  async flush(): Promise<void> {
    // ws has no acknowledgement of reading; the send callbacks already waited for the socket.
  }

  async close(): Promise<void> {
    this.socket?.terminate();
  }
}

/** Opens the sender for one transport against the target's listeners. */
export async function openSender(
  name: TransportName,
  ports: TargetPorts,
  book?: DialogBook,
): Promise<Sender> {
  switch (name) {
    case 'udp':
      return DatagramSender.open(ports.udp, (id) => sipProbe(ports.udp, id), sipProbeId, book);
    case 'ng':
      return DatagramSender.open(
        ports.ng,
        (id) => Buffer.from(`probe${id} d7:command4:pinge`),
        (reply) => /^probe([0-9a-f]{16}) /.exec(reply.toString('latin1'))?.[1],
      );
    case 'tcp':
      return new StreamSender(
        () => tcpConnect({ host: '127.0.0.1', port: ports.tcp }),
        (id) => sipProbe(ports.tcp, id, 'TCP'),
      );
    case 'tls':
      return new StreamSender(
        () => tlsConnect({ host: '127.0.0.1', port: ports.tls, rejectUnauthorized: false }),
        (id) => sipProbe(ports.tls, id, 'TLS'),
      );
    case 'ws':
      return new WebSocketSender(`ws://127.0.0.1:${ports.ws}`, book);
    case 'wss':
      return new WebSocketSender(`wss://127.0.0.1:${ports.wss}`, book);
  }
}
