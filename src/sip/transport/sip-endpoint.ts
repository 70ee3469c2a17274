import type { AddressInfo } from 'node:net';
import { sipChannels } from '../diagnostics.js';
import type { SipRequest, SipResponse } from '../message/sip-message.js';
import type { InboundContext, Peer, TransportName, WebSocketTransportName } from './inbound-context.js';
import { createReceiver, type ResponseContext } from './message-receiver.js';
import { ConnectionAdmission, DEFAULT_STREAM_LIMITS, FlowHolds } from './connection-limits.js';
import { publishSendFailure, type SendFailure, type SendFailureHandler } from './send-failure.js';
import type { FlowClosedHandler, KeepaliveOptions, StreamTransportOptions } from './stream-transport.js';
import { TcpTransport } from './tcp-transport.js';
import { TlsTransport, type TlsClientOptions } from './tls-transport.js';
import type { UdpBatchSockets } from './udp-batch.js';
import { UdpTransport } from './udp-transport.js';
import { WsTransport } from './ws-transport.js';

export interface SipEndpointOptions {
  host: string;
  udpPort?: number;
  tcpPort?: number;
  tls?: { port: number; key: string | Buffer; cert: string | Buffer };
  /**
   * SIP over WebSocket (RFC 7118) on this port: an HTTP listener that upgrades to WebSocket with the "sip"
   * subprotocol. Messages from it reach `onRequest`/`onResponse` with `ctx.webSocket` 'ws' (and transport
   * 'tcp'); what is sent with their `flowId` goes back on the same WebSocket.
   */
  ws?: { port: number };
  /** SIP over secure WebSocket (RFC 7118, wss): the same over HTTPS with this key and certificate. */
  wss?: { port: number; key: string | Buffer; cert: string | Buffer };
  /**
   * Outbound TLS (and wss) connections: trust anchors, verification and an optional client certificate. Without
   * it, TLS connections this endpoint opens trust Node's bundled CAs. Outbound TLS works with or without a
   * `tls` listener.
   */
  tlsClient?: TlsClientOptions;
  /** Largest message accepted, in bytes (default 65,535: the largest UDP datagram). */
  maxMessageSize?: number;
  /**
   * The UDP listener's receive buffer asked of the kernel (SO_RCVBUF; Linux grants at most net.core.rmem_max).
   * Unset: the system's default (Linux: net.core.rmem_default, usually 208 KiB).
   */
  udpReceiveBufferBytes?: number;
  /** The UDP listener on the native batched socket (`udp-batch.ts`); unset: Node's dgram. */
  udpNative?: UdpBatchSockets;
  /** With `udpNative`: the SIP workers' shared socket, opened by their primary (`openShared`), read here too. */
  udpSharedFd?: number;
  /**
   * A TCP, TLS or WebSocket connection with no complete message, keepalive ping or pong, in or out, for this
   * long is closed, unless `holdFlow` keeps it (default 120 s, Kamailio's tcp_connection_lifetime).
   */
  tcpIdleTimeoutMs?: number;
  /**
   * A message on a stream whose first byte has arrived must be complete within this long, else the connection
   * is closed (default 20 s, Kamailio's tcp_msg_read_timeout); so must a TLS handshake and a WebSocket upgrade
   * request. Bytes trickling in do not extend it.
   */
  messageTimeoutMs?: number;
  /**
   * Connections accepted and open at once on all stream listeners together (default 4096), and from one source
   * address (default 100): one more is closed at accept and published on `voxgate:sip:connection-refused`.
   * Connections this endpoint opens are not counted.
   */
  maxConnections?: number;
  maxConnectionsPerSource?: number;
  /**
   * RFC 5626 §4.4.1 CRLF keepalive on the TCP/TLS flows this endpoint opens (pings every `intervalMs`, the flow
   * fails without a pong within `pongTimeoutMs`, default 10 s). Off by default. Inbound flows are never pinged,
   * but pings on them are always answered.
   */
  keepalive?: KeepaliveOptions;
  /** Called when a TCP, TLS or WebSocket flow ends (reason 'keepalive' when its pong did not come). */
  onFlowClosed?: FlowClosedHandler;
  /**
   * Sees each datagram first: one it returns true for is not read here (another process of a multi-process
   * gateway reads it, handed on through `receiveDatagram` there).
   */
  onDatagram?(bytes: Buffer, remote: Peer): boolean;
  /**
   * Sees each message read on a TCP, TLS or WebSocket flow first: one it returns true for is not read here
   * (another process of a multi-process gateway reads it, handed on through `receiveStream` there).
   */
  onStreamMessage?(bytes: Buffer, arrival: StreamArrival): boolean;
  /**
   * For a process of a multi-process gateway that opens no stream listener (`tcpPort`, `tls`, `ws`, `wss` and
   * `tlsClient` unset) while another process holds them: what is sent on TCP, TLS or WebSocket, and the holds
   * on flows, go to that process.
   */
  streamRelay?: StreamRelay;
  onRequest(request: SipRequest, ctx: InboundContext): void;
  onResponse?(response: SipResponse, ctx: ResponseContext): void;
}

