/*
 * RFC 3261 §25.1:
 *   Call-ID  =  ( "Call-ID" / "i" ) HCOLON callid
 *   callid   =  word [ "@" word ]
 *   word     =  1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" / "<" / ">" /
 *               ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )
 * Deployed UAs also put "=" and other visible characters in Call-IDs; since Call-ID is only ever compared
 * byte for byte (§8.1.1.4), any run of visible characters without whitespace is accepted.
 */
import { SipParseError } from '../errors.js';

const CALL_ID = /^[\x21-\x7e]+$/;

export function parseCallId(value: string): string {
  if (!CALL_ID.test(value)) {
    throw new SipParseError('SIP_PARSE_CALL_ID', `invalid Call-ID "${value.slice(0, 80)}"`);
  }
  return value;
}
