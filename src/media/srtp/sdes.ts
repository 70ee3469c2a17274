import { randomBytes } from 'node:crypto';
import { suiteNamed, type SrtpSuite } from './srtp-suites.js';

/**
 * SDP Security Descriptions (RFC 4568 §9.1), the a=crypto attribute:
 *
 *   a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]
 *   key-params = key-method ":" key-info      ; "inline:" <base64 of key || salt> ["|" lifetime] ["|" MKI ":" length]
 *
 * Only the inline method exists. Lifetimes are accepted and ignored (a call lasts less than 2^31 packets);
 * an MKI, a second key-param or a session parameter the relay does not implement makes the line unusable
 * (§6.3.1 and §6.4: an answerer picks a line it understands, and refuses the others).
 */
export interface CryptoAttribute {
  /** 1-9 digits, echoed in the answer (§6.1). */
  readonly tag: number;
  /** The suite's name as written; `suite` is set when the relay knows it. */
  readonly suiteName: string;
  readonly suite?: SrtpSuite;
  readonly key: Buffer;
  readonly salt: Buffer;
}

/** Parses the value of an a=crypto line (after "crypto:"); undefined when the relay cannot use it. */
export function parseCrypto(value: string): CryptoAttribute | undefined {
  const parts = value.trim().split(/\s+/);
  if (parts.length < 3) return undefined;
  const [tagText, suiteName, keyParams, ...sessionParams] = parts as [string, string, string, ...string[]];
  if (!/^\d{1,9}$/.test(tagText)) return undefined;
  const suite = suiteNamed(suiteName);
  if (!suite || sessionParams.length > 0 || keyParams.includes(';')) return undefined;
  if (!keyParams.startsWith('inline:')) return undefined;
  const [keySalt = '', ...rest] = keyParams.slice('inline:'.length).split('|');
  // Only a lifetime may follow (a number or 2^n); an MKI ("n:len") is not supported.
  if (rest.length > 1 || rest.some((r) => r.includes(':'))) return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keySalt)) return undefined;
  const bytes = Buffer.from(keySalt, 'base64');
  if (bytes.length !== suite.keyLength + suite.saltLength) return undefined;
  return {
    tag: Number(tagText),
    suiteName,
    suite,
    key: bytes.subarray(0, suite.keyLength),
    salt: bytes.subarray(suite.keyLength),
  };
}

/** A fresh key and salt for `suite` (RFC 4568 §6.1: a key per direction, never reused), as an attribute. */
export function newCrypto(tag: number, suite: SrtpSuite): CryptoAttribute {
  const bytes = randomBytes(suite.keyLength + suite.saltLength);
  return {
    tag,
    suiteName: suite.name,
    suite,
    key: bytes.subarray(0, suite.keyLength),
    salt: bytes.subarray(suite.keyLength),
  };
}

/** The a=crypto value (padded base64, which every implementation seen reads, RFC 4568 §9.2). */
export function formatCrypto(crypto: CryptoAttribute): string {
  return `${crypto.tag} ${crypto.suiteName} inline:${Buffer.concat([crypto.key, crypto.salt]).toString('base64')}`;
}