/** How a message read on a stream of one process came in, as another process is told when it is handed on. */
export interface StreamArrival {
  readonly transport: TransportName;
  readonly webSocket?: WebSocketTransportName;
  readonly remote: Peer;
  readonly flowId: string;
}

/** The stream listeners of another process of the same gateway (`SipEndpointOptions.streamRelay`). */
export interface StreamRelay {
  /** Sends on that process's flows as `SipEndpoint.send` does there; a failure there is told to `onFailure`. */
  send(bytes: Buffer, to: SendTarget, onFailure?: SendFailureHandler): void;
  holdFlow(flowId: string, key: string, until: number): void;
  releaseFlow(key: string): void;
}

export interface SendTarget extends Peer {
  /** Default 'udp'. 'ws'/'wss' need a WebSocket listener of that kind. */
  readonly transport?: TransportName | WebSocketTransportName;
  /**
   * For TCP/TLS/WebSocket: the flow (connection) to use, e.g. a registered client's (RFC 5626). A WebSocket
   * flow is used whatever `transport` says, since WebSocket messages report transport 'tcp' or 'tls'; when that
   * WebSocket has closed, the message is dropped.
   */
  readonly flowId?: string;
  /**
   * For TLS (and wss) connections this endpoint opens: the name the server's certificate must match, i.e. the
   * host of the sips:/transport=tls URI (RFC 5922) when `address` came from DNS. Default: `address`.
   */
  readonly serverName?: string;
}

