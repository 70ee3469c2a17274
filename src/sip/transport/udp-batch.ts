/**
 * UDP sockets on the native addon `native/udp-batch` (Linux), for the SIP port and the media relay's RTP ports:
 * a wake-up of the event loop reads every ready socket with `recvmmsg` into one slab and calls JavaScript once
 * for all the datagrams; the sends those datagrams cause are queued in a second slab and leave in one call into
 * C++ when the batch is done (`sendmmsg` per run of datagrams from the same socket). A send outside a batch (a
 * timer, an answer after a database read) goes at once. Each datagram handed to a handler is its own Buffer, as
 * with dgram: a handler may keep it.
 *
 * Built by `scripts/build-native.mjs` into `dist/native/udp-batch.node`; `udpBatchSockets()` says why not when
 * it cannot be used, and the caller falls back to dgram.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import { isMainThread } from 'node:worker_threads';

/** Where a datagram came from. */
export interface DatagramSource {
  readonly address: string;
  readonly port: number;
  /**
   * When the kernel received the datagram (ms of the system's real-time clock, `realtimeMs()`), on a socket
   * that asked (`stampReceipts()`); absent or 0 otherwise.
   */
  readonly receivedAt?: number;
}

export type BatchedHandler = (bytes: Buffer, from: DatagramSource) => void;

/** One socket of the addon. */
export interface BatchedSocket {
  /** The handler of every datagram received; one before a handler is set is dropped. */
  onPacket: BatchedHandler | undefined;
  /**
   * Lends each datagram to the handler instead of giving it (default false): its bytes are a view of the receive
   * slab and its source an object reused for the next datagram, both valid only until the handler returns. For a
   * handler that copies what it keeps (the media relay's forwarder): no allocation per datagram, so no
   * collection pauses while media flows.
   */
  lend: boolean;
  /** Sends without a callback: a datagram the kernel refuses is lost (and counted in `stats().sendErrors`). */
  send(bytes: Uint8Array, port: number, address: string): void;
  close(): void;
  /** The port bound (the one the kernel chose for port 0). */
  localPort(): number;
  /** Asks for SO_RCVBUF; false when the kernel refused. */
  setReceiveBuffer(bytes: number): boolean;
  /** SO_RCVBUF as the kernel reports it. */
  receiveBuffer(): number;
  /**
   * Asks the kernel to stamp each datagram's arrival (SO_TIMESTAMPNS), handed on as `receivedAt`: a time that
   * does not depend on when this process gets to read it. False when the kernel refused.
   */
  stampReceipts(): boolean;
}

interface Shared {
  recv: ArrayBuffer;
  recvMeta: ArrayBuffer;
  recvStamps: ArrayBuffer;
  send: ArrayBuffer;
  sendMeta: ArrayBuffer;
  slot: number;
  maxBatch: number;
  metaInts: number;
}

interface Addon {
  init(onBatch: (count: number) => void): Shared;
  open(host: string, port: number): number;
  close(fd: number): void;
  sendTo(fd: number, bytes: Uint8Array, port: number, host: string): number;
  flush(count: number): number;
  ntop6(index: number): string;
  pton6(text: string): ArrayBuffer | undefined;
  openShared(host: string, port: number): number;
  adopt(fd: number): number;
  localPort(fd: number): number;
  setReceiveBuffer(fd: number, bytes: number): number;
  receiveBuffer(fd: number): number;
  stampReceipts(fd: number): number;
  realtimeMs(): number;
  stats(): UdpBatchStats;
}

export interface UdpBatchStats {
  /** Datagrams longer than a slot (65,536 bytes, more than UDP carries), dropped: none expected. */
  truncated: number;
  /** Sends the kernel refused (full buffer, ICMP error reported back): lost. */
  sendErrors: number;
  /** Sockets open. */
  open: number;
}

