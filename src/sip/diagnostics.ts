import { channel } from 'node:diagnostics_channel';

/** Zero-cost tracing hooks (node:diagnostics_channel): published only when someone subscribes. */
export const sipChannels = {
  messageIn: channel('voxgate:sip:message-in'),
  messageOut: channel('voxgate:sip:message-out'),
  parseError: channel('voxgate:sip:parse-error'),
  /**
   * `{ request | response | timer, error }`: the stack's user threw while handling a message or a transaction
   * timer; the stack answered 500 where it could and went on.
   */
  handlerError: channel('voxgate:sip:handler-error'),
  /** `{ method, transport }` for every request that parsed. */
  requestIn: channel('voxgate:sip:request-in'),
  /** `{ method, status }` for every response sent to a request. */
  responseOut: channel('voxgate:sip:response-out'),
  /**
   * `{ kind }` for every retransmission: 'request-sent' (Timers A/E), 'response-sent' (Timer G, or a final
   * response repeated for a retransmitted request), 'request-absorbed' (a retransmitted request matched),
   * 'response-absorbed' (a retransmitted final response matched a client transaction in Completed).
   */
  retransmission: channel('voxgate:sip:retransmission'),
  /** `SendFailure` (`{ reason, transport, to, detail }`) for every message the transport could not send. */
  transportError: channel('voxgate:sip:transport-error'),
  /**
   * `ConnectionRefusedEvent` (`{ transport, reason, remote }`) for every connection a stream listener closed at
   * accept: 'total' or 'per-source' connections over their limit.
   */
  connectionRefused: channel('voxgate:sip:connection-refused'),
  /**
   * `ConnectionClosedEvent` (`{ transport, reason, remote }`) for every stream connection this side closed for a
   * limit: 'idle' (no complete message for the idle timeout) or 'message-timeout' (a message, or the TLS or
   * WebSocket handshake, not complete in time).
   */
  connectionClosed: channel('voxgate:sip:connection-closed'),
};

export type RetransmissionKind = 'request-sent' | 'response-sent' | 'request-absorbed' | 'response-absorbed';

/** Publishes one retransmission (nothing when no one listens). */
export function countRetransmission(kind: RetransmissionKind): void {
  if (sipChannels.retransmission.hasSubscribers) sipChannels.retransmission.publish({ kind });
}
