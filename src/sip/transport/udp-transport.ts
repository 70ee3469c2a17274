import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns';
import { isIP, type AddressInfo } from 'node:net';
import { sipChannels } from '../diagnostics.js';
import type { Peer } from './inbound-context.js';
import { refusedDestination, type SendFailure } from './send-failure.js';

export type DatagramHandler = (bytes: Buffer, remote: Peer) => void;

/**
 * The UDP channel (RFC 3261 §18.1.1, §18.2.1): one socket, one datagram = one message. A datagram larger
 * than `maxMessageSize` is discarded unread. Socket errors (e.g. ICMP port unreachable after a send) never
 * stop the listener.
 */
export class UdpTransport {
  private constructor(
    private readonly socket: Socket,
    private readonly family: 4 | 6,
  ) {}

  static async bind(
    host: string,
    port: number,
    maxMessageSize: number,
    onDatagram: DatagramHandler,
  ): Promise<UdpTransport> {
    const family = host.includes(':') ? 6 : 4;
    const socket = createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      // `send` is given IP literals only (a host name is resolved first, below). dgram's default lookup answers
      // a literal on the next tick: a callback and a tick per datagram sent for nothing.
      lookup: (address, _options, callback) => callback(null, address, family),
    });
    socket.on('message', (bytes, rinfo) => {
      if (bytes.length > maxMessageSize) {
        if (sipChannels.parseError.hasSubscribers) {
          sipChannels.parseError.publish({ transport: 'udp', remote: rinfo, error: 'datagram too large' });
        }
        return;
      }
      onDatagram(bytes, { address: rinfo.address, port: rinfo.port });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => undefined);
    return new UdpTransport(socket, family);
  }

  /**
   * Sends one datagram; never throws. A destination that must not be used (port 0, broadcast …), an address of
   * the other family, or a socket that throws (closed) is returned as a failure. A host name is resolved
   * first; a name that does not resolve is told to `onLateFailure`. Errors the kernel reports later (ICMP
   * unreachable) arrive as socket errors and stop nothing.
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
    try {
      this.socket.send(bytes, to.port, to.address);
    } catch (err) {
      return { reason: 'socket-error', transport: 'udp', to, detail: (err as Error).message };
    }
    return undefined;
  }

  address(): AddressInfo {
    return this.socket.address();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
