import { isUtf8 } from 'node:buffer';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContextOptions } from 'node:tls';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { sipChannels } from '../diagnostics.js';
import {
  publishConnectionClosed,
  watchIdle,
  watchMessage,
  type ConnectionAdmission,
  type FlowHolds,
} from './connection-limits.js';
import type { Peer, WebSocketTransportName } from './inbound-context.js';
import { FlowChannel, watchConnect, type FlowPeer } from './flow-channel.js';
import type { FlowClosedHandler } from './stream-transport.js';
import { formatHostPort } from '../uri/host-port.js';

export type WsMessageHandler = (
  bytes: Buffer,
  remote: Peer,
  flowId: string,
  /** Sends on the WebSocket the message came in on; false when it has closed. */
  send: (bytes: Buffer) => boolean,
  transport: WebSocketTransportName,
) => void;

export interface WsTransportOptions {
  readonly host: string;
  /** Largest WebSocket message accepted (the connection is closed with 1009 above it). */
  readonly maxMessageSize: number;
  /** See `StreamLimits`: no complete message in or out for this long closes the flow, unless it is held. */
  readonly idleTimeoutMs: number;
  /** See `StreamLimits`: the upgrade request, and then each WebSocket message begun, must end within this. */
  readonly messageTimeoutMs: number;
  /** The endpoint's count of accepted connections, shared by its stream listeners. */
  readonly admission?: ConnectionAdmission;
  /** The endpoint's flows held open past their idle timeout (`SipEndpoint.holdFlow`). */
  readonly holds?: FlowHolds;
  readonly onMessage: WsMessageHandler;
  readonly onFlowClosed?: FlowClosedHandler;
}

/** Trust settings for WebSocket connections this side opens over TLS (wss). */
export interface WsClientTlsOptions {
  readonly ca?: SecureContextOptions['ca'];
  readonly rejectUnauthorized?: boolean;
}

/** RFC 7118 §4.1: the WebSocket subprotocol of SIP. */
export const SIP_WS_SUBPROTOCOL = 'sip';

const PING = Buffer.from('\r\n\r\n');
const PONG = Buffer.from('\r\n');

interface Flow {
  readonly socket: WebSocket;
  readonly remote: Peer;
  /** Messages written before an outbound connection finished its handshake. */
  queue: Buffer[] | undefined;
  /** Tells the idle timeout that a message went or came. */
  readonly touch: () => void;
}

/**
 * The WebSocket channel (RFC 7118), `ws` over TCP or `wss` over TLS: one class per channel like TCP and TLS,
 * every WebSocket connection a flow (RFC 5626). RFC 7118 §5.1 (paraphrased): each SIP message travels in exactly
 * one WebSocket message, and a WebSocket message carries no more than one SIP message. So there is no stream
 * framing: each WebSocket message is handed up whole and parsed like a datagram (Content-Length optional). A
 * WebSocket message that is a double CRLF is a keepalive ping (RFC 5626 §4.4.1, which SIP.js sends) and is
 * answered with one CRLF. A connection with no complete message (or WebSocket ping or pong) for `idleTimeoutMs`
 * is closed unless held (`holdFlow`); so is one whose upgrade request or WebSocket message is not complete
 * within `messageTimeoutMs`; accepted connections beyond the endpoint's limits are closed at once.
 */
export class WsTransport extends FlowChannel<Flow, Server> {
  readonly name: WebSocketTransportName;
  private readonly wss: WebSocketServer;

