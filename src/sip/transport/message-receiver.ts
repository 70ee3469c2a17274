import { sipChannels } from '../diagnostics.js';
import { SipParseError } from '../errors.js';
import { buildErrorResponseForRaw, buildResponse } from '../message/build-response.js';
import { parseMessage } from '../message/parse-message.js';
import type { SipHeader, SipRequest, SipResponse } from '../message/sip-message.js';
import type {
  InboundContext,
  Peer,
  PeerSend,
  TransportName,
  WebSocketTransportName,
} from './inbound-context.js';
import { responseDestination, stampTopVia } from './via-received.js';

export type ResponseContext = Omit<InboundContext, 'reply' | 'send'>;

export interface ReceiverHandlers {
  onRequest(request: SipRequest, ctx: InboundContext): void;
  onResponse?(response: SipResponse, ctx: ResponseContext): void;
}

export interface Arrival {
  readonly bytes: Buffer;
  readonly transport: TransportName;
  readonly remote: Peer;
  readonly flowId?: string;
  /** Set when the message was one WebSocket message (RFC 7118); `transport` is then 'tcp' or 'tls'. */
  readonly webSocket?: WebSocketTransportName;
  /**
   * Sends bytes back: on UDP to the given peer, on a stream on the flow the message came in on. Never throws;
   * a failure is counted and told to `onFailure` (§17.2.4).
   */
  readonly send: PeerSend;
}

/**
 * The transport-independent half of receiving (RFC 3261 §18.2.1, §18.1.2): parse; answer a request that does
 * not parse with the status its defect calls for, built from whatever headers could be read; drop a response
 * that does not parse; stamp received/rport on a request's top Via; hand the message up with a context that
 * replies where §18.2.2 says. Nothing a peer sends can make this throw.
 */
export function createReceiver(handlers: ReceiverHandlers): (arrival: Arrival) => void {
  return ({ bytes, transport, remote, flowId, webSocket, send }) => {
    if (sipChannels.messageIn.hasSubscribers) sipChannels.messageIn.publish({ transport, remote, bytes });
    let message;
    try {
      // RFC 7118 §5.1: a WebSocket message carries exactly one SIP message, whose boundaries the WebSocket
      // framing preserves, so Content-Length is optional there: it is read like a datagram.
      message = parseMessage(bytes, { datagram: transport === 'udp' || webSocket !== undefined });
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      if (sipChannels.parseError.hasSubscribers)
        sipChannels.parseError.publish({ transport, remote, error: err });
      // §18.1.2 / §16.7: malformed responses are silently discarded.
      if (err.status === 'drop') return;
      // §18.2.1 / RFC 3581 apply to the top Via of what could be read, so the answer goes where it should.
      // §18.2.2: the answer to a datagram goes where its (copied, stamped) top Via says.
      let via: SipHeader | undefined;
      const response = buildErrorResponseForRaw(bytes, err.status, err.reason, (headers) => {
        const stamped = stampTopVia(headers, remote);
        via = stamped.find((h) => h.name === 'Via');
        return stamped;
      });
      const destination = transport === 'udp' && via ? responseDestination(via, remote) : remote;
      if (response) send(response, destination);
      return;
    }
    const reliable = transport !== 'udp';
    if (message.kind === 'response') {
      try {
        handlers.onResponse?.(message, {
          transport,
          remote,
          flowId,
          reliable,
          ...(webSocket ? { webSocket } : {}),
        });
      } catch (err) {
        // A response is never answered; the failure is reported, and the listener goes on.
        if (sipChannels.handlerError.hasSubscribers)
          sipChannels.handlerError.publish({ response: message, error: err });
      }
      return;
    }
    const request: SipRequest = { ...message, headers: stampTopVia(message.headers, remote) };
    if (sipChannels.requestIn.hasSubscribers)
      sipChannels.requestIn.publish({ method: message.method, transport });
    // §18.2.2: on a reliable transport the response goes back on the connection the request came in on.
    const topVia = request.headers.find((h) => h.name === 'Via');
    const destination = reliable || !topVia ? remote : responseDestination(topVia, remote);
    const ctx: InboundContext = {
      transport,
      remote,
      flowId,
      reliable,
      ...(webSocket ? { webSocket } : {}),
      reply: replyTo(request, send, destination),
      send: sendTo(send, destination),
      route: reliable ? undefined : { send, to: destination },
    };
    try {
      handlers.onRequest(request, ctx);
    } catch (err) {
      if (sipChannels.handlerError.hasSubscribers) sipChannels.handlerError.publish({ request, error: err });
      // §17.1.1.3 / §17.2.1: an ACK is never answered.
      if (request.method !== 'ACK') ctx.reply(500, 'Server Internal Error');
    }
  };
}

/**
 * `ctx.send` and `ctx.reply` are made in scopes of their own: a closure keeps its whole scope alive, and a
 * server transaction keeps `send` for up to 32 s (Timers G/H/J/L) — it must not keep the parsed request too.
 */
function sendTo(send: Arrival['send'], destination: Peer): InboundContext['send'] {
  return (bytes, onFailure) => send(bytes, destination, onFailure);
}

function replyTo(request: SipRequest, send: Arrival['send'], destination: Peer): InboundContext['reply'] {
  return (status, reason, headers, body) => {
    if (sipChannels.responseOut.hasSubscribers)
      sipChannels.responseOut.publish({ method: request.method, status });
    send(buildResponse(request, status, reason, headers, body), destination);
  };
}
