import { ATTR, appendAttribute, fail, ok, type StunMessage, type StunResult } from './stun-message.js';

/** RFC 8489 §14.7: the CRC is XORed with this ("STUN" in ASCII) so that it differs from a CRC of the payload. */
const FINGERPRINT_XOR = 0x5354554e;

/** CRC-32 of ISO/IEC 13239 (the one of zlib and Ethernet: reflected, polynomial 0xEDB88320). */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32 of the message up to FINGERPRINT (whose length field already counts it), XOR 0x5354554e. */
function fingerprintOf(message: Buffer, end: number): number {
  return (crc32(message.subarray(0, end)) ^ FINGERPRINT_XOR) >>> 0;
}

/** Appends FINGERPRINT, the last attribute, to a serialized message. */
export function addFingerprint(message: Buffer): Buffer {
  const withAttribute = appendAttribute(message, ATTR.FINGERPRINT, Buffer.alloc(4));
  withAttribute.writeUInt32BE(fingerprintOf(withAttribute, message.length), withAttribute.length - 4);
  return withAttribute;
}

/**
 * Checks FINGERPRINT: `missing-attribute` when the message has none, `bad-fingerprint` when it is not the last
 * attribute (the parser refuses anything after it) with the right CRC.
 */
export function verifyFingerprint(message: StunMessage): StunResult<true> {
  const fp = message.attributes.find((a) => a.type === ATTR.FINGERPRINT);
  if (!fp) return fail('missing-attribute', 'no FINGERPRINT');
  if (fp.value.length !== 4) return fail('bad-attribute-value', `FINGERPRINT of ${fp.value.length} bytes`);
  return fp.value.readUInt32BE(0) === fingerprintOf(message.raw, fp.offset)
    ? ok(true)
    : fail('bad-fingerprint', 'FINGERPRINT does not match');
}
