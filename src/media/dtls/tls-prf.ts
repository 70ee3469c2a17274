import { createHmac } from 'node:crypto';

/**
 * The TLS 1.2 pseudorandom function with SHA-256 (RFC 5246 §5), which DTLS 1.2 keeps (RFC 6347 §4.2):
 *
 *     PRF(secret, label, seed) = P_SHA256(secret, label + seed)
 *     P_hash(secret, seed) = HMAC_hash(secret, A(1) + seed) + HMAC_hash(secret, A(2) + seed) + ...
 *     A(0) = seed, A(i) = HMAC_hash(secret, A(i-1))
 */
export function prf(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const labelled = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  const out: Buffer[] = [];
  let produced = 0;
  let a = labelled;
  while (produced < length) {
    a = createHmac('sha256', secret).update(a).digest();
    const block = createHmac('sha256', secret).update(a).update(labelled).digest();
    out.push(block);
    produced += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}
