/*
 * RFC 3261 §25.1:
 *   Max-Forwards  =  "Max-Forwards" HCOLON 1*DIGIT
 * §8.1.1.6: the value is an integer in the range 0-255.
 */
import { SipParseError } from '../errors.js';

export function parseMaxForwards(value: string): number {
  // Leading zeros are digits too (RFC 4475 §3.1.1.1, wsinv: "0068" is 68).
  if (!/^\d{1,10}$/.test(value) || Number(value) > 255) {
    throw new SipParseError('SIP_PARSE_HEADER', `invalid Max-Forwards "${value.slice(0, 40)}"`);
  }
  return Number(value);
}
