/*
 * RFC 3262 §7.2 and §10:
 *   RAck          =  "RAck" HCOLON response-num LWS CSeq-num LWS Method
 *   response-num  =  1*DIGIT
 *   CSeq-num      =  1*DIGIT
 */
import { SipParseError } from '../errors.js';
import { MAX_RESPONSE_NUM } from './rseq.js';

export interface RAck {
  /** The RSeq of the reliable provisional response being acknowledged. */
  readonly rseq: number;
  /** The CSeq number and method of the request that response answered. */
  readonly cseq: number;
  readonly method: string;
}

const RACK = /^(\d{1,10})[ \t]+(\d{1,10})[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)$/;

/** `RAck: 776656 1 INVITE` → { rseq: 776656, cseq: 1, method: 'INVITE' }. */
export function parseRAck(value: string): RAck {
  const m = RACK.exec(value.trim());
  const rseq = m ? Number(m[1]) : NaN;
  const cseq = m ? Number(m[2]) : NaN;
  // RFC 3261 §8.1.1.5: a CSeq number "MUST be less than 2**31".
  if (!m?.[3] || !(rseq >= 1 && rseq <= MAX_RESPONSE_NUM) || !(cseq < 2 ** 31)) {
    throw new SipParseError('SIP_PARSE_HEADER', `invalid RAck "${value.slice(0, 80)}"`);
  }
  return { rseq, cseq, method: m[3] };
}

/** The RAck value acknowledging response `rseq` to the request with CSeq `cseq method`. */
export function formatRAck(rack: RAck): string {
  return `${rack.rseq} ${rack.cseq} ${rack.method}`;
}
