import { connect as netConnect, type Server, type Socket } from 'node:net';
import { sipChannels } from '../diagnostics.js';
import { SipParseError } from '../errors.js';
import { buildErrorResponseForRaw } from '../message/build-response.js';
import {
  publishConnectionClosed,
  watchIdle,
  watchMessage,
  type ConnectionAdmission,
  type FlowHolds,
} from './connection-limits.js';
import type { Peer, TransportName, WebSocketTransportName } from './inbound-context.js';
import { FlowChannel, watchConnect, type FlowPeer } from './flow-channel.js';
import { StreamFramer } from './stream-framer.js';
import { stampTopVia } from './via-received.js';

export type StreamMessageHandler = (
  bytes: Buffer,
  remote: Peer,
  flowId: string,
  /** Writes on the flow the message came in on; false when that flow has closed. */
  send: (bytes: Buffer) => boolean,
  transport: 'tcp' | 'tls',
) => void;

/**
 * Why a flow (a TCP, TLS or WebSocket connection) ended: 'idle', no complete message for the idle timeout;
 * 'message-timeout', a message begun and not complete within the message timeout.
 */
export type FlowCloseReason = 'closed' | 'error' | 'idle' | 'message-timeout' | 'framing' | 'keepalive';

export interface FlowClosedEvent {
  readonly flowId: string;
  readonly transport: Exclude<TransportName, 'udp'> | WebSocketTransportName;
  readonly remote: Peer;
  /** 'keepalive': no pong within the pong timeout (RFC 5626 §4.4.1, the flow failed). */
  readonly reason: FlowCloseReason;
}

export type FlowClosedHandler = (event: FlowClosedEvent) => void;

/**
 * RFC 5626 §4.4.1 CRLF keepalive of the flows this side opened: a double-CRLF ping every `intervalMs` (picked
 * at random between 80% and 100% of it, so that pings of many flows do not synchronize), a single-CRLF pong
 * expected within `pongTimeoutMs` (default 10 s, the RFC's figure).
 */
export interface KeepaliveOptions {
  readonly intervalMs: number;
  readonly pongTimeoutMs?: number;
}

/** §4.4.1: "If a pong is not received within 10 seconds after sending a ping ... then the client MUST treat
 * the flow as failed." */
export const PONG_TIMEOUT_MS = 10_000;

export interface StreamTransportOptions {
  readonly host: string;
  readonly maxMessageSize: number;
  /** See `StreamLimits`: no complete message in or out for this long closes the flow, unless it is held. */
  readonly idleTimeoutMs: number;
  /** See `StreamLimits`: a message begun must be complete within this long (and a TLS handshake). */
  readonly messageTimeoutMs: number;
  /** The endpoint's count of accepted connections, shared by its stream listeners. */
  readonly admission?: ConnectionAdmission;
  /** The endpoint's flows held open past their idle timeout (`SipEndpoint.holdFlow`). */
  readonly holds?: FlowHolds;
  readonly onMessage: StreamMessageHandler;
  /** CRLF keepalive of outbound flows (connections this transport opened); none by default. */
  readonly keepalive?: KeepaliveOptions;
  /** Called once when a flow ends, whoever ended it. */
  readonly onFlowClosed?: FlowClosedHandler;
}

/** A destination on a stream: `serverName` is the name a TLS connection authenticates (RFC 5922). */
export type StreamPeer = FlowPeer;

const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');

interface Flow {
  readonly socket: Socket;
  /** The peer as addressed (outbound) or as accepted (inbound): known before an outbound connect completes. */
  readonly remote: Peer;
  /** Tells the idle timeout that a message went or came. */
  readonly touch: () => void;
}

/**
 * A connection-oriented channel (TCP, TLS): every connection is a flow (RFC 5626) with its own framer.
 * RFC 3261 §18.3: "the Content-Length header field MUST be used to determine the end of each SIP message in
 * a stream"; a stream whose framing fails cannot be resynchronized, so the connection is answered (when the
 * head can be read) and closed. RFC 5626 §4.4.1: a double-CRLF ping is answered with a single CRLF pong, and
 * with `keepalive` this side pings the flows it opened. A connection with no complete message, ping or pong
 * for `idleTimeoutMs` is closed (unless held, `holdFlow`), and one whose message is not complete within
 * `messageTimeoutMs` of its first byte; accepted connections beyond the endpoint's limits are closed at once.
 */
export abstract class StreamTransport extends FlowChannel<Flow> {
  abstract override readonly name: 'tcp' | 'tls';

  constructor(protected readonly options: StreamTransportOptions) {
    super(options.host, options.admission, options.holds);
  }

  /**
   * The listener: `onConnection` gets each connection ready for SIP (TCP: accepted; TLS: handshake done), the
   * subclass having counted it against the limits first (`admit`) and closed it when over.
   */
  protected abstract createServer(onConnection: (socket: Socket) => void): Server;

  async listen(port: number): Promise<void> {
    await this.listenWith(
      this.createServer((socket) => this.adopt(socket, remoteOf(socket), false)),
      port,
    );
  }

  protected open(to: StreamPeer, onFailure: ((err: Error) => void) | undefined): string {
    const socket = this.connect(to);
    if (onFailure) watchConnect(socket, this.name === 'tls' ? 'secureConnect' : 'connect', onFailure);
    return this.adopt(socket, { address: to.address, port: to.port }, true);
  }

