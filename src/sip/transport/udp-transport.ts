import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns';
import { isIP, type AddressInfo } from 'node:net';
import { sipChannels } from '../diagnostics.js';
import type { Peer } from './inbound-context.js';
import { refusedDestination, type SendFailure } from './send-failure.js';
import type { BatchedSocket, UdpBatchSockets } from './udp-batch.js';

/**
 * Asks the kernel for a UDP socket's receive buffer (SO_RCVBUF: Linux grants at most net.core.rmem_max). A
 * refusal keeps the socket's default buffer, smaller but working. The socket must be bound.
 */
export function askReceiveBuffer(socket: Socket, bytes: number): void {
  try {
    socket.setRecvBufferSize(bytes);
  } catch {
    // Refused by the kernel: the default buffer stays.
  }
}

export type DatagramHandler = (bytes: Buffer, remote: Peer) => void;

/** A datagram waiting for the end of the event loop's turn. */
interface Pending {
  readonly bytes: Buffer;
  readonly to: Peer;
  readonly onLateFailure: ((failure: SendFailure) => void) | undefined;
}

/** The socket under the transport: Node's dgram, or the native batched one (`udp-batch.ts`). */
interface UdpSocket {
  /** Throws when the socket cannot send (closed). */
  send(bytes: Buffer, port: number, address: string): void;
  /** Around the sends of a turn: the native socket queues them and sends them in one call (`sendmmsg`). */
  cork?(): void;
  uncork?(): void;
  address(): AddressInfo;
  askReceiveBuffer(bytes: number): void;
  reportedReceiveBuffer(): number;
  close(): Promise<void>;
}