/** The native sockets, with the addon's own counters. */
export interface UdpBatchSockets {
  readonly kind: 'native';
  /** Binds `host`:`port`; undefined when it cannot be bound (a port taken). */
  bind(host: string, port: number): Promise<BatchedSocket | undefined>;
  /** Binds `host`:`port`, or the error (`code` EADDRINUSE …) saying why not. */
  open(host: string, port: number): BatchedSocket | NodeJS.ErrnoException;
  /**
   * Binds `host`:`port` for child processes to adopt (`adopt`): the socket is inherited across fork/exec and is
   * not read in this process. The descriptor, or the error saying why not.
   */
  openShared(host: string, port: number): number | NodeJS.ErrnoException;
  /**
   * Reads an inherited socket (`openShared` in the parent) here, as one of several processes: each datagram
   * wakes one of them (EPOLLEXCLUSIVE). `host` is what the parent bound, for addresses.
   */
  adopt(fd: number, host: string): BatchedSocket | NodeJS.ErrnoException;
  /**
   * Until `uncork()`, sends to IPv4 destinations are queued as during a batch, and leave together (`sendmmsg`
   * per run of the same socket) when the last `uncork()` comes.
   */
  cork(): void;
  uncork(): void;
  /** The system's real-time clock (CLOCK_REALTIME) in ms: the clock of `receivedAt`. */
  realtimeMs(): number;
  stats(): UdpBatchStats;
}

/** Where the addon is looked for: next to the compiled code (dist/native) or, under tsx, in dist/ of the tree. */
const CANDIDATES = ['../../../native/udp-batch.node', '../../../dist/native/udp-batch.node'];

class NativeSocket implements BatchedSocket {
  onPacket: BatchedHandler | undefined = undefined;
  lend = false;

  constructor(
    private readonly batch: UdpBatch,
    readonly fd: number,
    readonly ipv6: boolean,
  ) {}

  send(packet: Uint8Array, port: number, address: string): void {
    this.batch.send(this, packet, port, address);
  }

  close(): void {
    this.batch.close(this);
  }

  localPort(): number {
    return this.batch.addon.localPort(this.fd);
  }

  setReceiveBuffer(bytes: number): boolean {
    return this.batch.addon.setReceiveBuffer(this.fd, bytes) === 0;
  }

  receiveBuffer(): number {
    return this.batch.addon.receiveBuffer(this.fd);
  }

  stampReceipts(): boolean {
    return this.batch.addon.stampReceipts(this.fd) === 0;
  }
}

/** Dotted-quad text to its 32-bit value (-1: not an IPv4 literal). */
function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) return -1;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return -1;
    const n = Number(part);
    if (n > 255) return -1;
    value = value * 256 + n;
  }
  return value;
}

/** An Error like Node's for a system call that failed with `-errno`. */
function systemError(negativeErrno: number, syscall: string, what: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(negativeErrno);
  return Object.assign(new Error(`${syscall} ${code} ${what}`), { code, errno: negativeErrno, syscall });
}

class UdpBatch implements UdpBatchSockets {
  readonly kind = 'native' as const;
  private readonly sockets: (NativeSocket | undefined)[] = [];
  private readonly recv: Uint8Array;
  private readonly recvMeta: Int32Array;
  private readonly recvStamps: Float64Array;
  private readonly sendSlab: Uint8Array;
  private readonly sendMeta: Int32Array;
  private readonly slot: number;
  private readonly maxBatch: number;
  private readonly metaInts: number;
  private queued = 0;
  private inBatch = false;
  /** `cork()` calls not yet undone: sends are queued meanwhile. */
  private corked = 0;
  /** Source addresses as text, by their 32-bit value; destinations' values, by their text. */
  private readonly v4Text = new Map<number, string>();
  private readonly v4Value = new Map<string, number>();
  /** IPv6 destinations' 16 bytes as four meta ints, by their text; null: not one the queue can carry. */
  private readonly v6Words = new Map<string, Int32Array | null>();
  /** Lent datagrams' views of the receive slab, by slot: reused while a slot's datagrams keep one length. */
  private readonly views: (Buffer | undefined)[] = [];
  /** The source lent with each datagram to a lending socket's handler. */
  private readonly lentSource = { address: '', port: 0, receivedAt: 0 };

