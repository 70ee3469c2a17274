/*
 * RFC 3261 §25.1:
 *   Contact         =  ("Contact" / "m" ) HCOLON ( STAR / (contact-param *(COMMA contact-param)))
 *   contact-param   =  (name-addr / addr-spec) *(SEMI contact-params)
 *   contact-params  =  c-p-q / c-p-expires / contact-extension
 * §20.10: params inside <> belong to the URI, after it to the contact (RFC 4475 §3.3.9/§3.3.10, cparam01/02).
 */
import { SipParseError } from '../errors.js';
import { readNameAddr, type NameAddr } from './name-addr.js';
import { skipWs } from './params.js';

/** '*' for the wildcard of a REGISTER (§10.2.2), otherwise every contact-param. */
export function parseContact(value: string): '*' | NameAddr[] {
  if (value.trim() === '*') return '*';
  const out: NameAddr[] = [];
  let i = 0;
  for (;;) {
    const { addr, end } = readNameAddr('Contact', value, i);
    out.push(addr);
    if (end >= value.length) return out;
    i = skipWs(value, end + 1);
    if (i >= value.length) {
      throw new SipParseError('SIP_PARSE_ADDRESS', `Contact: empty contact-param after ","`);
    }
  }
}
