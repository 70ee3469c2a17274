export type SdpErrorCode = 'SDP_SYNTAX' | 'SDP_VERSION' | 'SDP_MEDIA_LINE' | 'SDP_CONNECTION_LINE';

export class SdpParseError extends Error {
  override readonly name = 'SdpParseError';
  constructor(
    readonly code: SdpErrorCode,
    message: string,
    /** 1-based line number in the SDP, 0 when not about one line. */
    readonly line: number,
  ) {
    super(line > 0 ? `${message} (line ${line})` : message);
  }
}
