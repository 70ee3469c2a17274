/*
 * RFC 3261 §25.1:
 *   Content-Length  =  ( "Content-Length" / "l" ) HCOLON 1*DIGIT
 * §18.3: "If a message is received over UDP with a Content-Length larger than the body, it is treated as an
 * error" and over a stream "the Content-Length header field MUST be used to determine the end of each SIP
 * message".
 */
import { SipParseError } from '../errors.js';

/** Parses one Content-Length value; more than 10 digits is refused before it can lose precision. */
export function parseContentLength(value: string): number {
  let n = 0;
  let digits = value.length > 0 && value.length <= 10;
  for (let i = 0; i < value.length && digits; i++) {
    const c = value.charCodeAt(i);
    digits = c >= 0x30 && c <= 0x39;
    n = n * 10 + (c - 0x30);
  }
  if (!digits) {
    throw new SipParseError('SIP_PARSE_CONTENT_LENGTH', `invalid Content-Length "${value.slice(0, 40)}"`);
  }
  return n;
}

/**
 * The one Content-Length of a message given all of its values: none → undefined; several that differ (RFC 4475
 * §3.3.11, mcl01) → error.
 */
export function singleContentLength(values: readonly string[]): number | undefined {
  if (values.length === 0) return undefined;
  const first = values[0]!;
  if (values.some((v) => v !== first)) {
    throw new SipParseError(
      'SIP_PARSE_CONTENT_LENGTH',
      `conflicting Content-Length values ${values.join(', ').slice(0, 80)}`,
    );
  }
  return parseContentLength(first);
}
