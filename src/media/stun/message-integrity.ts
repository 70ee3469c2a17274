import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  ATTR,
  HEADER_LENGTH,
  appendAttribute,
  fail,
  ok,
  type StunMessage,
  type StunResult,
} from './stun-message.js';

const HMAC_LENGTH = 20;

/**
 * RFC 8489 §14.5: HMAC-SHA1 over the message up to MESSAGE-INTEGRITY, with the header's length field set as if
 * the message ended right after that attribute. `end` is where the attribute starts.
 */
function hmac(key: Buffer, message: Buffer, end: number): Buffer {
  const header = Buffer.from(message.subarray(0, HEADER_LENGTH));
  header.writeUInt16BE(end + 4 + HMAC_LENGTH - HEADER_LENGTH, 2);
  return createHmac('sha1', key).update(header).update(message.subarray(HEADER_LENGTH, end)).digest();
}

/**
 * The short-term credential key (RFC 8489 §9.1.1): the password itself, after OpaqueString preparation — ICE
 * passwords are ice-chars (ALPHA / DIGIT / "+" / "/", RFC 8839 §5.4), which that preparation leaves as they are.
 */
export const shortTermKey = (password: string) => Buffer.from(password, 'utf8');

/** Appends MESSAGE-INTEGRITY to a serialized message (before any FINGERPRINT). */
export function addMessageIntegrity(message: Buffer, key: Buffer): Buffer {
  return appendAttribute(message, ATTR.MESSAGE_INTEGRITY, hmac(key, message, message.length));
}

/**
 * Checks the message's MESSAGE-INTEGRITY with `key`: `missing-attribute` when it has none (or a truncated
 * one: RFC 8489 §14.5 allows only 20 bytes with SHA-1), `bad-integrity` when the HMAC differs.
 */
export function verifyMessageIntegrity(message: StunMessage, key: Buffer): StunResult<true> {
  const mi = message.attributes.find((a) => a.type === ATTR.MESSAGE_INTEGRITY);
  if (!mi) return fail('missing-attribute', 'no MESSAGE-INTEGRITY');
  if (mi.value.length !== HMAC_LENGTH) {
    return fail('bad-attribute-value', `MESSAGE-INTEGRITY of ${mi.value.length} bytes`);
  }
  const expected = hmac(key, message.raw, mi.offset);
  return timingSafeEqual(expected, mi.value)
    ? ok(true)
    : fail('bad-integrity', 'MESSAGE-INTEGRITY does not match');
}
