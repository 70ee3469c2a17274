import { randomBytes } from 'node:crypto';
import type { DtlsIdentity } from './dtls-certificate.js';
import {
  certificateKey,
  recordCiphers,
  verifySignature,
  type Ephemeral,
  type GcmRecordCipher,
} from './dtls-crypto.js';
import { DtlsError } from './dtls-error.js';
import type { Outgoing } from './dtls-flight.js';
import { exportSrtpKeying, finishedVerifyData, masterSecret, type SrtpKeying } from './dtls-keys.js';
import { HandshakeType, Reader, handshakeMessage, vector } from './dtls-wire.js';

export type HandshakeState =
  | 'wait-client-hello'
  | 'wait-server-hello'
  | 'wait-certificate'
  | 'wait-server-key-exchange'
  | 'wait-server-hello-done'
  | 'wait-client-key-exchange'
  | 'wait-certificate-verify'
  | 'wait-change-cipher-spec'
  | 'wait-finished'
  | 'connected'
  | 'failed'
  | 'closed';

/** A whole handshake message from the peer, in its turn, with the epoch it came under. */
export interface Inbound {
  msgType: number;
  messageSeq: number;
  body: Buffer;
  epoch: number;
}

/** Who this end is in the handshake. */
export interface HandshakeEnd {
  /** `server` answers a ClientHello (a=setup:passive), `client` sends one (a=setup:active). RFC 5763 §5. */
  readonly role: 'server' | 'client';
  readonly identity: DtlsIdentity;
  /** Whether the peer's certificate (DER) matches the a=fingerprint of its SDP. */
  verifyPeer(certificate: Buffer): boolean;
}

/** What a role's message handling asks of the connection. */
export interface HandshakeActions {
  sendFlight(flight: Outgoing[]): void;
  /** The record keys of epoch 1: `write` at once, `read` from the peer's ChangeCipherSpec. */
  useKeys(ciphers: { write: GcmRecordCipher; read: GcmRecordCipher }): void;
  connect(): void;
}

/**
 * One handshake's state, shared by both roles: where it stands, what was negotiated, the transcript of the
 * handshake messages (both directions, in order) and this end's message sequence numbers, and the checks on what
 * the peer proves (its certificate, signatures, Finished).
 */
export class DtlsHandshake {
  state: HandshakeState;
  readonly transcript: Buffer[] = [];
  nextSendSeq = 0;
  clientRandom: Buffer = Buffer.alloc(0);
  serverRandom: Buffer = Buffer.alloc(0);
  cookie: Buffer = Buffer.alloc(0);
  key?: Ephemeral;
  peerKey?: Buffer;
  peerCertificate?: Buffer;
  certificateRequested = false;
  extendedMasterSecret = false;
  profile?: number;
  private masterSecret?: Buffer;

  constructor(readonly end: HandshakeEnd) {
    this.state = end.role === 'server' ? 'wait-client-hello' : 'wait-server-hello';
  }

  expect(message: Inbound, type: number): void {
    if (message.msgType !== type) {
      throw new DtlsError('malformed', `DTLS handshake message ${message.msgType} where ${type} was due`);
    }
  }

  remember(message: Inbound): void {
    this.transcript.push(handshakeMessage(message.msgType, message.messageSeq, message.body));
  }

  handshake(type: number, body: Buffer): Outgoing {
    const message = handshakeMessage(type, this.nextSendSeq++, body);
    this.transcript.push(message);
    return { kind: 'handshake', epoch: 0, message };
  }

  finishedMessage(label: string): Outgoing {
    const verifyData = finishedVerifyData(this.masterSecret!, label, this.transcript);
    const message = handshakeMessage(HandshakeType.finished, this.nextSendSeq++, verifyData);
    this.transcript.push(message);
    return { kind: 'handshake', epoch: 1, message };
  }

  /** The peer's Finished (RFC 5246 §7.4.9): its verify_data over the transcript before it, then remembered. */
  acceptFinished(message: Inbound, label: string): void {
    this.expect(message, HandshakeType.finished);
    const expected = finishedVerifyData(this.masterSecret!, label, this.transcript);
    if (!expected.equals(message.body)) throw new DtlsError('crypto', 'The DTLS Finished does not verify');
    this.remember(message);
  }

  /** Certificate: a chain (RFC 5246 §7.4.2); the first one is the peer's, checked against its fingerprint. */
  acceptCertificate(message: Inbound): void {
    this.remember(message);
    const list = new Reader(new Reader(message.body).vector(3));
    if (list.remaining === 0) throw new DtlsError('fingerprint', 'The DTLS peer sent no certificate');
    const first = Buffer.from(list.vector(3));
    if (!this.end.verifyPeer(first)) {
      throw new DtlsError('fingerprint', "The DTLS peer's certificate does not match its SDP fingerprint");
    }
    this.peerCertificate = first;
  }

  checkSignature(field: Buffer, signed: Buffer, what: string): void {
    const reader = new Reader(field);
    const scheme = reader.u16();
    const signature = reader.vector(2);
    if (!verifySignature(scheme, certificateKey(this.peerCertificate!), signed, signature)) {
      throw new DtlsError('crypto', `The DTLS peer's ${what} signature does not verify`);
    }
  }

  /** The master secret (RFC 5246 §8.1; RFC 7627 §4 when extended) and the record keys of epoch 1. */
  deriveKeys(): { write: GcmRecordCipher; read: GcmRecordCipher } {
    const premaster = this.key!.secret(this.peerKey!);
    this.masterSecret = masterSecret(
      premaster,
      this.extendedMasterSecret,
      this.clientRandom,
      this.serverRandom,
      this.transcript,
    );
    const ciphers = recordCiphers(this.masterSecret, this.clientRandom, this.serverRandom);
    return this.end.role === 'server'
      ? { write: ciphers.server, read: ciphers.client }
      : { write: ciphers.client, read: ciphers.server };
  }

  /** The SRTP keys of the finished handshake (RFC 5764 §4.2). */
  srtpKeying(): SrtpKeying {
    return exportSrtpKeying(
      this.masterSecret!,
      this.profile!,
      this.clientRandom,
      this.serverRandom,
      this.end.role,
    );
  }
}

export function random(): Buffer {
  return randomBytes(32);
}

export function certificateBody(certificate: Buffer): Buffer {
  return vector(3, vector(3, certificate));
}
