import {
  newBranch,
  type ClientTransaction,
  type ClientTransactionEvents,
  type SendFailureHandler,
  type SendTarget,
  type TransactionSend,
  type TransportName,
  type WebSocketTransportName,
} from '../sip/index.js';

/**
 * Where a leg's requests go: the transport, the address and, on TCP/TLS, the flow a NATed UA registered on;
 * `webSocket` when that flow is a SIP WebSocket (RFC 7118), whose messages travel on it whatever `transport`.
 */
export type LegTarget = Omit<SendTarget, 'transport'> & {
  readonly transport: TransportName;
  readonly webSocket?: WebSocketTransportName;
};

/** A transport, or a leg's target (whose WebSocket, if any, decides what Via and Contact say). */
type Towards = TransportName | LegTarget;

/**
 * What the B2BUA needs of the SIP stack to originate requests: our Via and Contact for a transport, a client
 * transaction for a request, and a stateless send (the ACK of a 2xx is not a transaction, §13.2.2.4).
 */
export interface SipOutbound {
  /** A top Via with a fresh branch (§8.1.1.7) and rport (RFC 3581); WS/WSS towards a WebSocket flow. */
  via(towards: Towards): string;
  /** The address we advertise for a transport. */
  address(transport: TransportName | WebSocketTransportName): { host: string; port: number };
  /** Our Contact URI for a transport (`;transport=ws` towards a WebSocket flow), as a name-addr. */
  contact(towards: Towards): string;
  request(
    bytes: Buffer,
    target: LegTarget,
    events: Omit<ClientTransactionEvents, 'terminated'> & { terminated?(): void },
  ): ClientTransaction;
  /** Sends without a transaction; never throws (a failure is counted, and told to `onFailure` if given). */
  send(bytes: Buffer, target: LegTarget, onFailure?: SendFailureHandler): void;
}

const VIA_TRANSPORT: Record<TransportName | WebSocketTransportName, string> = {
  udp: 'UDP',
  tcp: 'TCP',
  tls: 'TLS',
  ws: 'WS',
  wss: 'WSS',
};

/** The transport a message towards `towards` names in Via and Contact. */
const named = (towards: Towards): TransportName | WebSocketTransportName =>
  typeof towards === 'string' ? towards : (towards.webSocket ?? towards.transport);

/** Builds the SipOutbound of a gateway from its advertised address and the stack's send primitives. */
export function createSipOutbound(deps: {
  /** The host:port others reach us at, per transport (the advertised address, not 0.0.0.0). */
  advertised: (transport: TransportName | WebSocketTransportName) => { host: string; port: number };
  startTransaction: (
    bytes: Buffer,
    send: TransactionSend,
    options: { reliable: boolean },
    events: Omit<ClientTransactionEvents, 'terminated'> & { terminated?(): void },
  ) => ClientTransaction;
  sendBytes: (bytes: Buffer, target: LegTarget, onFailure?: SendFailureHandler) => void;
}): SipOutbound {
  const hostPort = (transport: TransportName | WebSocketTransportName) => {
    const { host, port } = deps.advertised(transport);
    return `${host.includes(':') ? `[${host}]` : host}:${port}`;
  };
  return {
    address: deps.advertised,
    via(towards) {
      // RFC 7118 §5.2: "the Via transport parameter MUST be set to "WS"" (or "WSS") on a WebSocket.
      const transport = named(towards);
      return `SIP/2.0/${VIA_TRANSPORT[transport]} ${hostPort(transport)};branch=${newBranch()};rport`;
    },
    contact(towards) {
      const transport = named(towards);
      const scheme = transport === 'tls' || transport === 'wss' ? 'sips' : 'sip';
      const param = transport === 'udp' || transport === 'tls' ? '' : `;transport=${transport}`;
      return `<${scheme}:${hostPort(transport)}${param}>`;
    },
    request(bytes, target, events) {
      return deps.startTransaction(
        bytes,
        (b, onFailure) => deps.sendBytes(b, target, onFailure),
        { reliable: target.transport !== 'udp' },
        events,
      );
    },
    send(bytes, target, onFailure) {
      deps.sendBytes(bytes, target, onFailure);
    },
  };
}
