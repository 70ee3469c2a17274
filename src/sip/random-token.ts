import { randomBytes } from 'node:crypto';

/**
 * Random tokens for tags, branches and Call-IDs, cut from a pool of CSPRNG bytes refilled 4 KiB at a time:
 * a gateway makes several per call, and one `randomBytes` call each cost more than the parsing of a message.
 * Every byte is used once.
 */
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

function take(bytes: number): number {
  if (offset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const start = offset;
  offset += bytes;
  return start;
}

/** `bytes` random bytes as lower-case hex. */
export function randomHex(bytes: number): string {
  const start = take(bytes);
  return pool.toString('hex', start, start + bytes);
}

/** `bytes` random bytes as base64url (RFC 4648 §5: token characters of RFC 3261 §25.1). */
export function randomBase64url(bytes: number): string {
  const start = take(bytes);
  return pool.toString('base64url', start, start + bytes);
}

/** A random integer below 2^48 (exact in a double). */
export function randomUint48(): number {
  const start = take(6);
  return pool.readUIntBE(start, 6);
}
