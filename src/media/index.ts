export {
  encode,
  decode,
  BencodeError,
  type BencodeValue,
  type BencodeList,
  type BencodeDictionary,
  type BencodeErrorCode,
  type BencodeLimits,
  type DecodeOptions,
} from './ng/bencode.js';
export {
  parseNgMessage,
  formatNgMessage,
  peekCookie,
  isValidCookie,
  MAX_COOKIE_LENGTH,
  type NgDictionary,
  type NgMessage,
} from './ng/ng-message.js';
export {
  NgError,
  NgMessageError,
  NgTimeoutError,
  NgErrorReply,
  NgBadReplyError,
  NgSendError,
  NgClientClosedError,
  type NgErrorCode,
} from './ng/ng-errors.js';
export { defaultNgHandlers, type NgHandler, type NgHandlers } from './ng/ng-default-handlers.js';
export {
  createNgControlServer,
  ngCommandChannel,
  ngDropChannel,
  REASON_UNPARSABLE,
  REASON_NO_COMMAND,
  REASON_UNKNOWN_COMMAND,
  type NgControlServer,
  type NgControlServerOptions,
  type NgCommandEvent,
  type NgDropEvent,
} from './ng/ng-control-server.js';
export {
  createNgClient,
  ngClientChannel,
  type NgClient,
  type NgClientOptions,
  type NgClientEvent,
} from './ng/ng-client.js';
export { SdpParseError, type SdpErrorCode } from './sdp/sdp-error.js';
export { parseSdp, serializeSdp, type Sdp, type SdpLine, type SdpMediaSection } from './sdp/parse-sdp.js';
export {
  parseMediaLine,
  formatMediaLine,
  parseConnectionLine,
  formatConnectionLine,
  sdpAttributes,
  type SdpMediaLine,
  type SdpConnection,
} from './sdp/sdp-lines.js';
export { createMediaRelay, type MediaRelay, type MediaRelayOptions } from './relay/media-relay.js';
export {
  mediaTimeoutChannel,
  mediaCallEndedChannel,
  mediaRecordingChannel,
  type MediaTimeoutEvent,
  type MediaCallEndedEvent,
  type MediaRecordingEvent,
  type RecordingOptions,
} from './relay/session-table.js';
export type { ObjectStore } from './recording/object-store.js';
export { g711ToLinear } from './recording/mixed-wav.js';
export { MediaRelayError, type MediaRelayErrorCode } from './relay/relay-errors.js';
export type { RelayCounters, CallReport } from './relay/media-call.js';
export { offeredStreams, rewriteSdp, type OfferedStream } from './relay/sdp-rewrite.js';
export { PortAllocator, PortRangeExhaustedError, type PortPair } from './relay/port-allocator.js';
export { RtpStats, type StreamStats } from './relay/rtp-stats.js';
export {
  dgramSockets,
  relaySockets,
  type PacketSource,
  type RelaySocket,
  type RelaySockets,
} from './relay/relay-socket.js';
export { isDtls } from './relay/dtls-bridge.js';
export { srtpEngine, type SrtpEngine } from './srtp/srtp-key.js';
