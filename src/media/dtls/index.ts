export { DtlsConnection, type DtlsConnectionOptions, type SrtpKeying } from './dtls-connection.js';
export {
  newDtlsIdentity,
  certificateFingerprint,
  parseFingerprint,
  matchesFingerprint,
  type DtlsIdentity,
} from './dtls-certificate.js';
export { DtlsError, type DtlsFailureReason } from './dtls-error.js';
