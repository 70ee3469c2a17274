import { hash } from 'node:crypto';

/** SHA-256's block size in bytes (RFC 2104 §2: "B"). */
const BLOCK = 64;
/** Bytes of text the kept inner buffer takes without a new allocation. */
const ROOM = 192;

interface Pads {
  /** K XOR ipad, then room for the text. */
  readonly inner: Buffer;
  /** K XOR opad, then the inner hash. */
  readonly outer: Buffer;
}

const padsByKey = new WeakMap<Buffer, Pads>();

function padsOf(key: Buffer): Pads {
  let pads = padsByKey.get(key);
  if (pads) return pads;
  // RFC 2104 §2: "Applications that use keys longer than B bytes will first hash the key using H and then use
  // the resultant L byte string as the actual key to HMAC." A shorter key is padded with zeros to B bytes.
  const k = key.length > BLOCK ? hash('sha256', key, 'buffer') : key;
  const inner = Buffer.allocUnsafeSlow(BLOCK + ROOM);
  const outer = Buffer.allocUnsafeSlow(BLOCK + 32);
  for (let i = 0; i < BLOCK; i++) {
    const byte = i < k.length ? k[i]! : 0;
    inner[i] = byte ^ 0x36;
    outer[i] = byte ^ 0x5c;
  }
  pads = { inner, outer };
  padsByKey.set(key, pads);
  return pads;
}

/**
 * HMAC-SHA256 (RFC 2104: "H(K XOR opad, H(K XOR ipad, text))") of `text` as UTF-8, in base64url — what
 * `createHmac('sha256', key).update(text).digest('base64url')` gives, as two one-shot hashes over buffers kept
 * per key: an Hmac object per value cost several times more than the hashing for the short texts of nonces.
 * The key is read once; a key ring rotates by giving new Buffers, never by changing one in place.
 */
export function hmacSha256(key: Buffer, text: string): string {
  const { inner, outer } = padsOf(key);
  let innerHash: Buffer;
  if (text.length * 3 <= ROOM) {
    const length = inner.write(text, BLOCK, 'utf8');
    innerHash = hash('sha256', inner.subarray(0, BLOCK + length), 'buffer');
  } else {
    innerHash = hash(
      'sha256',
      Buffer.concat([inner.subarray(0, BLOCK), Buffer.from(text, 'utf8')]),
      'buffer',
    );
  }
  innerHash.copy(outer, BLOCK);
  return hash('sha256', outer, 'base64url');
}
