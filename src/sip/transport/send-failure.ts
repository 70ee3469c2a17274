import { isIP } from 'node:net';
import { sipChannels } from '../diagnostics.js';
import type { Peer } from './inbound-context.js';

/**
 * Why the transport layer could not send a message. Sending is total: a destination the socket refuses or
 * that must never be used is a failure reported to the sender, never an exception across layers.
 */
export type SendFailureReason =
  /** Port 0, above 65535 or not an integer. */
  | 'bad-port'
  /** 0.0.0.0 or :: — "this host", never a peer. */
  | 'unspecified-address'
  /** 255.255.255.255 (limited broadcast). */
  | 'broadcast'
  /** 224.0.0.0/4 or ff00::/8: SIP over multicast is not something a peer can ask a server for. */
  | 'multicast'
  /** A link-local or zone-scoped IPv6 address (fe80::/10, `%zone`): meaningless beyond one link. */
  | 'scoped-address'
  /** Neither an IP address nor a host name that resolves. */
  | 'unresolved-host'
  /** An IPv6 destination for an IPv4 socket, or the reverse. */
  | 'address-family'
  /** No listener or client configuration for the transport (e.g. TLS without `tlsClient`). */
  | 'no-transport'
  /** The flow (connection) the message must go on has closed (RFC 5626: a WebSocket client's only path). */
  | 'flow-closed'
  /** A new connection could not be opened (refused, unreachable, TLS handshake failed). */
  | 'connect-failed'
  /** The socket threw or reported an error for this send. */
  | 'socket-error';

export interface SendFailure {
  readonly reason: SendFailureReason;
  readonly transport: string;
  readonly to: Peer;
  readonly detail?: string;
}

/**
 * Told once when a message could not be sent. Never called synchronously from `send`: the sender has
 * finished what it was doing (a client transaction has been registered) before it learns of the failure.
 */
export type SendFailureHandler = (failure: SendFailure) => void;

/** `{ reason, transport, to }` for every message the transport layer could not send. */
export function publishSendFailure(failure: SendFailure): void {
  if (sipChannels.transportError.hasSubscribers) sipChannels.transportError.publish(failure);
}

/**
 * Whether a destination may be sent to at all; the reason when it may not. Checked before a socket sees it,
 * since `dgram` throws synchronously on a bad port and would take the process down from a peer's Via. A
 * host name passes (it is resolved when sent); its resolved address is checked again.
 */
export function refusedDestination(to: Peer): SendFailureReason | undefined {
  const { port, address } = to;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) return 'bad-port';
  const family = isIP(address);
  if (family === 4) {
    if (address.startsWith('0.')) return 'unspecified-address'; // 0.0.0.0/8: "this network"
    if (address === '255.255.255.255') return 'broadcast';
    const first = Number(address.slice(0, address.indexOf('.')));
    if (first >= 224 && first <= 239) return 'multicast';
    return undefined;
  }
  if (family === 6) {
    if (address.includes('%')) return 'scoped-address';
    const lower = address.toLowerCase();
    // An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 address.
    const mapped = /^(?:0*:)*:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)?.[1];
    if (mapped !== undefined) return refusedDestination({ address: mapped, port });
    if (/^(0*:)*:?0*$/.test(lower) || lower === '::') return 'unspecified-address';
    if (lower.startsWith('ff')) return 'multicast';
    if (/^fe[89ab]/.test(lower)) return 'scoped-address';
    return undefined;
  }
  // A host name (a trunk configured by name) is resolved by the socket; only a name that cannot be one is
  // refused here (RFC 3261 §25.1 hostname: alphanumerics, '-', '.').
  return HOSTNAME.test(address) && address.length <= 253 ? undefined : 'unresolved-host';
}

const HOSTNAME =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;
