/**
 * The SIP stack's error catalog. A parse error says what the transport does with the message: answer a
 * request with `status` (RFC 3261 §8.2, §16.3) or drop it (responses, §18.1.2; garbage with no headers).
 */
export const sipErrorCodes = {
  SIP_PARSE_EMPTY: { status: 'drop', reason: 'empty message' },
  SIP_PARSE_START_LINE: { status: 400, reason: 'Bad Request' },
  SIP_PARSE_VERSION: { status: 505, reason: 'Version Not Supported' },
  SIP_PARSE_HEADER: { status: 400, reason: 'Bad Request' },
  SIP_PARSE_CONTENT_LENGTH: { status: 400, reason: 'Bad Request' },
  SIP_PARSE_MISSING_HEADER: { status: 400, reason: 'Bad Request' },
  SIP_PARSE_CSEQ: { status: 400, reason: 'Bad Request' },
  SIP_PARSE_CALL_ID: { status: 400, reason: 'Bad Request' },
  SIP_PARSE_VIA: { status: 400, reason: 'Bad Request' },
  SIP_PARSE_ADDRESS: { status: 400, reason: 'Bad Request' },
  SIP_PARSE_URI: { status: 400, reason: 'Bad Request' },
  SIP_PARSE_TOO_LARGE: { status: 513, reason: 'Message Too Large' },
  SIP_PARSE_RESPONSE: { status: 'drop', reason: 'malformed response' },
} as const satisfies Record<string, { status: number | 'drop'; reason: string }>;

export type SipErrorCode = keyof typeof sipErrorCodes;

export class SipParseError extends Error {
  override readonly name = 'SipParseError';
  readonly status: number | 'drop';
  readonly reason: string;
  constructor(
    readonly code: SipErrorCode,
    detail: string,
  ) {
    super(detail);
    this.status = sipErrorCodes[code].status;
    this.reason = sipErrorCodes[code].reason;
  }
}

export const sipTransportErrorCodes = [
  /** No listener or connection for the transport a message should leave on. */
  'SIP_TRANSPORT_UNAVAILABLE',
  /** RFC 3263 server location found no address to try for a URI (no NAPTR/SRV/A/AAAA answer). */
  'SIP_LOCATE_NO_TARGET',
  /** RFC 3263 server location was asked for a URI it cannot resolve (not sip/sips, or a transport we lack). */
  'SIP_LOCATE_UNSUPPORTED',
] as const;

export type SipTransportErrorCode = (typeof sipTransportErrorCodes)[number];

/**
 * A message could not be sent: a local configuration problem (never caused by received input), or no server
 * could be located for the destination (RFC 3263).
 */
export class SipTransportError extends Error {
  override readonly name = 'SipTransportError';
  constructor(
    readonly code: SipTransportErrorCode,
    detail: string,
  ) {
    super(detail);
  }
}
