import { createHmac, hash } from 'node:crypto';

/** SHA-256's block size in bytes (RFC 2104 §2: B). */
const BLOCK = 64;
/** Text of up to this many UTF-16 units is hashed in the key's own buffer; longer text takes `createHmac`. */
const MAX_INLINE = 256;

/**
 * HMAC-SHA256 (RFC 2104) under `key`, base64url: `text` → the bytes `createHmac('sha256', key).update(text)`
 * gives. Made with two one-shot hashes over buffers padded once per key — H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ text)),
 * §2 — instead of an Hmac object per value, whose construction (the key imported into a new OpenSSL context)
 * was most of the cost of a nonce. Synchronous: each call fills and hashes the buffers before it returns, so one
 * pair of buffers per key serves every call.
 */
export function hmacSha256(key: Buffer): (text: string) => string {
  // §2: "Applications that use keys longer than B bytes will first hash the key using H".
  const k = key.length > BLOCK ? hash('sha256', key, 'buffer') : key;
  const inner = Buffer.alloc(BLOCK + MAX_INLINE * 3, 0x36);
  const outer = Buffer.alloc(BLOCK + 32, 0x5c);
  for (let i = 0; i < k.length; i++) {
    inner[i] = 0x36 ^ k[i]!;
    outer[i] = 0x5c ^ k[i]!;
  }
  return (text) => {
    if (text.length > MAX_INLINE) return createHmac('sha256', key).update(text).digest('base64url');
    const n = inner.write(text, BLOCK, 'utf8');
    hash('sha256', inner.subarray(0, BLOCK + n), 'buffer').copy(outer, BLOCK);
    return hash('sha256', outer, 'base64url');
  };
}
