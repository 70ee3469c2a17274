import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { sipChannels } from '../diagnostics.js';
import type { Peer } from './inbound-context.js';

export type DatagramHandler = (bytes: Buffer, remote: Peer) => void;

/**
 * The UDP channel (RFC 3261 §18.1.1, §18.2.1): one socket, one datagram = one message. A datagram larger
 * than `maxMessageSize` is discarded unread. Socket errors (e.g. ICMP port unreachable after a send) never
 * stop the listener.
 */
export class UdpTransport {
  private constructor(private readonly socket: Socket) {}

  static async bind(
    host: string,
    port: number,
    maxMessageSize: number,
    onDatagram: DatagramHandler,
  ): Promise<UdpTransport> {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
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
    return new UdpTransport(socket);
  }

  send(bytes: Buffer, to: Peer): void {
    if (sipChannels.messageOut.hasSubscribers)
      sipChannels.messageOut.publish({ transport: 'udp', to, bytes });
    this.socket.send(bytes, to.port, to.address);
  }

  address(): AddressInfo {
    return this.socket.address();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
