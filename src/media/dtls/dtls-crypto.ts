import {
  X509Certificate,
  constants,
  createCipheriv,
  createDecipheriv,
  createECDH,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { DtlsError } from './dtls-error.js';
import { DTLS_1_2 } from './dtls-wire.js';
import { prf } from './tls-prf.js';

/** RFC 8422 §5.1.1 NamedCurve / RFC 8446 NamedGroup: the groups the relay does ECDHE with. */
export const NamedGroup = { x25519: 0x001d, secp256r1: 0x0017 } as const;

/** An ephemeral ECDHE key (RFC 8422 §5.4): its public point as sent, and the shared secret with a peer's. */
export interface Ephemeral {
  readonly group: number;
  readonly publicKey: Buffer;
  secret(peer: Buffer): Buffer;
}

/** RFC 8410 SubjectPublicKeyInfo prefix of an X25519 key (the 32-byte key follows). */
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');

export function ephemeral(group: number): Ephemeral {
  if (group === NamedGroup.x25519) {
    const keys = generateKeyPairSync('x25519');
    return {
      group,
      publicKey: keys.publicKey.export({ type: 'spki', format: 'der' }).subarray(X25519_SPKI.length),
      secret(peer) {
        if (peer.length !== 32) throw new DtlsError('crypto', 'An X25519 key share must be 32 bytes');
        const publicKey = createPublicKey({
          key: Buffer.concat([X25519_SPKI, peer]),
          format: 'der',
          type: 'spki',
        });
        return diffieHellman({ privateKey: keys.privateKey, publicKey });
      },
    };
  }
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    group,
    publicKey: ecdh.getPublicKey(),
    secret(peer) {
      try {
        return ecdh.computeSecret(peer);
      } catch (err) {
        throw new DtlsError('crypto', 'The peer sent an invalid P-256 point', { cause: err });
      }
    },
  };
}

/** RFC 8446 §4.2.3 SignatureScheme values of TLS 1.2 (RFC 5246 §7.4.1.4.1: hash byte then signature byte). */
export const SignatureScheme = {
  ecdsaSecp256r1Sha256: 0x0403,
  ecdsaSecp384r1Sha384: 0x0503,
  rsaPssRsaeSha256: 0x0804,
  rsaPkcs1Sha256: 0x0401,
} as const;

export const SUPPORTED_SIGNATURES: readonly number[] = Object.values(SignatureScheme);

/** The public key of a DER certificate; a certificate Node cannot read fails the handshake. */
export function certificateKey(certificate: Buffer): KeyObject {
  try {
    return new X509Certificate(certificate).publicKey;
  } catch (err) {
    throw new DtlsError('crypto', 'The peer sent a certificate that does not parse', { cause: err });
  }
}

export function verifySignature(scheme: number, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    switch (scheme) {
      case SignatureScheme.ecdsaSecp256r1Sha256:
      case SignatureScheme.rsaPkcs1Sha256:
        return verify('sha256', data, key, signature);
      case SignatureScheme.ecdsaSecp384r1Sha384:
        return verify('sha384', data, key, signature);
      case SignatureScheme.rsaPssRsaeSha256:
        return verify(
          'sha256',
          data,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
          signature,
        );
      default:
        return false;
    }
  } catch {
    // A key of another type than the scheme names, or a signature that is not DER: it does not verify.
    return false;
  }
}

/** The relay signs with its P-256 key: ecdsa_secp256r1_sha256, DER-encoded (RFC 8422 §5.4). */
export const signEcdsa = (key: KeyObject, data: Buffer) => sign('sha256', data, key);

/** TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (RFC 5289): browsers' DTLS-SRTP default, and the one spoken here. */
export const CIPHER_SUITE = 0xc02b;
/** TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, accepted as a client towards a peer with an RSA certificate. */
export const CIPHER_SUITE_RSA = 0xc02f;

/** One direction of record protection with AES-128-GCM (RFC 5288 §3; RFC 6347 §4.1.2.1 for the AAD). */
export class GcmRecordCipher {
  constructor(
    private readonly key: Buffer,
    private readonly implicitIv: Buffer,
  ) {}

  private nonce(explicit: Buffer): Buffer {
    return Buffer.concat([this.implicitIv, explicit]);
  }

  /** additional_data = epoch + seq_num (8 bytes) + type + version + length of the plaintext. */
  private static aad(type: number, epochSeq: Buffer, length: number): Buffer {
    const aad = Buffer.alloc(13);
    epochSeq.copy(aad, 0);
    aad[8] = type;
    aad.writeUInt16BE(DTLS_1_2, 9);
    aad.writeUInt16BE(length, 11);
    return aad;
  }

  static epochSeq(epoch: number, sequence: number): Buffer {
    const b = Buffer.alloc(8);
    b.writeUInt16BE(epoch, 0);
    b.writeUIntBE(sequence, 2, 6);
    return b;
  }

  /** GenericAEADCipher: the 8-byte explicit nonce (here epoch + seq), the ciphertext, the 16-byte tag. */
  seal(type: number, epoch: number, sequence: number, plaintext: Buffer): Buffer {
    const explicit = GcmRecordCipher.epochSeq(epoch, sequence);
    const cipher = createCipheriv('aes-128-gcm', this.key, this.nonce(explicit));
    cipher.setAAD(GcmRecordCipher.aad(type, explicit, plaintext.length));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([explicit, body, cipher.getAuthTag()]);
  }

  /** The plaintext, or undefined when the record does not authenticate (it is then discarded, §4.1.2.7). */
  open(type: number, epoch: number, sequence: number, fragment: Buffer): Buffer | undefined {
    if (fragment.length < 8 + 16) return undefined;
    const explicit = fragment.subarray(0, 8);
    const tag = fragment.subarray(fragment.length - 16);
    const body = fragment.subarray(8, fragment.length - 16);
    try {
      const decipher = createDecipheriv('aes-128-gcm', this.key, this.nonce(explicit));
      decipher.setAAD(GcmRecordCipher.aad(type, GcmRecordCipher.epochSeq(epoch, sequence), body.length));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      return undefined;
    }
  }
}

/** RFC 5246 §6.3 key_block for an AEAD suite: client and server write keys (16 each), then IVs (4 each). */
export function recordCiphers(
  masterSecret: Buffer,
  clientRandom: Buffer,
  serverRandom: Buffer,
): { client: GcmRecordCipher; server: GcmRecordCipher } {
  const block = prf(masterSecret, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 40);
  return {
    client: new GcmRecordCipher(block.subarray(0, 16), block.subarray(32, 36)),
    server: new GcmRecordCipher(block.subarray(16, 32), block.subarray(36, 40)),
  };
}
