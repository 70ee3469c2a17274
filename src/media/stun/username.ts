import { fail, ok, type StunResult } from './stun-message.js';

/** RFC 8489 §14.3: USERNAME is UTF-8 of less than 513 bytes. */
const MAX_USERNAME = 512;

export function encodeUsername(username: string): Buffer | undefined {
  const value = Buffer.from(username, 'utf8');
  return value.length <= MAX_USERNAME ? value : undefined;
}

export function decodeUsername(value: Buffer): StunResult<string> {
  if (value.length > MAX_USERNAME) return fail('bad-attribute-value', `USERNAME of ${value.length} bytes`);
  const text = value.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(value)) return fail('bad-attribute-value', 'USERNAME is not UTF-8');
  return ok(text);
}

/**
 * RFC 8445 §7.2.2: in a connectivity check the USERNAME is "<receiver's ufrag>:<sender's ufrag>". Ufrags are
 * ice-chars (RFC 8839 §5.4), so the first colon splits them.
 */
export function splitIceUsername(username: string): { local: string; remote: string } | undefined {
  const colon = username.indexOf(':');
  if (colon <= 0 || colon === username.length - 1) return undefined;
  return { local: username.slice(0, colon), remote: username.slice(colon + 1) };
}