  constructor(readonly addon: Addon) {
    const shared = addon.init((count) => this.onBatch(count));
    this.recv = new Uint8Array(shared.recv);
    this.recvMeta = new Int32Array(shared.recvMeta);
    this.recvStamps = new Float64Array(shared.recvStamps);
    this.sendSlab = new Uint8Array(shared.send);
    this.sendMeta = new Int32Array(shared.sendMeta);
    this.slot = shared.slot;
    this.maxBatch = shared.maxBatch;
    this.metaInts = shared.metaInts;
  }

  bind(host: string, port: number): Promise<BatchedSocket | undefined> {
    const socket = this.open(host, port);
    return Promise.resolve(socket instanceof Error ? undefined : socket);
  }

  open(host: string, port: number): BatchedSocket | NodeJS.ErrnoException {
    const fd = this.addon.open(host, port);
    return fd < 0 ? systemError(fd, 'bind', `${host}:${port}`) : this.track(fd, host);
  }

  openShared(host: string, port: number): number | NodeJS.ErrnoException {
    const fd = this.addon.openShared(host, port);
    return fd < 0 ? systemError(fd, 'bind', `${host}:${port}`) : fd;
  }

  adopt(fd: number, host: string): BatchedSocket | NodeJS.ErrnoException {
    const result = this.addon.adopt(fd);
    return result < 0 ? systemError(result, 'adopt', `descriptor ${fd}`) : this.track(fd, host);
  }

  /** The socket of descriptor `fd`, read here, bound on `host` (its family). */
  private track(fd: number, host: string): NativeSocket {
    const socket = new NativeSocket(this, fd, host.includes(':'));
    this.sockets[fd] = socket;
    return socket;
  }

  stats(): UdpBatchStats {
    return this.addon.stats();
  }

  realtimeMs(): number {
    return this.addon.realtimeMs();
  }

  send(socket: NativeSocket, packet: Uint8Array, port: number, address: string): void {
    if (this.sockets[socket.fd] !== socket) return;
    const queue = (this.inBatch || this.corked > 0) && packet.length <= this.slot;
    if (socket.ipv6) {
      // An IPv4 party on a dual-stack IPv6 socket is reached at its mapped address (RFC 4291 §2.5.5.2).
      const to = address.includes(':') ? address : `::ffff:${address}`;
      const words = queue ? this.ipv6(to) : null;
      if (words === null) {
        this.addon.sendTo(socket.fd, packet, port, to);
        return;
      }
      const meta = this.enqueue(socket, packet, port, 6);
      this.sendMeta[meta + 4] = 0;
      this.sendMeta.set(words, meta + 5);
      return;
    }
    const ip = queue ? this.ipv4(address) : -1;
    if (ip === -1) {
      this.addon.sendTo(socket.fd, packet, port, address);
      return;
    }
    this.sendMeta[this.enqueue(socket, packet, port, 4) + 4] = ip | 0;
  }