function dgramSocket(socket: Socket): UdpSocket {
  return {
    send: (bytes, port, address) => socket.send(bytes, port, address),
    address: () => socket.address(),
    askReceiveBuffer: (bytes) => askReceiveBuffer(socket, bytes),
    reportedReceiveBuffer: () => socket.getRecvBufferSize(),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function nativeSocket(
  socket: BatchedSocket,
  native: UdpBatchSockets,
  host: string,
  family: 4 | 6,
): UdpSocket {
  let closed = false;
  return {
    send(bytes, port, address) {
      if (closed) throw new Error('Not running');
      socket.send(bytes, port, address);
    },
    cork: () => native.cork(),
    uncork: () => native.uncork(),
    address: () => ({ address: host, family: family === 6 ? 'IPv6' : 'IPv4', port: socket.localPort() }),
    askReceiveBuffer: (bytes) => socket.setReceiveBuffer(bytes),
    reportedReceiveBuffer: () => socket.receiveBuffer(),
    close() {
      closed = true;
      socket.close();
      return Promise.resolve();
    },
  };
}

/**
 * The UDP channel (RFC 3261 §18.1.1, §18.2.1): one socket, one datagram = one message. A datagram larger
 * than `maxMessageSize` is discarded unread. Socket errors (e.g. ICMP port unreachable after a send) never
 * stop the listener. The socket is Node's dgram, or with `native` the addon's batched one.
 */
export class UdpTransport {
  /** Datagrams handed to `send` in this turn of the event loop, sent together once it ends (`flush`). */
  private pending: Pending[] = [];
  private flushScheduled = false;

  private constructor(
    private readonly socket: UdpSocket,
    private readonly family: 4 | 6,
    private readonly askedBuffer: number | undefined,
  ) {}

  static async bind(
    host: string,
    port: number,
    maxMessageSize: number,
    onDatagram: DatagramHandler,
    receiveBufferBytes?: number,
    native?: UdpBatchSockets,
    /** With `native`: the socket a parent process opened (`openShared`), read here instead of binding one. */
    sharedFd?: number,
  ): Promise<UdpTransport> {
    const family = host.includes(':') ? 6 : 4;
    const receive = (bytes: Buffer, remote: Peer) => {
      if (bytes.length > maxMessageSize) {
        if (sipChannels.parseError.hasSubscribers) {
          sipChannels.parseError.publish({ transport: 'udp', remote, error: 'datagram too large' });
        }
        return;
      }
      onDatagram(bytes, remote);
    };
    let socket: UdpSocket;
    if (native) {
      const opened = sharedFd === undefined ? native.open(host, port) : native.adopt(sharedFd, host);
      if (opened instanceof Error) throw opened;
      opened.onPacket = receive;
      socket = nativeSocket(opened, native, host, family);
    } else {
      const dgram = createSocket({
        type: family === 6 ? 'udp6' : 'udp4',
        // `send` is given IP literals only (a host name is resolved first, below). dgram's default lookup
        // answers a literal on the next tick: a callback and a tick per datagram sent for nothing.
        lookup: (address, _options, callback) => callback(null, address, family),
      });
      dgram.on('message', (bytes, rinfo) => receive(bytes, { address: rinfo.address, port: rinfo.port }));
      await new Promise<void>((resolve, reject) => {
        dgram.once('error', reject);
        dgram.bind(port, host, () => {
          dgram.off('error', reject);
          resolve();
        });
      });
      dgram.on('error', () => undefined);
      socket = dgramSocket(dgram);
    }
    if (receiveBufferBytes !== undefined) socket.askReceiveBuffer(receiveBufferBytes);
    return new UdpTransport(socket, family, receiveBufferBytes);
  }

  /**
   * Sends one datagram; never throws. A destination that must not be used (port 0, broadcast …) or an address
   * of the other family is returned as a failure. The datagram itself leaves at the end of this turn of the
   * event loop, with the others sent in it, in order (`flush`; on the native socket in one `sendmmsg`); a
   * socket that throws then (closed) is told to
   * `onLateFailure`, and so is a host name that does not resolve (a name is resolved first). Errors the kernel
   * reports later (ICMP unreachable) arrive as socket errors and stop nothing.
   */
  send(bytes: Buffer, to: Peer, onLateFailure?: (failure: SendFailure) => void): SendFailure | undefined {
    const refused = refusedDestination(to);
    if (refused) return { reason: refused, transport: 'udp', to };
    if (isIP(to.address) === 0) {
      lookup(to.address, { family: this.family }, (err, address) => {
        const failure = err
          ? ({ reason: 'unresolved-host', transport: 'udp', to, detail: err.message } as const)
          : this.send(bytes, { address, port: to.port });
        if (failure) onLateFailure?.(failure);
      });
      return undefined;
    }
    // A udp6 socket reaches IPv4 peers through mapped addresses; a udp4 socket cannot reach IPv6 ones.
    if (this.family === 4 && to.address.includes(':')) {
      return { reason: 'address-family', transport: 'udp', to };
    }
    if (sipChannels.messageOut.hasSubscribers)
      sipChannels.messageOut.publish({ transport: 'udp', to, bytes });
    this.pending.push({ bytes, to, onLateFailure });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return undefined;
  }

  /**
   * Sends the datagrams of the turn, back to back (the native socket: in one call, `sendmmsg`). A datagram to a peer whose process sleeps costs the sender
   * the peer's wake-up (tens of µs on a VM, in the send system call); sent together, the datagrams to the same
   * peer after the first find it awake. The turn is the poll phase that read up to 32 datagrams and made their
   * answers: the check phase (setImmediate) comes right after it.
   */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.socket.cork?.();
    try {
      for (const { bytes, to, onLateFailure } of batch) {
        try {
          this.socket.send(bytes, to.port, to.address);
        } catch (err) {
          onLateFailure?.({ reason: 'socket-error', transport: 'udp', to, detail: (err as Error).message });
        }
      }
    } finally {
      this.socket.uncork?.();
    }
  };

  address(): AddressInfo {
    return this.socket.address();
  }

  /**
   * The receive buffer asked for (undefined: the system's default kept) and the one the kernel reports (Linux
   * reports twice the size it granted, the other half its bookkeeping, and grants at most net.core.rmem_max).
   */
  receiveBuffer(): { asked: number | undefined; reported: number } {
    return { asked: this.askedBuffer, reported: this.socket.reportedReceiveBuffer() };
  }

  /** Sends what this turn queued, then closes the socket. */
  close(): Promise<void> {
    this.flush();
    return this.socket.close();
  }
}
