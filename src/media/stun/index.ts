export {
  parseStun,
  serializeStun,
  appendAttribute,
  attribute,
  unknownRequired,
  looksLikeStun,
  messageType,
  MAGIC_COOKIE,
  BINDING,
  ATTR,
  type StunMessage,
  type StunAttribute,
  type StunClass,
  type StunDraft,
  type StunError,
  type StunErrorCode,
  type StunResult,
} from './stun-message.js';
export { addMessageIntegrity, verifyMessageIntegrity, shortTermKey } from './message-integrity.js';
export { addFingerprint, verifyFingerprint, crc32 } from './fingerprint.js';
export {
  encodeXorMappedAddress,
  decodeXorMappedAddress,
  type TransportAddress,
} from './xor-mapped-address.js';
export { encodeUsername, decodeUsername, splitIceUsername } from './username.js';
export {
  encodeErrorCode,
  decodeErrorCode,
  encodeUnknownAttributes,
  type StunErrorCodeValue,
} from './error-code.js';
export {
  encodePriority,
  decodePriority,
  encodeUseCandidate,
  decodeUseCandidate,
  encodeTieBreaker,
  decodeTieBreaker,
} from './ice-attributes.js';
export {
  readBindingRequest,
  bindingSuccess,
  bindingError,
  bindingRequest,
  type BindingRequest,
} from './binding.js';
export { ipBytes, ipText } from './ip-bytes.js';