  /** Queues `packet` for the batch's sendmmsg; the index of its meta ints, the address still to write. */
  private enqueue(socket: NativeSocket, packet: Uint8Array, port: number, family: 4 | 6): number {
    if (this.queued === this.maxBatch) this.flush();
    const at = this.queued++;
    this.sendSlab.set(packet, at * this.slot);
    const meta = at * this.metaInts;
    this.sendMeta[meta] = socket.fd;
    this.sendMeta[meta + 1] = packet.length;
    this.sendMeta[meta + 2] = port;
    this.sendMeta[meta + 3] = family;
    return meta;
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked > 0) this.corked--;
    if (this.corked === 0 && !this.inBatch && this.queued > 0) this.flush();
  }

  close(socket: NativeSocket): void {
    if (this.sockets[socket.fd] !== socket) return;
    // Packets queued from this socket leave before its descriptor can be reused.
    if (this.queued > 0) this.flush();
    this.sockets[socket.fd] = undefined;
    socket.onPacket = undefined;
    this.addon.close(socket.fd);
  }

  private onBatch(count: number): void {
    const meta = this.recvMeta;
    this.inBatch = true;
    try {
      for (let i = 0; i < count; i++) {
        const at = i * this.metaInts;
        const socket = this.sockets[meta[at]!];
        const handler = socket?.onPacket;
        if (!handler) continue;
        const length = meta[at + 1]!;
        const start = i * this.slot;
        const address = meta[at + 3] === 4 ? this.v4(meta[at + 4]! >>> 0) : this.addon.ntop6(i);
        if (socket.lend) {
          let view = this.views[i];
          if (view === undefined || view.length !== length)
            this.views[i] = view = Buffer.from(this.recv.buffer, this.recv.byteOffset + start, length);
          const from = this.lentSource;
          from.address = address;
          from.port = meta[at + 2]!;
          from.receivedAt = this.recvStamps[i]!;
          handler(view, from);
          continue;
        }
        const packet = Buffer.allocUnsafe(length);
        packet.set(this.recv.subarray(start, start + length));
        const receivedAt = this.recvStamps[i]!;
        handler(
          packet,
          receivedAt ? { address, port: meta[at + 2]!, receivedAt } : { address, port: meta[at + 2]! },
        );
      }
    } finally {
      this.inBatch = false;
      if (this.queued > 0 && this.corked === 0) this.flush();
    }
  }

  private flush(): void {
    const count = this.queued;
    this.queued = 0;
    this.addon.flush(count);
  }

  private v4(value: number): string {
    let text = this.v4Text.get(value);
    if (text === undefined) {
      text = `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
      // Bounded: a flood from many sources must not grow it for ever.
      if (this.v4Text.size >= 65_536) this.v4Text.clear();
      this.v4Text.set(value, text);
    }
    return text;
  }

  private ipv6(address: string): Int32Array | null {
    let words = this.v6Words.get(address);
    if (words === undefined) {
      const bytes = this.addon.pton6(address);
      words = bytes ? new Int32Array(bytes) : null;
      if (this.v6Words.size >= 65_536) this.v6Words.clear();
      this.v6Words.set(address, words);
    }
    return words;
  }

  private ipv4(address: string): number {
    let value = this.v4Value.get(address);
    if (value === undefined) {
      value = parseIpv4(address);
      if (this.v4Value.size >= 65_536) this.v4Value.clear();
      this.v4Value.set(address, value);
    }
    return value;
  }
}

let loaded: UdpBatch | Error | undefined;

/**
 * The native batched sockets, or the reason they cannot be used here (not Linux, a worker thread, the addon
 * not built or not loadable). Loaded once per process: the addon keeps one epoll set for all sockets.
 */
export function udpBatchSockets(): UdpBatchSockets | Error {
  if (loaded) return loaded;
  if (process.platform !== 'linux')
    return (loaded = new Error(`native UDP needs Linux (this is ${process.platform})`));
  if (!isMainThread) return new Error('native UDP runs on the main thread only');
  const path = CANDIDATES.map((c) => fileURLToPath(new URL(c, import.meta.url))).find((p) => existsSync(p));
  if (!path) return (loaded = new Error('the native UDP addon is not built (npm run build:native)'));
  try {
    const addon = createRequire(import.meta.url)(path) as Addon;
    loaded = new UdpBatch(addon);
  } catch (err) {
    loaded = new Error(`the native UDP addon at ${path} did not load: ${(err as Error).message}`);
  }
  return loaded;
}

/** The addon's counters when this process loaded it (something asked for native sockets), else undefined. */
export function nativeUdpStats(): UdpBatchStats | undefined {
  return loaded && !(loaded instanceof Error) ? loaded.stats() : undefined;
}

export type UdpMode = 'auto' | 'native' | 'dgram';

/**
 * The native sockets for a setting's `mode` (VOXGATE_SIP_UDP, VOXGATE_MEDIA_UDP), or none (dgram), with the
 * reason native ones were not taken under `auto` for the log. `native` without a usable addon is an error
 * naming `setting`: whoever asked for it expects its cost per datagram.
 */
export function nativeUdpFor(
  mode: UdpMode,
  setting: string,
): { native?: UdpBatchSockets; fallback?: string } {
  if (mode === 'dgram') return {};
  const native = udpBatchSockets();
  if (!(native instanceof Error)) return { native };
  if (mode === 'native') throw new Error(`${setting}=native: ${native.message}`);
  return { fallback: native.message };
}
