import { fail, ok, type StunResult } from './stun-message.js';

export interface StunErrorCodeValue {
  /** 300-699 (RFC 8489 §14.8). */
  code: number;
  reason: string;
}

/** The reason phrases of RFC 8489 §14.8 and RFC 8445 §16.1 for the codes voxgate sends. */
export const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  420: 'Unknown Attribute',
  487: 'Role Conflict',
  500: 'Server Error',
};

/** ERROR-CODE: 21 zero bits, the class (hundreds, 3-6), the number (0-99), a UTF-8 reason (at most 763 bytes). */
export function encodeErrorCode(code: number, reason = REASONS[code] ?? ''): Buffer | undefined {
  if (!Number.isInteger(code) || code < 300 || code > 699) return undefined;
  const text = Buffer.from(reason, 'utf8');
  if (text.length > 763) return undefined;
  const value = Buffer.alloc(4 + text.length);
  value.writeUInt8(Math.floor(code / 100), 2);
  value.writeUInt8(code % 100, 3);
  text.copy(value, 4);
  return value;
}

export function decodeErrorCode(value: Buffer): StunResult<StunErrorCodeValue> {
  if (value.length < 4) return fail('bad-attribute-value', 'ERROR-CODE shorter than 4 bytes');
  const cls = value.readUInt8(2) & 0x07;
  const number = value.readUInt8(3);
  if (cls < 3 || cls > 6 || number > 99) {
    return fail('bad-attribute-value', `ERROR-CODE class ${cls} number ${number}`);
  }
  return ok({ code: cls * 100 + number, reason: value.subarray(4).toString('utf8') });
}

/** UNKNOWN-ATTRIBUTES (RFC 8489 §14.9): the 16-bit types, listed in a 420 response. */
export function encodeUnknownAttributes(types: readonly number[]): Buffer {
  const value = Buffer.alloc(types.length * 2);
  types.forEach((t, i) => value.writeUInt16BE(t, i * 2));
  return value;
}
