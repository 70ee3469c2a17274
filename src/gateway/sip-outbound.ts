import {
  formatHostPort,
  newBranch,
  type ClientTransaction,
  type ClientTransactionEvents,
  type SendFailureHandler,
  type SendTarget,
  type SipRequest,
  type TransactionSend,
  type TransportName,
  type WebSocketTransportName,
} from '../sip/index.js';
import type { Binding } from '../store/shared-state/index.js';
import { contactDestination } from './nat-detection.js';

/**
 * Where a leg's requests go: the transport, the address and, on TCP/TLS, the flow a NATed UA registered on;
 * `webSocket` when that flow is a SIP WebSocket (RFC 7118), whose messages travel on it whatever `transport`.
 */
export type LegTarget = Omit<SendTarget, 'transport'> & {
  readonly transport: TransportName;
  readonly webSocket?: WebSocketTransportName;
};

/**
 * Where requests to a registered contact go, as the registrar decided (`binding.reach`, `nat-detection.ts`):
 * the Contact's own address and port (RFC 3261 §10.3, a UA not behind NAT), or where the REGISTER came from —
 * its address and port (RFC 3581) and, on TCP/TLS/WebSocket, its flow (RFC 5626 §5.3; a WebSocket binding is
 * reached only on its flow, RFC 7118 §5, which runs over TCP for ws or TLS for wss). A binding of an earlier
 * version (no `reach`) goes to the source, as it always did; so does a Contact with no address in it.
 */
export function bindingTarget(b: Binding): LegTarget {
  const contact =
    b.reach === 'contact' && b.transport !== 'ws' && b.transport !== 'wss'
      ? contactDestination(b.contact)
      : undefined;
  if (contact) return contact;
  return {
    transport: b.transport === 'ws' ? 'tcp' : b.transport === 'wss' ? 'tls' : b.transport,
    address: b.source.address,
    port: b.source.port,
    ...(b.flowId ? { flowId: b.flowId } : {}),
    ...(b.transport === 'ws' || b.transport === 'wss' ? { webSocket: b.transport } : {}),
  };
}

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
  /**
   * Our Contact URI for a transport (`;transport=ws` towards a WebSocket flow), as a name-addr. A `sips:` URI
   * only in a secure dialog (§8.1.1.8: "if the Request-URI or top Route header field value contains a SIPS URI,
   * the Contact header field MUST contain a SIPS URI"); over TLS in a `sip:` dialog it is `sip:…;transport=tls`,
   * which every UA can send to (libre, for one, cannot send to a `sips:` remote target it did not ask for).
   */
  contact(towards: Towards, secure?: boolean): string;
  /** A client transaction for `bytes`; `request` is what they parse as, when the caller built both. */
  request(
    bytes: Buffer,
    target: LegTarget,
    events: Omit<ClientTransactionEvents, 'terminated'> & { terminated?(): void },
    request?: SipRequest,
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
    options: { reliable: boolean; request?: SipRequest },
    events: Omit<ClientTransactionEvents, 'terminated'> & { terminated?(): void },
  ) => ClientTransaction;
  sendBytes: (bytes: Buffer, target: LegTarget, onFailure?: SendFailureHandler) => void;
}): SipOutbound {
  const hostPort = (transport: TransportName | WebSocketTransportName) => {
    const { host, port } = deps.advertised(transport);
    return formatHostPort(host, port);
  };
  return {
    address: deps.advertised,
    via(towards) {
      // RFC 7118 §5.2: "the Via transport parameter MUST be set to "WS"" (or "WSS") on a WebSocket.
      const transport = named(towards);
      return `SIP/2.0/${VIA_TRANSPORT[transport]} ${hostPort(transport)};branch=${newBranch()};rport`;
    },
    contact(towards, secure = false) {
      const transport = named(towards);
      const sips = (secure && transport === 'tls') || transport === 'wss';
      const param = transport === 'udp' || (sips && transport === 'tls') ? '' : `;transport=${transport}`;
      return `<${sips ? 'sips' : 'sip'}:${hostPort(transport)}${param}>`;
    },
    request(bytes, target, events, request) {
      return deps.startTransaction(
        bytes,
        (b, onFailure) => deps.sendBytes(b, target, onFailure),
        request
          ? { reliable: target.transport !== 'udp', request }
          : { reliable: target.transport !== 'udp' },
        events,
      );
    },
    send(bytes, target, onFailure) {
      deps.sendBytes(bytes, target, onFailure);
    },
  };
}
