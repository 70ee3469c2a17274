import type { EventEmitter } from 'node:events';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { ConnectionAdmission, FlowHolds } from './connection-limits.js';
import type { Peer } from './inbound-context.js';
import { refusedDestination, type SendFailure } from './send-failure.js';

/** A destination on a connection: `serverName` is the name a TLS connection authenticates (RFC 5922). */
export type FlowPeer = Peer & { readonly serverName?: string };

/**
 * What the connection-oriented channels share — TCP and TLS (`StreamTransport`), ws and wss (`WsTransport`):
 * every connection is a flow (RFC 5626) kept by id; a message goes on the flow asked for, else on an open
 * connection to its destination, else on a new one (§18.1.1); the server listens on the channel's host.
 */
export abstract class FlowChannel<F extends { readonly remote: Peer }, S extends Server = Server> {
  abstract readonly name: 'tcp' | 'tls' | 'ws' | 'wss';
  protected readonly flows = new Map<string, F>();
  protected server: S | undefined;
  private nextFlow = 1;

  protected constructor(
    private readonly host: string,
    private readonly admission?: ConnectionAdmission,
    private readonly holds?: FlowHolds,
  ) {}

  /** Open flows of this channel, inbound and outbound. */
  get size(): number {
    return this.flows.size;
  }

  /** Counts an accepted connection against the endpoint's limits, or closes it at once (false). */
  protected admit(socket: Socket): boolean {
    return this.admission ? this.admission.admit(socket, this.name) : true;
  }

  /** Until when (epoch ms) a hold keeps flow `flowId` open; 0 when none does. */
  protected heldUntil(flowId: string): number {
    return this.holds?.until(flowId) ?? 0;
  }

  /** Forgets flow `flowId` and its holds. */
  protected removeFlow(flowId: string): void {
    this.flows.delete(flowId);
    this.holds?.forget(flowId);
  }

  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  /** Whether `flowId` is an open connection of this channel. */
  hasFlow(flowId: string): boolean {
    return this.flows.has(flowId);
  }

  /**
   * Sends on flow `flowId`, else on an open connection to `to`, else on a new connection (`open`), as §18.1.1
   * lets a client open one. Returns the flow used, or the failure when no flow can carry the message now (a
   * destination that must not be used, a socket that throws). A new connection that then fails to open
   * reports `connect-failed` to `onConnectFailure`, once.
   */
  send(
    bytes: Buffer,
    to: FlowPeer,
    flowId?: string,
    onConnectFailure?: (failure: SendFailure) => void,
  ): string | SendFailure {
    let id = this.flowFor(to, flowId);
    if (id === undefined) {
      const refused = refusedDestination(to);
      if (refused) return { reason: refused, transport: this.name, to };
      try {
        id = this.open(
          to,
          onConnectFailure &&
            ((err) =>
              onConnectFailure({ reason: 'connect-failed', transport: this.name, to, detail: err.message })),
        );
      } catch (err) {
        return { reason: 'socket-error', transport: this.name, to, detail: (err as Error).message };
      }
    }
    this.sendOn(this.flows.get(id)!, bytes, to);
    return id;
  }

  /**
   * Opens a connection to `to` and keeps it as a flow (returning its id); `onFailure`, when given, is told
   * once if the connection fails before it opens (see `watchConnect`). May throw when the socket cannot be made.
   */
  protected abstract open(to: FlowPeer, onFailure: ((err: Error) => void) | undefined): string;

  /** Writes one message on an open or opening flow. */
  protected abstract sendOn(flow: F, bytes: Buffer, to: FlowPeer): void;

  /** Listens on `port` of the channel's host with `server`, which becomes the channel's. */
  protected async listenWith(server: S, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** The open flow `flowId`, else an open connection to `to`; undefined when a new connection is needed. */
  protected flowFor(to: Peer, flowId: string | undefined): string | undefined {
    if (flowId !== undefined && this.flows.has(flowId)) return flowId;
    for (const [id, flow] of this.flows) {
      if (flow.remote.address === to.address && flow.remote.port === to.port) return id;
    }
    return undefined;
  }

  /** Keeps `flow` under a new id, `<prefix>-<n>`, and returns the id. */
  protected addFlow(prefix: string, flow: F): string {
    const flowId = `${prefix}-${this.nextFlow++}`;
    this.flows.set(flowId, flow);
    return flowId;
  }
}

/**
 * Tells `onFailure`, once, when a connection this side opens fails before `openEvent` (connect, TLS or
 * WebSocket handshake); nothing once it has opened.
 */
export function watchConnect(socket: EventEmitter, openEvent: string, onFailure: (err: Error) => void): void {
  const failed = (err: Error) => {
    socket.off(openEvent, opened);
    onFailure(err);
  };
  const opened = () => socket.off('error', failed);
  socket.once('error', failed);
  socket.once(openEvent, opened);
}