  protected sendOn(flow: Flow, bytes: Buffer, to: StreamPeer): void {
    if (sipChannels.messageOut.hasSubscribers)
      sipChannels.messageOut.publish({ transport: this.name, to, bytes });
    if (flow.socket.destroyed) return;
    flow.touch();
    flow.socket.write(bytes);
  }

  /** Opens an outbound connection (§18.1.1). */
  protected connect(to: StreamPeer): Socket {
    return netConnect(to.port, to.address);
  }

  async close(): Promise<void> {
    for (const flow of this.flows.values()) flow.socket.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private adopt(socket: Socket, remote: Peer, outbound: boolean): string {
    const idle = watchIdle(
      this.options.idleTimeoutMs,
      () => this.heldUntil(flowId),
      () => {
        reason = 'idle';
        socket.destroy();
      },
    );
    // Not socket.setTimeout: every byte read restarts that one, so a sender of one byte now and then would
    // keep the connection forever. Here only whole messages and keepalives count, and what is begun must end.
    const unfinished = watchMessage(this.options.messageTimeoutMs, () => {
      reason = 'message-timeout';
      socket.destroy();
    });
    const flowId = this.addFlow(this.name, { socket, remote, touch: idle.touch });
    let reason: FlowCloseReason = 'closed';
    const keepalive = outbound ? this.startKeepalive(socket, () => (reason = 'keepalive')) : undefined;
    const framer = new StreamFramer(
      this.options.maxMessageSize,
      keepalive &&
        (() => {
          idle.touch();
          keepalive.pong();
        }),
    );
    const write = (bytes: Buffer): boolean => {
      if (socket.destroyed || socket.writableEnded) return false;
      if (sipChannels.messageOut.hasSubscribers)
        sipChannels.messageOut.publish({ transport: this.name, to: remoteOf(socket), bytes });
      idle.touch();
      socket.write(bytes);
      return true;
    };
    socket.on('close', () => {
      keepalive?.stop();
      idle.stop();
      unfinished.done();
      this.removeFlow(flowId);
      if (reason === 'idle' || reason === 'message-timeout') {
        publishConnectionClosed({ transport: this.name, reason, remote });
      }
      this.options.onFlowClosed?.({ flowId, transport: this.name, remote, reason });
    });
    socket.on('error', () => {
      if (reason === 'closed') reason = 'error';
    });
    socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = framer.push(chunk);
      } catch (err) {
        if (!(err instanceof SipParseError)) throw err;
        if (sipChannels.parseError.hasSubscribers) {
          sipChannels.parseError.publish({ transport: this.name, remote: remoteOf(socket), error: err });
        }
        reason = 'framing';
        // §18.3 (RFC 4475 §3.1.2.19 ncl, §3.3.11 mcl01): answer what can be answered, then close.
        const response =
          err.status === 'drop'
            ? undefined
            : buildErrorResponseForRaw(framer.pending(), err.status, err.reason, (headers) =>
                stampTopVia(headers, remoteOf(socket)),
              );
        if (response) socket.end(response);
        else socket.destroy();
        return;
      }
      if (frames.length > 0) {
        idle.touch();
        unfinished.done();
      }
      if (framer.hasPartialMessage()) unfinished.started();
      for (const frame of frames) {
        if (frame.kind === 'ping') write(CRLF);
        else this.options.onMessage(frame.bytes, remoteOf(socket), flowId, write, this.name);
      }
    });
    return flowId;
  }

  /**
   * RFC 5626 §4.4.1 on a flow this side opened: ping with a double CRLF, expect a CRLF back. Pings start once
   * the connection is up; the idle timeout does not close a kept-alive flow, since pings are traffic.
   */
  private startKeepalive(
    socket: Socket,
    onFailed: () => void,
  ): { pong: () => void; stop: () => void } | undefined {
    const settings = this.options.keepalive;
    if (!settings) return undefined;
    const pongTimeout = settings.pongTimeoutMs ?? PONG_TIMEOUT_MS;
    let pingTimer: NodeJS.Timeout | undefined;
    let pongTimer: NodeJS.Timeout | undefined;
    const schedule = () => {
      const delay = settings.intervalMs * (0.8 + 0.2 * Math.random());
      pingTimer = setTimeout(ping, delay);
      pingTimer.unref();
    };
    const ping = () => {
      if (socket.destroyed) return;
      socket.write(CRLFCRLF);
      // §4.4.1: "If a pong is not received within 10 seconds after sending a ping ... then the client MUST
      // treat the flow as failed."
      pongTimer = setTimeout(() => {
        onFailed();
        socket.destroy();
      }, pongTimeout);
      pongTimer.unref();
    };
    const connected = socket.connecting ? undefined : true;
    if (connected) schedule();
    else socket.once(this.name === 'tls' ? 'secureConnect' : 'connect', schedule);
    return {
      pong: () => {
        if (pongTimer === undefined) return;
        clearTimeout(pongTimer);
        pongTimer = undefined;
        schedule();
      },
      stop: () => {
        clearTimeout(pingTimer);
        clearTimeout(pongTimer);
      },
    };
  }
}

function remoteOf(socket: Socket): Peer {
  return { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
}
