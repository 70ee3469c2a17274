import {
  newBranch,
  type ClientTransaction,
  type ClientTransactionEvents,
  type SendTarget,
  type TransportName,
} from '../sip/index.js';

/** Where a leg's requests go: the transport, the address and, on TCP/TLS, the flow a NATed UA registered on. */
export type LegTarget = SendTarget & { readonly transport: TransportName };

/**
 * What the B2BUA needs of the SIP stack to originate requests: our Via and Contact for a transport, a client
 * transaction for a request, and a stateless send (the ACK of a 2xx is not a transaction, §13.2.2.4).
 */
export interface SipOutbound {
  /** A top Via with a fresh branch (§8.1.1.7) and rport (RFC 3581). */
  via(transport: TransportName): string;
  /** The address we advertise for a transport. */
  address(transport: TransportName): { host: string; port: number };
  /** Our Contact URI for a transport, as a name-addr. */
  contact(transport: TransportName): string;
  request(
    bytes: Buffer,
    target: LegTarget,
    events: Omit<ClientTransactionEvents, 'terminated'> & { terminated?(): void },
  ): ClientTransaction;
  send(bytes: Buffer, target: LegTarget): void;
}

const VIA_TRANSPORT: Record<TransportName, string> = { udp: 'UDP', tcp: 'TCP', tls: 'TLS' };

/** Builds the SipOutbound of a gateway from its advertised address and the stack's send primitives. */
export function createSipOutbound(deps: {
  /** The host:port others reach us at, per transport (the advertised address, not 0.0.0.0). */
  advertised: (transport: TransportName) => { host: string; port: number };
  startTransaction: (
    bytes: Buffer,
    send: (bytes: Buffer) => void,
    options: { reliable: boolean },
    events: Omit<ClientTransactionEvents, 'terminated'> & { terminated?(): void },
  ) => ClientTransaction;
  sendBytes: (bytes: Buffer, target: LegTarget) => void;
}): SipOutbound {
  const hostPort = (transport: TransportName) => {
    const { host, port } = deps.advertised(transport);
    return `${host.includes(':') ? `[${host}]` : host}:${port}`;
  };
  return {
    address: deps.advertised,
    via(transport) {
      return `SIP/2.0/${VIA_TRANSPORT[transport]} ${hostPort(transport)};branch=${newBranch()};rport`;
    },
    contact(transport) {
      const scheme = transport === 'tls' ? 'sips' : 'sip';
      const param = transport === 'tcp' ? ';transport=tcp' : '';
      return `<${scheme}:${hostPort(transport)}${param}>`;
    },
    request(bytes, target, events) {
      return deps.startTransaction(
        bytes,
        (b) => deps.sendBytes(b, target),
        { reliable: target.transport !== 'udp' },
        events,
      );
    },
    send(bytes, target) {
      deps.sendBytes(bytes, target);
    },
  };
}
