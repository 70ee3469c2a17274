import type { AddressInfo } from 'node:net';
import { sipChannels } from '../diagnostics.js';
import { SipTransportError } from '../errors.js';
import type { SipRequest, SipResponse } from '../message/sip-message.js';
import type { InboundContext, Peer, TransportName } from './inbound-context.js';
import { createReceiver, type ResponseContext } from './message-receiver.js';
import type { StreamTransportOptions } from './stream-transport.js';
import { TcpTransport } from './tcp-transport.js';
import { TlsTransport } from './tls-transport.js';
import { UdpTransport } from './udp-transport.js';

export interface SipEndpointOptions {
  host: string;
  udpPort?: number;
  tcpPort?: number;
  tls?: { port: number; key: string | Buffer; cert: string | Buffer };
  /** Largest message accepted, in bytes (default 65,535: the largest UDP datagram). */
  maxMessageSize?: number;
  /** Idle stream connections are closed after this long (default 5 minutes). */
  tcpIdleTimeoutMs?: number;
  onRequest(request: SipRequest, ctx: InboundContext): void;
  onResponse?(response: SipResponse, ctx: ResponseContext): void;
}

export interface SendTarget extends Peer {
  /** Default 'udp'. */
  readonly transport?: TransportName;
  /** For TCP/TLS: the flow (connection) to use, e.g. a registered client's (RFC 5626). */
  readonly flowId?: string;
}

export interface SipEndpoint {
  address(): { udp?: AddressInfo; tcp?: AddressInfo; tls?: AddressInfo };
  /**
   * Sends serialized bytes (a request of a client transaction, §18.1.1, or a response). On TCP/TLS it uses the
   * given flow, else an open connection to the peer, else (TCP) a new one. Returns the flow id on streams.
   * Throws SipTransportError when the transport is not open.
   */
  send(bytes: Buffer, to: SendTarget): string | undefined;
  /** Sends bytes as a datagram from the UDP listener (same as send with transport 'udp'). */
  sendUdp(bytes: Buffer, to: Peer): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

export { sipChannels };

/**
 * SIP listeners on UDP, TCP and TLS, one class per channel, sharing one receive path (message-receiver.ts).
 * With port 0 for both UDP and TCP, TCP takes the port UDP got, so one SIP port serves both transports.
 */
export async function createSipEndpoint(options: SipEndpointOptions): Promise<SipEndpoint> {
  const maxMessageSize = options.maxMessageSize ?? 65_535;
  const receive = createReceiver(options);
  const streamOptions: StreamTransportOptions = {
    host: options.host,
    maxMessageSize,
    idleTimeoutMs: options.tcpIdleTimeoutMs ?? 300_000,
    onMessage: (bytes, remote, flowId, write, transport) =>
      receive({ bytes, transport, remote, flowId, send: write }),
  };
  let udp: UdpTransport | undefined;
  let tcp: TcpTransport | undefined;
  let tls: TlsTransport | undefined;
  try {
    if (options.udpPort !== undefined) {
      udp = await UdpTransport.bind(options.host, options.udpPort, maxMessageSize, (bytes, remote) =>
        receive({ bytes, transport: 'udp', remote, send: (out, to) => udp!.send(out, to) }),
      );
    }
    if (options.tcpPort !== undefined) {
      tcp = new TcpTransport(streamOptions);
      await tcp.listen(options.tcpPort === 0 && udp ? udp.address().port : options.tcpPort);
    }
    if (options.tls) {
      tls = new TlsTransport(streamOptions, options.tls);
      await tls.listen(options.tls.port);
    }
  } catch (err) {
    await Promise.all([udp?.close(), tcp?.close(), tls?.close()]);
    throw err;
  }
  const sendUdp = (bytes: Buffer, to: Peer): void => {
    if (!udp) throw new SipTransportError('SIP_TRANSPORT_UNAVAILABLE', 'no UDP listener');
    udp.send(bytes, to);
  };
  return {
    address: () => ({ udp: udp?.address(), tcp: tcp?.address(), tls: tls?.address() }),
    sendUdp,
    send(bytes, to) {
      const transport = to.transport ?? 'udp';
      if (transport === 'udp') {
        sendUdp(bytes, to);
        return undefined;
      }
      const channel = transport === 'tcp' ? tcp : tls;
      if (!channel) throw new SipTransportError('SIP_TRANSPORT_UNAVAILABLE', `no ${transport} listener`);
      return channel.send(bytes, to, to.flowId);
    },
    async close() {
      await Promise.all([udp?.close(), tcp?.close(), tls?.close()]);
    },
  };
}
