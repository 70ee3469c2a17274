/*
 * RFC 3261 §25.1:
 *   CSeq  =  "CSeq" HCOLON 1*DIGIT LWS Method
 *   Method            =  INVITEm / ACKm / OPTIONSm / BYEm / CANCELm / REGISTERm / extension-method
 *   extension-method  =  token
 */
import { SipParseError } from '../errors.js';

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

const CSEQ = /^(\d{1,10})[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)$/;

export function parseCSeq(value: string): CSeq {
  const m = CSEQ.exec(value);
  // §8.1.1.5: "The sequence number MUST be expressible as a 32-bit unsigned integer and MUST be less than 2**31."
  if (!m?.[1] || !m[2] || Number(m[1]) >= 2 ** 31) {
    throw new SipParseError('SIP_PARSE_CSEQ', `invalid CSeq "${value.slice(0, 80)}"`);
  }
  return { seq: Number(m[1]), method: m[2] };
}
