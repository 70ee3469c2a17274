import type { ExtraHeaders } from '../message/build-response.js';
import type { SendFailureHandler } from './send-failure.js';

export type TransportName = 'udp' | 'tcp' | 'tls';

/**
 * RFC 7118 §5.2.2: the Via transport of SIP over WebSocket is "WS", and "WSS" over a secure WebSocket. A
 * WebSocket flow runs on a TCP (ws) or TLS (wss) connection, which is what `InboundContext.transport` says for
 * it, so that code written for UDP/TCP/TLS keeps working; `webSocket` tells the two apart.
 */
export type WebSocketTransportName = 'ws' | 'wss';

export interface Peer {
  readonly address: string;
  readonly port: number;
}

/** A transport's sending to a peer. Never throws; a failure is told to `onFailure` after the call returns. */
export type PeerSend = (bytes: Buffer, to: Peer, onFailure?: SendFailureHandler) => void;

/** What `InboundContext.send` does, as data: the transport's send, and where the responses go (§18.2.2). */
export interface ResponseRoute {
  readonly send: PeerSend;
  readonly to: Peer;
}

/** Where a message came from and how to answer it. */
export interface InboundContext {
  readonly transport: TransportName;
  readonly remote: Peer;
  /** Connection id for TCP/TLS (the flow, RFC 5626); undefined on UDP. */
  readonly flowId?: string;
  /** Whether the transport is reliable (TCP, TLS): transactions skip retransmission timers then (§17). */
  readonly reliable: boolean;
  /**
   * Set when the message came in a SIP WebSocket message (RFC 7118): 'ws' (then `transport` is 'tcp') or
   * 'wss' (then 'tls'). Answers and requests sent with this `flowId` go back on that WebSocket.
   */
  readonly webSocket?: WebSocketTransportName;
  /** Sends a response to the request this context belongs to, where §18.2.2 says responses go. */
  reply(status: number, reason: string, headers?: ExtraHeaders, body?: Buffer): void;
  /**
   * Sends already-serialized response bytes to that same destination (transaction retransmissions). Never
   * throws; a failure is told to `onFailure` after the call returns (§17.2.4).
   */
  send(bytes: Buffer, onFailure?: SendFailureHandler): void;
  /**
   * `send` as data, set by the receiver for a datagram: a record of a response kept for Timer J holds this
   * instead of the `send` closure (`completed-responses.ts`). For that, `route.send` is the same function for
   * every datagram of a socket.
   */
  readonly route?: ResponseRoute;
}
