import { createHash } from 'node:crypto';
import type { SrtpSuite } from '../srtp/srtp-suites.js';
import { SRTP_SUITES } from '../srtp/srtp-suites.js';
import { prf } from './tls-prf.js';

/** RFC 5764 §4.1.2 SRTPProtectionProfile values and the SRTP suites they name. */
export const SRTP_PROFILES = new Map<number, SrtpSuite>([
  [0x0001, SRTP_SUITES.find((s) => s.name === 'AES_CM_128_HMAC_SHA1_80')!],
  [0x0002, SRTP_SUITES.find((s) => s.name === 'AES_CM_128_HMAC_SHA1_32')!],
]);

/** The SRTP master keys the handshake exported (RFC 5764 §4.2), seen from this end. */
export interface SrtpKeying {
  readonly suite: SrtpSuite;
  /** This end encrypts what it sends with these. */
  readonly localKey: Buffer;
  readonly localSalt: Buffer;
  /** … and decrypts what it receives with these. */
  readonly remoteKey: Buffer;
  readonly remoteSalt: Buffer;
}

const sha256 = (parts: Buffer[]) => {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest();
};

/** The master secret (RFC 5246 §8.1; RFC 7627 §4 when extended, over the session hash of the transcript). */
export function masterSecret(
  premaster: Buffer,
  extended: boolean,
  clientRandom: Buffer,
  serverRandom: Buffer,
  transcript: Buffer[],
): Buffer {
  return extended
    ? prf(premaster, 'extended master secret', sha256(transcript), 48)
    : prf(premaster, 'master secret', Buffer.concat([clientRandom, serverRandom]), 48);
}

/** The verify_data of a Finished (RFC 5246 §7.4.9) over the handshake messages so far. */
export function finishedVerifyData(master: Buffer, label: string, transcript: Buffer[]): Buffer {
  return prf(master, label, sha256(transcript), 12);
}

/** RFC 5764 §4.2: the keys from the exporter with label "EXTRACTOR-dtls_srtp" (RFC 5705 §4). */
export function exportSrtpKeying(
  master: Buffer,
  profile: number,
  clientRandom: Buffer,
  serverRandom: Buffer,
  role: 'server' | 'client',
): SrtpKeying {
  const suite = SRTP_PROFILES.get(profile)!;
  const k = suite.keyLength;
  const s = suite.saltLength;
  const material = prf(
    master,
    'EXTRACTOR-dtls_srtp',
    Buffer.concat([clientRandom, serverRandom]),
    2 * (k + s),
  );
  const client = { key: material.subarray(0, k), salt: material.subarray(2 * k, 2 * k + s) };
  const server = { key: material.subarray(k, 2 * k), salt: material.subarray(2 * k + s, 2 * (k + s)) };
  const [local, remote] = role === 'server' ? [server, client] : [client, server];
  return {
    suite,
    localKey: local.key,
    localSalt: local.salt,
    remoteKey: remote.key,
    remoteSalt: remote.salt,
  };
}
