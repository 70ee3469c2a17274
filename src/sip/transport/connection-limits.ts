import type { Socket } from 'node:net';
import { sipChannels } from '../diagnostics.js';
import type { Peer } from './inbound-context.js';

/**
 * Bounds on the connections the stream listeners (TCP, TLS, ws, wss) accept. RFC 3261 §18 leaves how long a
 * connection lives to the implementation: "it is RECOMMENDED that connections be kept open for some
 * implementation-defined duration after the last message was sent or received over that connection. This
 * duration SHOULD at least equal the longest amount of time the element would need in order to bring a
 * transaction from instantiation to the terminated state" — so the idle timeout counts messages both ways, and a
 * platform setting should not go below 64*T1 (32 s, Timers B, F and H).
 */
export interface StreamLimits {
  /**
   * A connection on which no complete message, keepalive ping or pong has come or gone for this long is closed,
   * unless it carries a registration that still lives (`SipEndpoint.holdFlow`). Bytes of an unfinished message
   * do not count: they have `messageTimeoutMs`.
   */
  readonly idleTimeoutMs: number;
  /**
   * A message whose first byte has arrived must be complete within this long, else the connection is closed:
   * bytes trickling in do not extend it (a slowloris sender). The TLS and WebSocket handshakes, before the first
   * SIP message, count as a message.
   */
  readonly messageTimeoutMs: number;
  /** Connections accepted and open at once on all stream listeners; one more is closed at accept. */
  readonly maxConnections: number;
  /** The same from one source address. */
  readonly maxConnectionsPerSource: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  idleTimeoutMs: 120_000,
  messageTimeoutMs: 20_000,
  maxConnections: 4096,
  maxConnectionsPerSource: 100,
};

/** Why an accepted connection was closed at once: the limit in all, or the one per source address. */
export type ConnectionRefusedReason = 'total' | 'per-source';

export interface ConnectionRefusedEvent {
  readonly transport: 'tcp' | 'tls' | 'ws' | 'wss';
  readonly reason: ConnectionRefusedReason;
  readonly remote: Peer;
}

/** Why this side closed a connection for a limit (see `StreamLimits`). */
export type ConnectionClosedReason = 'idle' | 'message-timeout';

export interface ConnectionClosedEvent {
  readonly transport: 'tcp' | 'tls' | 'ws' | 'wss';
  readonly reason: ConnectionClosedReason;
  readonly remote: Peer;
}

/** Publishes a connection closed for a limit on `voxgate:sip:connection-closed` (nothing when no one listens). */
export function publishConnectionClosed(event: ConnectionClosedEvent): void {
  if (sipChannels.connectionClosed.hasSubscribers) sipChannels.connectionClosed.publish(event);
}

/**
 * Counts the accepted connections of every stream listener of an endpoint, in all and per source address, and
 * refuses one beyond either limit: destroyed at accept, before any byte is read or a TLS handshake made, and
 * published on `voxgate:sip:connection-refused`. Connections this side opens are not counted: they are made on
 * behalf of the platform, not of a peer.
 */
export class ConnectionAdmission {
  private total = 0;
  private readonly bySource = new Map<string, number>();

  constructor(private readonly limits: Pick<StreamLimits, 'maxConnections' | 'maxConnectionsPerSource'>) {}

  /** Connections accepted and open now. */
  get open(): number {
    return this.total;
  }

  /** Admits `socket` (counted until it closes), or destroys it and returns false. */
  admit(socket: Socket, transport: ConnectionRefusedEvent['transport']): boolean {
    const source = sourceAddress(socket.remoteAddress ?? '');
    const fromSource = this.bySource.get(source) ?? 0;
    const reason: ConnectionRefusedReason | undefined =
      this.total >= this.limits.maxConnections
        ? 'total'
        : fromSource >= this.limits.maxConnectionsPerSource
          ? 'per-source'
          : undefined;
    if (reason) {
      if (sipChannels.connectionRefused.hasSubscribers) {
        const event: ConnectionRefusedEvent = {
          transport,
          reason,
          remote: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
        };
        sipChannels.connectionRefused.publish(event);
      }
      socket.destroy();
      return false;
    }
    this.total += 1;
    this.bySource.set(source, fromSource + 1);
    socket.once('close', () => {
      this.total -= 1;
      const left = (this.bySource.get(source) ?? 1) - 1;
      if (left > 0) this.bySource.set(source, left);
      else this.bySource.delete(source);
    });
    return true;
  }
}

