/*
 * RFC 3261 §25.1:
 *   CSeq  =  "CSeq" HCOLON 1*DIGIT LWS Method
 *   Method            =  INVITEm / ACKm / OPTIONSm / BYEm / CANCELm / REGISTERm / extension-method
 *   extension-method  =  token
 */
import { SipParseError } from '../errors.js';
import { codesOf, skipWsAt, tokenEndAt, wordAt } from './byte-scan.js';

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

function invalid(value: string, from: number, to: number): SipParseError {
  return new SipParseError('SIP_PARSE_CSEQ', `invalid CSeq "${value.slice(from, Math.min(to, from + 80))}"`);
}

/**
 * Reads `1*DIGIT LWS Method` (at most 10 digits, spaces or tabs between) in one pass, from `value` or its part
 * `[from, to)`.
 */
export function parseCSeq(value: string, from = 0, to = value.length): CSeq {
  return parseCSeqAt(codesOf(value), value, from, to);
}

/** parseCSeq of `text[from, to)` over `b`, its codes index for index (the message's bytes where its head is all ASCII). */
export function parseCSeqAt(b: Uint8Array, text: string, from: number, to: number): CSeq {
  let i = from;
  let seq = 0;
  while (i < to) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x39) break;
    seq = seq * 10 + (c - 0x30);
    i++;
  }
  const method = skipWsAt(b, i, to);
  // §8.1.1.5: "The sequence number MUST be expressible as a 32-bit unsigned integer and MUST be less than 2**31."
  if (i === from || i - from > 10 || method === i || seq >= 2 ** 31) throw invalid(text, from, to);
  if (method === to || tokenEndAt(b, method, to) !== to) throw invalid(text, from, to);
  return { seq, method: wordAt(b, text, method, to) };
}
