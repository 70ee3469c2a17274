/*
 * RFC 3262 §7.1 and §10:
 *   RSeq          =  "RSeq" HCOLON response-num
 *   response-num  =  1*DIGIT
 */
import { SipParseError } from '../errors.js';

/** RFC 3262 §3: "The value of the header field for the first reliable provisional response in a transaction
 * MUST be between 1 and 2**31 - 1"; each next one is one higher, so every value fits in 32 bits. */
const MAX_RESPONSE_NUM = 2 ** 32 - 1;

const RSEQ = /^(\d{1,10})$/;

/** The response number of an RSeq value (`RSeq: 988789` → 988789). */
export function parseRSeq(value: string): number {
  const m = RSEQ.exec(value.trim());
  const num = m ? Number(m[1]) : NaN;
  if (!(num >= 1 && num <= MAX_RESPONSE_NUM)) {
    throw new SipParseError('SIP_PARSE_HEADER', `invalid RSeq "${value.slice(0, 40)}"`);
  }
  return num;
}

export { MAX_RESPONSE_NUM };
