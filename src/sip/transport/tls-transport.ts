import type { Server, Socket } from 'node:net';
import { createServer } from 'node:tls';
import { SipTransportError } from '../errors.js';
import type { Peer } from './inbound-context.js';
import { StreamTransport, type StreamTransportOptions } from './stream-transport.js';

/**
 * The TLS channel (RFC 3261 §26.2.1, RFC 5630): the TCP framing over TLS with the given key and certificate.
 * It only accepts connections: opening one toward a peer needs its name and trust anchors (RFC 5922).
 */
export class TlsTransport extends StreamTransport {
  readonly name = 'tls' as const;

  constructor(
    options: StreamTransportOptions,
    private readonly credentials: { key: string | Buffer; cert: string | Buffer },
  ) {
    super(options);
  }

  protected createServer(onConnection: (socket: Socket) => void): Server {
    return createServer({ key: this.credentials.key, cert: this.credentials.cert }, onConnection);
  }

  protected override connect(to: Peer): Socket {
    throw new SipTransportError(
      'SIP_TRANSPORT_UNAVAILABLE',
      `no TLS connection to ${to.address}:${to.port}; outbound TLS is not supported`,
    );
  }
}
