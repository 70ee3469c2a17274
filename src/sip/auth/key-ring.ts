/**
 * HMAC keys that can be rotated while values signed with them are in flight: new values are signed with
 * `current`; a value signed with any key of `accepted` (`current` first, then the keys being retired) verifies.
 * Both are read at each use, so a rotation applies to the next value signed or checked.
 */
export interface KeyRing {
  readonly current: Buffer;
  readonly accepted: readonly Buffer[];
}

/** One key that never changes. */
export function fixedKeyRing(key: Buffer): KeyRing {
  const accepted = [key];
  return { current: key, accepted };
}

/** A key ring as given: a Buffer is a ring of that one key. */
export function keyRingOf(key: Buffer | KeyRing): KeyRing {
  return Buffer.isBuffer(key) ? fixedKeyRing(key) : key;
}
