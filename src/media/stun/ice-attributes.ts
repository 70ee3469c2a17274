import { fail, ok, type StunResult } from './stun-message.js';

/** PRIORITY (RFC 8445 §16.1): the 32-bit priority the peer-reflexive candidate would get. */
export function encodePriority(priority: number): Buffer {
  const value = Buffer.alloc(4);
  value.writeUInt32BE(priority >>> 0, 0);
  return value;
}

export function decodePriority(value: Buffer): StunResult<number> {
  return value.length === 4
    ? ok(value.readUInt32BE(0))
    : fail('bad-attribute-value', `PRIORITY of ${value.length} bytes`);
}

/** USE-CANDIDATE (RFC 8445 §16.1): no value; its presence nominates the pair. */
export const encodeUseCandidate = () => Buffer.alloc(0);

export function decodeUseCandidate(value: Buffer): StunResult<true> {
  return value.length === 0
    ? ok(true)
    : fail('bad-attribute-value', `USE-CANDIDATE of ${value.length} bytes`);
}

/** ICE-CONTROLLING / ICE-CONTROLLED (RFC 8445 §16.1): the sender's role and its 64-bit tie-breaker. */
export function encodeTieBreaker(tieBreaker: bigint): Buffer {
  const value = Buffer.alloc(8);
  value.writeBigUInt64BE(BigInt.asUintN(64, tieBreaker), 0);
  return value;
}

export function decodeTieBreaker(value: Buffer): StunResult<bigint> {
  return value.length === 8
    ? ok(value.readBigUInt64BE(0))
    : fail('bad-attribute-value', `tie-breaker of ${value.length} bytes`);
}
