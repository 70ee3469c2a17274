import { isIP, type Server, type Socket } from 'node:net';
import {
  checkServerIdentity,
  connect as tlsConnect,
  createServer,
  type SecureContextOptions,
} from 'node:tls';
import { SipTransportError } from '../errors.js';
import { publishConnectionClosed } from './connection-limits.js';
import { StreamTransport, type StreamPeer, type StreamTransportOptions } from './stream-transport.js';

/** How this side opens TLS connections: trust anchors and, for mutual TLS, its own certificate. */
export interface TlsClientOptions {
  /** Trust anchors; default: Node's bundled CAs. */
  readonly ca?: SecureContextOptions['ca'];
  /** Default true: the peer's certificate must chain to a trust anchor and match its name. */
  readonly rejectUnauthorized?: boolean;
  /** A client certificate for peers that ask for one (RFC 3261 §26.3.2.2 mutual TLS between servers). */
  readonly key?: string | Buffer;
  readonly cert?: string | Buffer;
}

/**
 * The TLS channel (RFC 3261 §26.2.1, RFC 5630): the TCP framing over TLS. It accepts connections with the given
 * key and certificate, and opens them toward `sips:` and `transport=tls` targets (§18.1.1), authenticating the
 * server by the name it is reached by (RFC 5922: the domain of the URI, passed as `serverName`; the IP
 * address itself when there is none).
 */
export class TlsTransport extends StreamTransport {
  readonly name = 'tls' as const;

  constructor(
    options: StreamTransportOptions,
    private readonly credentials?: { key: string | Buffer; cert: string | Buffer },
    private readonly client: TlsClientOptions = {},
  ) {
    super(options);
  }

  protected createServer(onConnection: (socket: Socket) => void): Server {
    if (!this.credentials) {
      throw new SipTransportError('SIP_TRANSPORT_UNAVAILABLE', 'a TLS listener needs a key and certificate');
    }
    const server = createServer(
      {
        key: this.credentials.key,
        cert: this.credentials.cert,
        // The handshake is the first thing a peer sends: it must end within the message timeout, like a message
        // (a half-open handshake otherwise holds the connection for Node's default 120 s).
        handshakeTimeout: this.options.messageTimeoutMs,
      },
      onConnection,
    );
    // Counted on the TCP connection, before the handshake: a refused peer costs no TLS work.
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      socket.destroy();
      if (err.code !== 'ERR_TLS_HANDSHAKE_TIMEOUT') return;
      const remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
      publishConnectionClosed({ transport: 'tls', reason: 'message-timeout', remote });
    });
    return server;
  }

  protected override connect(to: StreamPeer): Socket {
    const name = to.serverName;
    return tlsConnect({
      host: to.address,
      port: to.port,
      // RFC 6066 §3: SNI carries host names only, never literal addresses.
      ...(name !== undefined && isIP(name) === 0 ? { servername: name } : {}),
      checkServerIdentity: (_host, cert) => checkServerIdentity(name ?? to.address, cert),
      ...(this.client.ca !== undefined ? { ca: this.client.ca } : {}),
      rejectUnauthorized: this.client.rejectUnauthorized ?? true,
      ...(this.client.key !== undefined && this.client.cert !== undefined
        ? { key: this.client.key, cert: this.client.cert }
        : {}),
    });
  }
}
