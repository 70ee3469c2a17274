import { ipBytes, ipText } from './ip-bytes.js';
import { MAGIC_COOKIE, fail, ok, type StunResult } from './stun-message.js';

export interface TransportAddress {
  family: 'IPv4' | 'IPv6';
  address: string;
  port: number;
}

const FAMILY = { IPv4: 0x01, IPv6: 0x02 } as const;

/** The bytes an address is XORed with (RFC 8489 §14.2): the cookie, then for IPv6 the transaction id. */
function mask(transactionId: Buffer, length: number): Buffer {
  const m = Buffer.alloc(16);
  m.writeUInt32BE(MAGIC_COOKIE, 0);
  transactionId.copy(m, 4, 0, 12);
  return m.subarray(0, length);
}

const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((byte, i) => byte ^ b[i]!));

/**
 * XOR-MAPPED-ADDRESS (RFC 8489 §14.2): family, port XOR the cookie's top 16 bits, address XOR the cookie (IPv4)
 * or the cookie and transaction id (IPv6). Undefined for an address that is not IPv4 or IPv6 text.
 */
export function encodeXorMappedAddress(
  address: string,
  port: number,
  transactionId: Buffer,
): Buffer | undefined {
  const bytes = ipBytes(address);
  if (!bytes || !Number.isInteger(port) || port < 0 || port > 0xffff) return undefined;
  const value = Buffer.alloc(4 + bytes.length);
  value.writeUInt8(bytes.length === 4 ? FAMILY.IPv4 : FAMILY.IPv6, 1);
  value.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 2);
  xor(bytes, mask(transactionId, bytes.length)).copy(value, 4);
  return value;
}

export function decodeXorMappedAddress(value: Buffer, transactionId: Buffer): StunResult<TransportAddress> {
  if (value.length < 4) return fail('bad-attribute-value', 'XOR-MAPPED-ADDRESS shorter than 4 bytes');
  const family = value.readUInt8(1);
  const length = family === FAMILY.IPv4 ? 4 : family === FAMILY.IPv6 ? 16 : 0;
  if (length === 0) return fail('bad-attribute-value', `XOR-MAPPED-ADDRESS family ${family}`);
  if (value.length !== 4 + length) {
    return fail('bad-attribute-value', `XOR-MAPPED-ADDRESS of ${value.length} bytes for its family`);
  }
  return ok({
    family: length === 4 ? 'IPv4' : 'IPv6',
    port: value.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16),
    address: ipText(xor(value.subarray(4), mask(transactionId, length))),
  });
}
