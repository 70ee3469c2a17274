import { connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { sipChannels } from '../diagnostics.js';
import { SipParseError } from '../errors.js';
import { buildErrorResponseForRaw } from '../message/build-response.js';
import type { Peer } from './inbound-context.js';
import { StreamFramer } from './stream-framer.js';
import { stampTopVia } from './via-received.js';

export type StreamMessageHandler = (
  bytes: Buffer,
  remote: Peer,
  flowId: string,
  send: (bytes: Buffer) => void,
  transport: 'tcp' | 'tls',
) => void;

export interface StreamTransportOptions {
  readonly host: string;
  readonly maxMessageSize: number;
  readonly idleTimeoutMs: number;
  readonly onMessage: StreamMessageHandler;
}

const CRLF = Buffer.from('\r\n');

/**
 * A connection-oriented channel (TCP, TLS): every connection is a flow (RFC 5626) with its own framer.
 * RFC 3261 §18.3: "the Content-Length header field MUST be used to determine the end of each SIP message in
 * a stream"; a stream whose framing fails cannot be resynchronized, so the connection is answered (when the
 * head can be read) and closed. RFC 5626 §4.4.1: a double-CRLF ping is answered with a single CRLF pong.
 * A connection idle for `idleTimeoutMs` is closed.
 */
export abstract class StreamTransport {
  abstract readonly name: 'tcp' | 'tls';
  private readonly flows = new Map<string, Socket>();
  private nextFlow = 1;
  protected server: Server | undefined;

  constructor(protected readonly options: StreamTransportOptions) {}

  protected abstract createServer(onConnection: (socket: Socket) => void): Server;

  async listen(port: number): Promise<void> {
    const server = this.createServer((socket) => this.adopt(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  /**
   * Sends on flow `flowId`, else on an open connection to `to`, else (TCP only) on a new connection, as
   * §18.1.1 lets a client open one. Returns the flow used.
   */
  send(bytes: Buffer, to: Peer, flowId?: string): string {
    let flow = flowId === undefined ? undefined : this.flows.get(flowId);
    if (!flow) {
      for (const [id, socket] of this.flows) {
        if (socket.remoteAddress === to.address && socket.remotePort === to.port) {
          flowId = id;
          flow = socket;
          break;
        }
      }
    }
    if (!flow) {
      flow = this.connect(to);
      flowId = this.adopt(flow);
    }
    if (sipChannels.messageOut.hasSubscribers)
      sipChannels.messageOut.publish({ transport: this.name, to, bytes });
    if (!flow.destroyed) flow.write(bytes);
    return flowId!;
  }

  /** Opens an outbound connection (TCP only: TLS needs the peer's name and trust settings). */
  protected connect(to: Peer): Socket {
    return netConnect(to.port, to.address);
  }

  async close(): Promise<void> {
    for (const socket of this.flows.values()) socket.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private adopt(socket: Socket): string {
    const flowId = `${this.name}-${this.nextFlow++}`;
    this.flows.set(flowId, socket);
    const framer = new StreamFramer(this.options.maxMessageSize);
    const write = (bytes: Buffer) => {
      if (sipChannels.messageOut.hasSubscribers)
        sipChannels.messageOut.publish({ transport: this.name, to: remoteOf(socket), bytes });
      if (!socket.destroyed) socket.write(bytes);
    };
    socket.setTimeout(this.options.idleTimeoutMs, () => socket.destroy());
    socket.on('close', () => this.flows.delete(flowId));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = framer.push(chunk);
      } catch (err) {
        if (!(err instanceof SipParseError)) throw err;
        if (sipChannels.parseError.hasSubscribers) {
          sipChannels.parseError.publish({ transport: this.name, remote: remoteOf(socket), error: err });
        }
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
      for (const frame of frames) {
        if (frame.kind === 'ping') write(CRLF);
        else this.options.onMessage(frame.bytes, remoteOf(socket), flowId, write, this.name);
      }
    });
    return flowId;
  }
}

function remoteOf(socket: Socket): Peer {
  return { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
}
