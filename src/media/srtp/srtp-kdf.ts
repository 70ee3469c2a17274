import { createCipheriv } from 'node:crypto';
import type { SrtpSuite } from './srtp-suites.js';

/** The keys one direction of one stream uses, derived from its master key and salt. */
export interface SessionKeys {
  readonly cipherKey: Buffer;
  readonly authKey: Buffer;
  /** 14 bytes: the session salt k_s of the counter-mode IV. */
  readonly salt: Buffer;
}

/**
 * RFC 3711 §4.3: the session keys of SRTP (labels 0, 1, 2) and SRTCP (labels 3, 4, 5) from a master key and
 * salt, with a key derivation rate of 0 (the default: keys derived once, r = 0).
 *
 * §4.3.1: "Let key_id = <label> || r … x = key_id XOR master_salt", key_id right-aligned in the 112-bit salt;
 * §4.3.3: the PRF is AES in counter mode keyed with the master key, IV = x · 2^16, the keystream's first bits
 * being the derived key.
 */
export function deriveSessionKeys(
  suite: SrtpSuite,
  masterKey: Buffer,
  masterSalt: Buffer,
): { srtp: SessionKeys; srtcp: SessionKeys } {
  const derive = (label: number, length: number): Buffer => {
    const iv = Buffer.alloc(16);
    masterSalt.copy(iv, 0, 0, 14);
    // key_id = label || r (r = 0, 48 bits): the label is the 8th byte from the salt's end.
    iv[7] = iv[7]! ^ label;
    const cipher = createCipheriv('aes-128-ctr', masterKey, iv);
    return cipher.update(Buffer.alloc(length));
  };
  return {
    srtp: {
      cipherKey: derive(0, suite.keyLength),
      authKey: derive(1, suite.authKeyLength),
      salt: derive(2, suite.saltLength),
    },
    srtcp: {
      cipherKey: derive(3, suite.keyLength),
      authKey: derive(4, suite.authKeyLength),
      salt: derive(5, suite.saltLength),
    },
  };
}
