/**
 * STUN messages (RFC 8489 §5, §6, §14): the 20-byte header, the attributes as type-length-value records padded
 * to 4 bytes, and their serialization. Total on bad input: `parseStun` returns a typed error, never throws.
 * Attribute values are read in `stun-attributes.ts`; MESSAGE-INTEGRITY and FINGERPRINT in their own files.
 */

/** RFC 8489 §5: the fixed value of bytes 4-7, which tells STUN from other protocols on the same port. */
export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_LENGTH = 20;

/** The methods voxgate speaks (RFC 8489 §18.2): only Binding, the one ICE uses. */
export const BINDING = 0x001;

/** RFC 8489 §18.3 and RFC 8445 §16.1: the attribute types voxgate reads or writes. */
export const ATTR = {
  MAPPED_ADDRESS: 0x0001,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  USERHASH: 0x001e,
  XOR_MAPPED_ADDRESS: 0x0020,
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  SOFTWARE: 0x8022,
  FINGERPRINT: 0x8028,
  ICE_CONTROLLED: 0x8029,
  ICE_CONTROLLING: 0x802a,
} as const;

/** RFC 8489 §5: the two class bits of the message type. */
export type StunClass = 'request' | 'indication' | 'success' | 'error';

export interface StunAttribute {
  type: number;
  /** The value without its padding. */
  value: Buffer;
  /** Where the attribute's own 4-byte header starts in the message (integrity and fingerprint need it). */
  offset: number;
}

export interface StunMessage {
  /** The 12-bit method (`BINDING`). */
  method: number;
  class: StunClass;
  /** 12 bytes. */
  transactionId: Buffer;
  /** In message order. */
  attributes: StunAttribute[];
  /** The whole message as received. */
  raw: Buffer;
}

/** Why bytes are not a STUN message this codec accepts. */
export type StunErrorCode =
  | 'too-short'
  | 'not-stun'
  | 'bad-cookie'
  | 'bad-length'
  | 'truncated-attribute'
  | 'attribute-after-fingerprint'
  | 'bad-attribute-value'
  | 'missing-attribute'
  | 'bad-integrity'
  | 'bad-fingerprint';

export interface StunError {
  code: StunErrorCode;
  message: string;
}

export type StunResult<T> = { ok: true; value: T } | { ok: false; error: StunError };

export const ok = <T>(value: T): StunResult<T> => ({ ok: true, value });
export const fail = <T>(code: StunErrorCode, message: string): StunResult<T> => ({
  ok: false,
  error: { code, message },
});

const CLASS_BITS: Record<StunClass, number> = {
  request: 0x000,
  indication: 0x010,
  success: 0x100,
  error: 0x110,
};
const CLASS_OF = new Map<number, StunClass>(
  Object.entries(CLASS_BITS).map(([name, bits]) => [bits, name as StunClass]),
);

/** RFC 8489 §5: the method's 12 bits are interleaved with the class bits C0 (bit 4) and C1 (bit 8). */
export function messageType(method: number, cls: StunClass): number {
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | CLASS_BITS[cls];
}

function splitType(type: number): { method: number; class: StunClass } {
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  return { method, class: CLASS_OF.get(type & 0x110)! };
}

/** RFC 7983 §7: a datagram whose first byte is 0-3 is STUN (then the cookie must match) on a shared port. */
export const looksLikeStun = (packet: Buffer) =>
  packet.length >= HEADER_LENGTH && packet[0]! < 4 && packet.readUInt32BE(4) === MAGIC_COOKIE;

const padded = (length: number) => (length + 3) & ~3;

/**
 * A STUN message from one datagram (RFC 8489 §6.3): the top two bits zero, the magic cookie, a length that is
 * a multiple of 4 and covers the rest of the datagram exactly, attributes that fit in it. Attributes after
 * FINGERPRINT are refused (§14.7: it is the last); what follows MESSAGE-INTEGRITY is kept for the caller,
 * which must ignore all but FINGERPRINT (§14.5).
 */
