import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * The relay's DTLS identity: a self-signed certificate on an ECDSA P-256 key, made when the relay starts. In
 * DTLS-SRTP nobody checks a chain: each end checks the other's certificate against the `a=fingerprint` of its
 * SDP (RFC 5763 §5, RFC 8122 §5), which the signalling carries.
 */
export interface DtlsIdentity {
  readonly certificate: Buffer;
  readonly privateKey: KeyObject;
  /** `sha-256 AB:CD:…`, the value of the relay's a=fingerprint (RFC 8122 §5). */
  readonly fingerprint: string;
}

// DER, the few shapes a certificate needs (X.690 §8).
function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}
const sequence = (...content: Buffer[]) => der(0x30, ...content);
const oid = (hex: string) => der(0x06, Buffer.from(hex, 'hex'));
/** 1.2.840.10045.4.3.2 */
const ECDSA_WITH_SHA256 = sequence(oid('2a8648ce3d040302'));
/** 2.5.4.3 */
const commonName = (name: string) =>
  sequence(der(0x31, sequence(oid('550403'), der(0x0c, Buffer.from(name, 'utf8')))));

/** UTCTime (YYMMDDHHMMSSZ), valid for years 1950-2049 (RFC 5280 §4.1.2.5.1). */
function utcTime(date: Date): Buffer {
  const iso = date.toISOString();
  const text = iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16);
  return der(0x17, Buffer.from(`${text}${iso.slice(17, 19)}Z`, 'latin1'));
}

/** The fingerprint of a DER certificate under `hash` (`sha-256` …), upper-case hex pairs (RFC 8122 §5). */
export function certificateFingerprint(certificate: Buffer, hash = 'sha-256'): string {
  const digest = createHash(hash.replace('-', '')).update(certificate).digest('hex').toUpperCase();
  return digest.replace(/(..)(?!$)/g, '$1:');
}

/** A new self-signed certificate, valid from a day ago for a year (a relay restarts far more often). */
export function newDtlsIdentity(name = 'voxgate'): DtlsIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serial = randomBytes(8);
  serial[0]! &= 0x7f;
  serial[0]! |= 0x01;
  const day = 86_400_000;
  const now = Date.now();
  const tbs = sequence(
    der(0xa0, der(0x02, Buffer.from([2]))),
    der(0x02, serial),
    ECDSA_WITH_SHA256,
    commonName(name),
    sequence(utcTime(new Date(now - day)), utcTime(new Date(now + 365 * day))),
    commonName(name),
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const certificate = sequence(tbs, ECDSA_WITH_SHA256, der(0x03, Buffer.from([0]), signature));
  return { certificate, privateKey, fingerprint: `sha-256 ${certificateFingerprint(certificate)}` };
}

/** Hash functions of a=fingerprint (RFC 8122 §5, the IANA registry) this relay can check. */
const HASHES = new Set(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']);

/** An a=fingerprint value: `<hash-func> <hex pairs>`; undefined when it is not one this relay can check. */
export function parseFingerprint(value: string): { hash: string; value: string } | undefined {
  const match = /^\s*(\S+)\s+([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+)\s*$/.exec(value);
  if (!match) return undefined;
  const hash = match[1]!.toLowerCase();
  return HASHES.has(hash) ? { hash, value: match[2]!.toUpperCase() } : undefined;
}

/** Whether `certificate` matches one of the SDP's fingerprints (RFC 8122 §5). */
export function matchesFingerprint(
  certificate: Buffer,
  fingerprints: readonly { hash: string; value: string }[],
): boolean {
  return fingerprints.some((f) => certificateFingerprint(certificate, f.hash) === f.value);
}
