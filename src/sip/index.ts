export {
  SipParseError,
  SipTransportError,
  sipErrorCodes,
  sipTransportErrorCodes,
  type SipErrorCode,
  type SipTransportErrorCode,
} from './errors.js';
export { detachString, parseMessage, type ParseOptions } from './message/parse-message.js';
export { serializeMessage } from './message/serialize-message.js';
export {
  contactsOf,
  fromOf,
  hasOptionTag,
  maxForwardsOf,
  requestUriOf,
  toOf,
  topViaOf,
  viaOf,
} from './message/header-access.js';
export { canonicalHeaderName } from './message/header-names.js';
export { parseCallId } from './headers/call-id.js';
export { parseContact } from './headers/contact.js';
export { parseContentLength } from './headers/content-length.js';
export { parseCSeq, type CSeq } from './headers/cseq.js';
export { formatRAck, parseRAck, type RAck } from './headers/rack.js';
export { parseRSeq } from './headers/rseq.js';
export { parseFrom, type FromTo } from './headers/from.js';
export { parseMaxForwards } from './headers/max-forwards.js';
export {
  formatNameAddr,
  nameAddrParam,
  parseNameAddr,
  withoutTag,
  type NameAddr,
} from './headers/name-addr.js';
export { paramValue, type HeaderParam } from './headers/params.js';
export { parseTo } from './headers/to.js';
export { parseVia, type Via } from './headers/via.js';
export { parseSipUri, parseTelUri, parseUri, uriParam } from './uri/parse-uri.js';
export { bareHost, formatHost, formatHostPort, parseHostPort } from './uri/host-port.js';
export { uriUser } from './uri/uri-user.js';
export { isSipsUri } from './uri/sips.js';
export { isWellEscaped, unescapeUri } from './uri/escape.js';
export { sameUri, sipUrisEqual } from './uri/uri-equal.js';
export {
  isSipUri,
  type AbsoluteUri,
  type SipUri,
  type TelUri,
  type Uri,
  type UriParam,
} from './uri/uri-types.js';
export {
  header,
  headerValues,
  headerParam,
  splitList,
  topLevelComma,
  type SipHeader,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from './message/sip-message.js';
export { randomHex, randomBase64url } from './random-token.js';
export { SlotMap } from './slot-map.js';
export { buildResponse, newTag, type ExtraHeaders } from './message/build-response.js';
export type {
  InboundContext,
  Peer,
  TransportName,
  WebSocketTransportName,
} from './transport/inbound-context.js';
export { StreamFramer } from './transport/stream-framer.js';
export {
  DEFAULT_STREAM_LIMITS,
  type ConnectionClosedEvent,
  type ConnectionClosedReason,
  type ConnectionRefusedEvent,
  type ConnectionRefusedReason,
  type StreamLimits,
} from './transport/connection-limits.js';
export {
  createSipEndpoint,
  sipChannels,
  type SendTarget,
  type SipEndpoint,
  type SipEndpointOptions,
  type StreamArrival,
  type StreamRelay,
} from './transport/sip-endpoint.js';
export { askReceiveBuffer, UdpTransport } from './transport/udp-transport.js';
export {
  nativeUdpFor,
  nativeUdpStats,
  udpBatchSockets,
  type BatchedSocket,
  type UdpMode,
  type DatagramSource,
  type UdpBatchSockets,
  type UdpBatchStats,
} from './transport/udp-batch.js';
export {
  refusedDestination,
  type SendFailure,
  type SendFailureHandler,
  type SendFailureReason,
} from './transport/send-failure.js';
export {
  PONG_TIMEOUT_MS,
  StreamTransport,
  type FlowClosedEvent,
  type FlowClosedHandler,
  type FlowCloseReason,
  type KeepaliveOptions,
  type StreamPeer,
  type StreamTransportOptions,
} from './transport/stream-transport.js';
export { TcpTransport } from './transport/tcp-transport.js';
export { TlsTransport, type TlsClientOptions } from './transport/tls-transport.js';
export {
  SIP_WS_SUBPROTOCOL,
  WsTransport,
  type WsClientTlsOptions,
  type WsMessageHandler,
  type WsTransportOptions,
} from './transport/ws-transport.js';
export type { ResponseContext } from './transport/message-receiver.js';
export {
  locateServer,
  orderSrv,
  type DnsResolver,
  type LocatedTarget,
  type LocateOptions,
} from './transport/locate-server.js';
export { validateRequest, KNOWN_METHODS, type UasPolicy, type Rejection } from './uas/validate-request.js';
export {
  ReliableProvisionals,
  type Provisional,
  type ReliableProvisionalsOptions,
} from './uas/reliable-provisionals.js';
export {
  retransmit2xxUntilAck,
  type Retransmit2xx,
  type Retransmit2xxOptions,
} from './uas/retransmit-2xx.js';
export { buildRequest } from './message/build-response.js';
export { DEFAULT_TIMERS, type TimerSettings } from './transaction/timers.js';
export {
  serverTransactionKey,
  clientTransactionKey,
  sentBy,
  MAGIC_COOKIE,
} from './transaction/transaction-key.js';
export type { ServerTransaction } from './transaction/server-transaction.js';
export {
  buildCancel,
  buildNon2xxAck,
  transportFailureResponse,
  isTransportFailure,
  type ClientTransaction,
  type ClientTransactionEvents,
  type TransactionSend,
} from './transaction/client-transaction.js';
export { outgoingRequest, type OutgoingRequest } from './transaction/outgoing-request.js';
export {
  createTransactionLayer,
  type TransactionLayer,
  type TransactionUser,
} from './transaction/transaction-layer.js';
export { parseAuthHeader, formatAuthHeader, type AuthHeader } from './auth/auth-params.js';
export {
  computeHa1,
  computeResponse,
  digestHash,
  DIGEST_ALGORITHMS,
  type DigestAlgorithm,
} from './auth/digest.js';
export {
  createDigestServer,
  type DigestServer,
  type DigestVerdict,
  type Ha1Lookup,
} from './auth/digest-server.js';
export { answerChallenge } from './auth/digest-client.js';
export { fixedKeyRing, keyRingOf, type KeyRing } from './auth/key-ring.js';
export {
  buildDialogRequest,
  dialogRequest,
  createUacDialog,
  createUasDialog,
  dialogKey,
  newBranch,
  receiveDialogRequest,
  uriOf,
  type Dialog,
  type DialogId,
} from './dialog/dialog.js';
