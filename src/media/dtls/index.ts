export { DtlsConnection, type DtlsConnectionOptions } from './dtls-connection.js';
export type { SrtpKeying } from './dtls-keys.js';
export {
  newDtlsIdentity,
  certificateFingerprint,
  parseFingerprint,
  matchesFingerprint,
  type DtlsIdentity,
} from './dtls-certificate.js';
export { DtlsError, type DtlsFailureReason } from './dtls-error.js';