  constructor(
    private readonly options: WsTransportOptions,
    private readonly credentials?: { key: string | Buffer; cert: string | Buffer },
    private readonly client: WsClientTlsOptions = {},
  ) {
    super(options.host, options.admission, options.holds);
    this.name = credentials ? 'wss' : 'ws';
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageSize,
      // RFC 7118 §4.1: the server selects the "sip" subprotocol the client offered (the upgrade handler has
      // already refused handshakes that did not offer it).
      handleProtocols: (protocols) =>
        [...protocols].find((p) => p.toLowerCase() === SIP_WS_SUBPROTOCOL) ?? false,
    });
  }

  async listen(port: number): Promise<void> {
    const onRequest = (_req: IncomingMessage, res: ServerResponse) => {
      // Only WebSocket handshakes are served here (RFC 6455 §4.2.2: 426 tells the client to upgrade).
      res.writeHead(426, { Upgrade: 'websocket', Connection: 'Upgrade', 'Content-Length': '0' }).end();
    };
    // The upgrade request is the first message: its headers must come within the message timeout (and the TLS
    // handshake before it, for wss). Node checks these deadlines every `connectionsCheckingInterval`.
    const timeout = this.options.messageTimeoutMs;
    const http = {
      headersTimeout: timeout,
      requestTimeout: timeout,
      connectionsCheckingInterval: Math.min(1000, timeout),
    };
    const server = this.credentials
      ? createHttpsServer(
          { ...http, key: this.credentials.key, cert: this.credentials.cert, handshakeTimeout: timeout },
          onRequest,
        )
      : createHttpServer(http, onRequest);
    // Counted on the TCP connection, before any HTTP or TLS: a refused peer costs nothing more.
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head),
    );
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      socket.destroy();
      if (err.code !== 'ERR_HTTP_REQUEST_TIMEOUT' && err.code !== 'ERR_TLS_HANDSHAKE_TIMEOUT') return;
      const { remoteAddress, remotePort } = socket as Socket;
      const remote = { address: remoteAddress ?? '', port: remotePort ?? 0 };
      publishConnectionClosed({ transport: this.name, reason: 'message-timeout', remote });
    });
    if (this.credentials) {
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        socket.destroy();
        if (err.code !== 'ERR_TLS_HANDSHAKE_TIMEOUT') return;
        const remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
        publishConnectionClosed({ transport: this.name, reason: 'message-timeout', remote });
      });
    }
    await this.listenWith(server, port);
  }

  /** Every SIP message travels in one WebSocket message (`write`). */
  protected sendOn(flow: Flow, bytes: Buffer): void {
    this.write(flow, bytes);
  }

  async close(): Promise<void> {
    for (const flow of this.flows.values()) flow.socket.terminate();
    this.wss.close();
    const server = this.server;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const offered = (req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim().toLowerCase());
    if (!offered.includes(SIP_WS_SUBPROTOCOL)) {
      // RFC 7118 §4.1: a SIP WebSocket server only accepts handshakes that negotiate the "sip" subprotocol.
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.adopt(
        ws,
        { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 },
        undefined,
        socket,
      );
    });
  }

  /** Opens a connection to `ws(s)://address:port` offering the "sip" subprotocol. */
  protected open(to: FlowPeer, onFailure: ((err: Error) => void) | undefined): string {
    const url = `${this.name}://${formatHostPort(to.serverName ?? to.address, to.port)}`;
    const ws = new WebSocket(url, SIP_WS_SUBPROTOCOL, {
      maxPayload: this.options.maxMessageSize,
      ...(this.name === 'wss'
        ? {
            ...(this.client.ca !== undefined ? { ca: this.client.ca } : {}),
            rejectUnauthorized: this.client.rejectUnauthorized ?? true,
            ...(to.serverName !== undefined ? { servername: to.serverName } : {}),
          }
        : {}),
    });
    if (onFailure) watchConnect(ws, 'open', onFailure);
    return this.adopt(ws, { address: to.address, port: to.port }, []);
  }

  /**
   * Keeps `socket` as a flow. `raw`, the connection under an accepted WebSocket: bytes on it start the message
   * timeout, which a whole WebSocket message (or control frame) ends.
   */
  private adopt(socket: WebSocket, remote: Peer, queue: Buffer[] | undefined, raw?: Duplex): string {
    let closeReason: 'idle' | 'message-timeout' | 'error' | 'closed' = 'closed';
    const idle = watchIdle(
      this.options.idleTimeoutMs,
      () => this.heldUntil(flowId),
      () => {
        closeReason = 'idle';
        socket.terminate();
      },
    );
    const unfinished = watchMessage(this.options.messageTimeoutMs, () => {
      closeReason = 'message-timeout';
      socket.terminate();
    });
    const flow: Flow = { socket, remote, queue, touch: idle.touch };
    const flowId = this.addFlow(this.name, flow);
    // Before the WebSocket reads them: a chunk that completes a message ends the timeout right after. A chunk
    // that ends one message and begins the next lets the next run until more bytes of it come.
    raw?.prependListener('data', () => unfinished.started());
    const framed = () => {
      idle.touch();
      unfinished.done();
    };
    socket.on('ping', framed);
    socket.on('pong', framed);
    socket.on('open', () => {
      const pending = flow.queue ?? [];
      flow.queue = undefined;
      for (const bytes of pending) this.write(flow, bytes);
    });
    socket.on('error', () => (closeReason = 'error'));
    socket.on('close', () => {
      idle.stop();
      unfinished.done();
      this.removeFlow(flowId);
      if (closeReason === 'idle' || closeReason === 'message-timeout') {
        publishConnectionClosed({ transport: this.name, reason: closeReason, remote });
      }
      this.options.onFlowClosed?.({ flowId, transport: this.name, remote, reason: closeReason });
    });
    socket.on('message', (data: RawData) => {
      framed();
      const bytes = toBuffer(data);
      if (bytes.equals(PING)) {
        this.write(flow, PONG);
        return;
      }
      if (bytes.equals(PONG)) return;
      this.options.onMessage(bytes, remote, flowId, (out) => this.write(flow, out), this.name);
    });
    return flowId;
  }

  private write(flow: Flow, bytes: Buffer): boolean {
    if (flow.queue) {
      flow.queue.push(bytes);
      return true;
    }
    if (flow.socket.readyState !== WebSocket.OPEN) return false;
    if (sipChannels.messageOut.hasSubscribers)
      sipChannels.messageOut.publish({ transport: this.name, to: flow.remote, bytes });
    flow.touch();
    // RFC 7118 §4.2: text frames must carry UTF-8 (RFC 6455 §5.6), so a message with a body that is not UTF-8
    // goes in a binary frame; SIP messages are otherwise sent as text, which browsers' SIP stacks expect.
    flow.socket.send(bytes, { binary: !isUtf8(bytes) });
    return true;
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