/**
 * Flows kept open past their idle timeout, each for a key (a registered binding) until a time: RFC 5626 §5.2,
 * requests to a UA that registered over a connection go on that connection, so it must outlive an idle timeout
 * while the registration lives. A key holds one flow at a time (a re-registration on a new connection moves it);
 * holds past their time are dropped when read, and all of a flow's when it closes, so the map is bounded by the
 * live registrations on open flows.
 */
export class FlowHolds {
  private readonly byFlow = new Map<string, Map<string, number>>();
  private readonly flowOf = new Map<string, string>();

  hold(flowId: string, key: string, until: number): void {
    const previous = this.flowOf.get(key);
    if (previous !== undefined && previous !== flowId) this.drop(previous, key);
    let keys = this.byFlow.get(flowId);
    if (!keys) this.byFlow.set(flowId, (keys = new Map()));
    keys.set(key, until);
    this.flowOf.set(key, flowId);
  }

  release(key: string): void {
    const flowId = this.flowOf.get(key);
    if (flowId !== undefined) this.drop(flowId, key);
  }

  /** The latest time a hold keeps `flowId` open (epoch ms), 0 when none does. */
  until(flowId: string): number {
    const keys = this.byFlow.get(flowId);
    if (!keys) return 0;
    const now = Date.now();
    let latest = 0;
    for (const [key, at] of keys) {
      if (at <= now) this.drop(flowId, key);
      else latest = Math.max(latest, at);
    }
    return latest;
  }

  /** The flow closed: its holds go. */
  forget(flowId: string): void {
    for (const key of this.byFlow.get(flowId)?.keys() ?? []) this.flowOf.delete(key);
    this.byFlow.delete(flowId);
  }

  /** Holds kept now. */
  get size(): number {
    return this.flowOf.size;
  }

  private drop(flowId: string, key: string): void {
    const keys = this.byFlow.get(flowId);
    keys?.delete(key);
    if (keys?.size === 0) this.byFlow.delete(flowId);
    if (this.flowOf.get(key) === flowId) this.flowOf.delete(key);
  }
}

/** An IPv4 peer on a dual-stack listener is reported as `::ffff:a.b.c.d`: the same source as `a.b.c.d`. */
function sourceAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The idle timeout of one flow: `touch` on every complete message, ping or pong in or out; `onIdle` once the
 * flow has had none for `idleMs` and is held by nothing (`heldUntil`, epoch ms, 0 when not held). One timer per
 * flow, re-armed only when it fires, so a message costs a clock read.
 */
export function watchIdle(
  idleMs: number,
  heldUntil: () => number,
  onIdle: () => void,
): { touch(): void; stop(): void } {
  let last = Date.now();
  let timer: NodeJS.Timeout;
  const arm = (ms: number) => {
    timer = setTimeout(check, ms);
    timer.unref();
  };
  const check = () => {
    const now = Date.now();
    const due = Math.max(last + idleMs, heldUntil());
    // Held: looked at again within an idle timeout, so that a hold released early takes effect by then.
    if (now < due) arm(Math.min(due - now, idleMs));
    else onIdle();
  };
  arm(idleMs);
  return {
    touch: () => {
      last = Date.now();
    },
    stop: () => clearTimeout(timer),
  };
}

/**
 * The message (header) timeout of one flow: `started` when bytes of a message are waiting (a no-op while the
 * timer runs, so bytes trickling in never extend it), `done` when no message is unfinished; `onTimeout` once a
 * message has been unfinished for `timeoutMs`.
 */
export function watchMessage(timeoutMs: number, onTimeout: () => void): { started(): void; done(): void } {
  let timer: NodeJS.Timeout | undefined;
  return {
    started: () => {
      if (timer !== undefined) return;
      timer = setTimeout(onTimeout, timeoutMs);
      timer.unref();
    },
    done: () => {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
