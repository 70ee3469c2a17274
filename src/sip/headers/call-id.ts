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

export function parseCallId(value: string): string {
  if (!isCallId(value, 0, value.length)) {
    throw new SipParseError('SIP_PARSE_CALL_ID', `invalid Call-ID "${value.slice(0, 80)}"`);
  }
  return value;
}

/** Whether `value[from, to)` is a Call-ID: visible characters (%x21-7E), at least one. */
export function isCallId(value: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** isCallId over codes: whether `b[from, to)` holds visible characters (%x21-7E), at least one. */
export function isCallIdAt(b: Uint8Array, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}