export interface SipEndpoint {
  address(): {
    udp?: AddressInfo;
    tcp?: AddressInfo;
    tls?: AddressInfo;
    ws?: AddressInfo;
    wss?: AddressInfo;
  };
  /**
   * Sends serialized bytes (a request of a client transaction, §18.1.1, or a response). On TCP/TLS/WebSocket it
   * uses the given flow, else an open connection to the peer, else a new one. Returns the flow id on streams.
   * Never throws: a message that cannot be sent (a destination that must not be used, no such transport, a
   * closed flow, a connection that does not open) is counted on `voxgate:sip:transport-error` and reported to
   * `onFailure` after this call returns (§8.1.3.1: the sender treats it as a 503; §17.2.4).
   */
  send(bytes: Buffer, to: SendTarget, onFailure?: SendFailureHandler): string | undefined;
  /** Reads a datagram as if the UDP listener had received it from `remote` (handed on by another process). */
  receiveDatagram(bytes: Buffer, remote: Peer): void;
  /**
   * Reads a message another process read on one of its flows (handed on by it); answers to it go back through
   * `streamRelay` to that flow.
   */
  receiveStream(bytes: Buffer, arrival: StreamArrival): void;
  /** Sends bytes as a datagram from the UDP listener (same as send with transport 'udp'). */
  sendUdp(bytes: Buffer, to: Peer, onFailure?: SendFailureHandler): void;
  /**
   * Keeps the TCP, TLS or WebSocket flow `flowId` open until `until` (epoch ms) whatever the idle timeout, for
   * `key`: the registrar holds the flow a registration came on while it lives (RFC 5626 §5.2: requests to the UA
   * go on that flow). The same key again moves the time, or to another flow; false when there is no such open
   * flow (UDP, or it has closed).
   */
  holdFlow(flowId: string, key: string, until: number): boolean;
  /** Ends the hold `key` (the registration is gone): the idle timeout applies to its flow again. */
  releaseFlow(key: string): void;
  /** Open connections (flows) per stream transport, inbound and outbound. */
  connections(): { tcp: number; tls: number; ws: number; wss: number };
  /** The UDP listener's receive buffer, asked and as the kernel reports it (undefined: no UDP listener). */
  udpReceiveBuffer(): { asked: number | undefined; reported: number } | undefined;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

export { sipChannels };

/** Tries at finding a port free on both UDP and TCP when both are asked for port 0. */
const SHARED_PORT_ATTEMPTS = 10;

/** Answers on the flow a message came in on; a flow closed meanwhile is a failure of that send. */
function onFlow(
  write: (bytes: Buffer) => boolean,
  transport: string,
  remote: Peer,
): (bytes: Buffer, to: Peer, onFailure?: SendFailureHandler) => void {
  return (bytes, _to, onFailure) => {
    if (!write(bytes)) failed({ reason: 'flow-closed', transport, to: remote }, onFailure);
  };
}

/** The flow a stream send used, or its failure counted and told to the sender (then no flow). */
function settled(
  outcome: string | SendFailure,
  onFailure: SendFailureHandler | undefined,
): string | undefined {
  if (typeof outcome === 'string') return outcome;
  failed(outcome, onFailure);
  return undefined;
}

/** Counts a failed send and tells its sender, after the send call has returned. */
function failed(failure: SendFailure, onFailure: SendFailureHandler | undefined): void {
  publishSendFailure(failure);
  if (onFailure) queueMicrotask(() => onFailure(failure));
}

/**
 * SIP listeners on UDP, TCP, TLS and WebSocket, one class per channel, sharing one receive path
 * (message-receiver.ts). With port 0 for both UDP and TCP, TCP takes the port UDP got, so one SIP port serves
 * both transports.
 */
export async function createSipEndpoint(options: SipEndpointOptions): Promise<SipEndpoint> {
  const maxMessageSize = options.maxMessageSize ?? 65_535;
  const idleTimeoutMs = options.tcpIdleTimeoutMs ?? DEFAULT_STREAM_LIMITS.idleTimeoutMs;
  const messageTimeoutMs = options.messageTimeoutMs ?? DEFAULT_STREAM_LIMITS.messageTimeoutMs;
  // One count for every stream listener: the limits are on the endpoint's connections, whatever the transport.
  const admission = new ConnectionAdmission({
    maxConnections: options.maxConnections ?? DEFAULT_STREAM_LIMITS.maxConnections,
    maxConnectionsPerSource: options.maxConnectionsPerSource ?? DEFAULT_STREAM_LIMITS.maxConnectionsPerSource,
  });
  const holds = new FlowHolds();
  const receive = createReceiver(options);
  const streamOptions: StreamTransportOptions = {
    host: options.host,
    maxMessageSize,
    idleTimeoutMs,
    messageTimeoutMs,
    admission,
    holds,
    onMessage: (bytes, remote, flowId, write, transport) => {
      if (options.onStreamMessage?.(bytes, { transport, remote, flowId })) return;
      receive({ bytes, transport, remote, flowId, send: onFlow(write, transport, remote) });
    },
    ...(options.keepalive ? { keepalive: options.keepalive } : {}),
    ...(options.onFlowClosed ? { onFlowClosed: options.onFlowClosed } : {}),
  };
  const wsOptions = {
    host: options.host,
    maxMessageSize,
    idleTimeoutMs,
    messageTimeoutMs,
    admission,
    holds,
    // A WebSocket flow runs on TCP (ws) or TLS (wss): that is its `transport`, `webSocket` says which.
    onMessage: (
      bytes: Buffer,
      remote: Peer,
      flowId: string,
      write: (bytes: Buffer) => boolean,
      webSocket: WebSocketTransportName,
    ) => {
      const transport = webSocket === 'wss' ? 'tls' : 'tcp';
      if (options.onStreamMessage?.(bytes, { transport, webSocket, remote, flowId })) return;
      receive({ bytes, transport, webSocket, remote, flowId, send: onFlow(write, webSocket, remote) });
    },
    ...(options.onFlowClosed ? { onFlowClosed: options.onFlowClosed } : {}),
  };
  let udp: UdpTransport | undefined;
  let tcp: TcpTransport | undefined;
  let tls: TlsTransport | undefined;
  let ws: WsTransport | undefined;
  let wss: WsTransport | undefined;
  const closeAll = () => Promise.all([udp?.close(), tcp?.close(), tls?.close(), ws?.close(), wss?.close()]);
  try {
    const bindUdp = (port: number) =>
      UdpTransport.bind(
        options.host,
        port,
        maxMessageSize,
        (bytes, remote) => {
          if (!options.onDatagram?.(bytes, remote)) receiveDatagram(bytes, remote);
        },
        options.udpReceiveBufferBytes,
        options.udpNative,
        options.udpSharedFd,
      );
    if (options.udpPort !== undefined) udp = await bindUdp(options.udpPort);
    if (options.tcpPort !== undefined) {
      tcp = new TcpTransport(streamOptions);
      if (options.tcpPort === 0 && options.udpPort === 0 && udp) {
        // One SIP port for both: the port UDP got may already be taken on TCP (another socket's ephemeral
        // port); then UDP takes another free port and TCP tries again.
        for (let attempt = 1; ; attempt++) {
          try {
            await tcp.listen(udp.address().port);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= SHARED_PORT_ATTEMPTS)
              throw err;
            await udp.close();
            udp = await bindUdp(0);
          }
        }
      } else {
        await tcp.listen(options.tcpPort === 0 && udp ? udp.address().port : options.tcpPort);
      }
    }
    if (options.tls || options.tlsClient) {
      tls = new TlsTransport(streamOptions, options.tls, options.tlsClient);
      if (options.tls) await tls.listen(options.tls.port);
    }
    if (options.ws) {
      ws = new WsTransport(wsOptions);
      await ws.listen(options.ws.port);
    }
    if (options.wss) {
      wss = new WsTransport(wsOptions, options.wss, options.tlsClient);
      await wss.listen(options.wss.port);
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  // One function for every datagram: the records of responses kept for Timer J hold it by an index, not a
  // closure each (`completed-responses.ts`).
  const receiveDatagram = (bytes: Buffer, remote: Peer): void =>
    receive({ bytes, transport: 'udp', remote, send: sendUdp });
  const sendUdp = (bytes: Buffer, to: Peer, onFailure?: SendFailureHandler): void => {
    const failure = udp
      ? udp.send(bytes, to, (late) => failed(late, onFailure))
      : ({ reason: 'no-transport', transport: 'udp', to, detail: 'no UDP listener' } as const);
    if (failure) failed(failure, onFailure);
  };
  const relay = options.streamRelay;
  /** The keys of the holds passed to `relay`: only their releases go there (most bindings hold no flow). */
  const relayedHolds = new Set<string>();
  const receiveStream = (bytes: Buffer, arrival: StreamArrival): void => {
    const back: SendTarget = { ...arrival.remote, transport: arrival.transport, flowId: arrival.flowId };
    receive({
      bytes,
      ...arrival,
      // The answer goes on the flow the message came in on, whatever destination the caller computed.
      send: (out, _to, onFailure) =>
        relay
          ? relay.send(out, back, onFailure)
          : failed({ reason: 'no-transport', transport: arrival.transport, to: arrival.remote }, onFailure),
    });
  };
  const send = (bytes: Buffer, to: SendTarget, onFailure?: SendFailureHandler): string | undefined => {
    const transport = to.transport ?? 'udp';
    if (relay && transport !== 'udp') {
      relay.send(bytes, to, onFailure);
      return to.flowId;
    }
    // Stream sends only (a UDP datagram has no connection to fail later): made here, not per datagram.
    const onConnectFailure = () => (failure: SendFailure) => failed(failure, onFailure);
    // RFC 7118 §5: requests to a WebSocket client can only reach it on its WebSocket, whatever transport the
    // caller recorded for it (its messages reported 'tcp' or 'tls').
    if (to.flowId !== undefined) {
      const socket = [ws, wss].find((channel) => channel?.hasFlow(to.flowId!));
      if (socket) return settled(socket.send(bytes, to, to.flowId, onConnectFailure()), onFailure);
      // A WebSocket client that closed its connection cannot be reached by opening one toward its source
      // port: the message is not sent to that port.
      if ((ws || wss) && /^wss?-\d+$/.test(to.flowId)) {
        return settled({ reason: 'flow-closed', transport, to, detail: to.flowId }, onFailure);
      }
    }
    if (transport === 'udp') {
      sendUdp(bytes, to, onFailure);
      return undefined;
    }
    const channel = transport === 'ws' ? ws : transport === 'wss' ? wss : transport === 'tcp' ? tcp : tls;
    if (!channel) {
      const detail =
        transport === 'tls' ? 'no TLS listener or tlsClient settings' : `no ${transport} listener`;
      return settled({ reason: 'no-transport', transport, to, detail }, onFailure);
    }
    return settled(channel.send(bytes, to, to.flowId, onConnectFailure()), onFailure);
  };
  return {
    address: () => ({
      udp: udp?.address(),
      tcp: tcp?.address(),
      tls: tls?.address(),
      ws: ws?.address(),
      wss: wss?.address(),
    }),
    udpReceiveBuffer: () => udp?.receiveBuffer(),
    receiveDatagram,
    receiveStream,
    sendUdp,
    send,
    holdFlow(flowId, key, until) {
      if (relay) {
        relayedHolds.add(key);
        relay.holdFlow(flowId, key, until);
        return true;
      }
      if (![tcp, tls, ws, wss].some((channel) => channel?.hasFlow(flowId))) return false;
      holds.hold(flowId, key, until);
      return true;
    },
    releaseFlow(key) {
      if (relay && relayedHolds.delete(key)) relay.releaseFlow(key);
      holds.release(key);
    },
    connections: () => ({
      tcp: tcp?.size ?? 0,
      tls: tls?.size ?? 0,
      ws: ws?.size ?? 0,
      wss: wss?.size ?? 0,
    }),
    async close() {
      await closeAll();
    },
  };
}
