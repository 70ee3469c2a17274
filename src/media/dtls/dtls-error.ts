import { MediaPlaneError } from '../media-error.js';

/** Why a DTLS handshake failed (`voxgate_media_dtls_failed_total{reason}`). */
export type DtlsFailureReason =
  /** A record or handshake message that does not parse, or comes out of order in a way DTLS does not allow. */
  | 'malformed'
  /** Nothing both ends support: cipher suite, SRTP profile, curve, signature scheme, version. */
  | 'unsupported'
  /** The peer's certificate does not match the fingerprint of its SDP (RFC 8122 §5), or none was sent. */
  | 'fingerprint'
  /** A signature, a key exchange or a Finished that does not verify. */
  | 'crypto'
  /** The peer sent a fatal alert. */
  | 'alert'
  /** The handshake did not complete in time. */
  | 'timeout';

/** A handshake that cannot go on; `reason` is stable, the message says what was seen. */
export class DtlsError extends MediaPlaneError<DtlsFailureReason> {
  override readonly name = 'DtlsError';
}
