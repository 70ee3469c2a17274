import type { ExtraHeaders } from '../message/build-response.js';

export type TransportName = 'udp' | 'tcp' | 'tls';

export interface Peer {
  readonly address: string;
  readonly port: number;
}

/** Where a message came from and how to answer it. */
export interface InboundContext {
  readonly transport: TransportName;
  readonly remote: Peer;
  /** Connection id for TCP/TLS (the flow, RFC 5626); undefined on UDP. */
  readonly flowId?: string;
  /** Whether the transport is reliable (TCP, TLS): transactions skip retransmission timers then (§17). */
  readonly reliable: boolean;
  /** Sends a response to the request this context belongs to, where §18.2.2 says responses go. */
  reply(status: number, reason: string, headers?: ExtraHeaders, body?: Buffer): void;
  /** Sends already-serialized response bytes to that same destination (transaction retransmissions). */
  send(bytes: Buffer): void;
}
