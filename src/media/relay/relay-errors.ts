import { MediaPlaneError } from '../media-error.js';

export type MediaRelayErrorCode =
  | 'MEDIA_MISSING_KEY'
  | 'MEDIA_UNKNOWN_CALL'
  | 'MEDIA_BAD_SDP'
  | 'MEDIA_TOO_MANY_PARTIES'
  | 'MEDIA_CALL_DELETED'
  | 'MEDIA_RECORDING_OFF'
  | 'MEDIA_BAD_FLAG'
  | 'MEDIA_SDES_NO_SUITE';

/**
 * An ng command the relay refuses. `code` is stable; the message is RTPengine's `error-reason` for the same
 * situation where it has one, so clients matching on it work against either relay.
 */
export class MediaRelayError extends MediaPlaneError<MediaRelayErrorCode> {
  override readonly name = 'MediaRelayError';
}