export function parseStun(packet: Buffer): StunResult<StunMessage> {
  if (packet.length < HEADER_LENGTH) return fail('too-short', `${packet.length} bytes, less than a header`);
  const type = packet.readUInt16BE(0);
  if ((type & 0xc000) !== 0) return fail('not-stun', 'the two first bits are not zero');
  if (packet.readUInt32BE(4) !== MAGIC_COOKIE) return fail('bad-cookie', 'no magic cookie');
  const length = packet.readUInt16BE(2);
  if (length % 4 !== 0) return fail('bad-length', `length ${length} is not a multiple of 4`);
  if (HEADER_LENGTH + length !== packet.length) {
    return fail(
      'bad-length',
      `length ${length} but ${packet.length - HEADER_LENGTH} bytes follow the header`,
    );
  }
  const attributes: StunAttribute[] = [];
  let at = HEADER_LENGTH;
  let fingerprinted = false;
  while (at < packet.length) {
    if (fingerprinted) return fail('attribute-after-fingerprint', 'an attribute follows FINGERPRINT');
    if (at + 4 > packet.length) return fail('truncated-attribute', `attribute header cut at byte ${at}`);
    const attrType = packet.readUInt16BE(at);
    const attrLength = packet.readUInt16BE(at + 2);
    if (at + 4 + padded(attrLength) > packet.length) {
      return fail('truncated-attribute', `attribute 0x${attrType.toString(16)} overruns the message`);
    }
    attributes.push({ type: attrType, value: packet.subarray(at + 4, at + 4 + attrLength), offset: at });
    if (attrType === ATTR.FINGERPRINT) fingerprinted = true;
    at += 4 + padded(attrLength);
  }
  return ok({
    ...splitType(type),
    transactionId: Buffer.from(packet.subarray(8, HEADER_LENGTH)),
    attributes,
    raw: packet,
  });
}

/** The first attribute of `type`, if any. */
export function attribute(message: StunMessage, type: number): StunAttribute | undefined {
  return message.attributes.find((a) => a.type === type);
}

/**
 * RFC 8489 §6.3.1: comprehension-required attributes (types below 0x8000) this codec does not know; a server
 * answers a request that has any with 420 and UNKNOWN-ATTRIBUTES.
 */
export function unknownRequired(message: StunMessage): number[] {
  const known = new Set<number>(Object.values(ATTR));
  return [...new Set(message.attributes.map((a) => a.type).filter((t) => t < 0x8000 && !known.has(t)))];
}

/** A message header and attributes, before MESSAGE-INTEGRITY and FINGERPRINT are appended. */
export interface StunDraft {
  method: number;
  class: StunClass;
  transactionId: Buffer;
  attributes: readonly { type: number; value: Buffer }[];
}

/** Header and attributes, padded with zeros; the length field counts the attributes written. */
export function serializeStun(draft: StunDraft): Buffer {
  const parts: Buffer[] = [Buffer.alloc(HEADER_LENGTH)];
  let length = 0;
  for (const { type, value } of draft.attributes) {
    const header = Buffer.alloc(4);
    header.writeUInt16BE(type, 0);
    header.writeUInt16BE(value.length, 2);
    parts.push(header, value, Buffer.alloc(padded(value.length) - value.length));
    length += 4 + padded(value.length);
  }
  const out = Buffer.concat(parts);
  out.writeUInt16BE(messageType(draft.method, draft.class), 0);
  out.writeUInt16BE(length, 2);
  out.writeUInt32BE(MAGIC_COOKIE, 4);
  draft.transactionId.copy(out, 8, 0, 12);
  return out;
}

/** Appends one attribute to a serialized message and updates its length field. */
export function appendAttribute(message: Buffer, type: number, value: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16BE(type, 0);
  header.writeUInt16BE(value.length, 2);
  const out = Buffer.concat([message, header, value, Buffer.alloc(padded(value.length) - value.length)]);
  out.writeUInt16BE(out.length - HEADER_LENGTH, 2);
  return out;
}
