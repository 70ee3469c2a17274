import { createHash, randomBytes } from 'node:crypto';
import type { SrtpSuite } from '../srtp/srtp-suites.js';
import { SRTP_SUITES } from '../srtp/srtp-suites.js';
import type { DtlsIdentity } from './dtls-certificate.js';
import {
  CIPHER_SUITE,
  CIPHER_SUITE_RSA,
  NamedGroup,
  SUPPORTED_SIGNATURES,
  SignatureScheme,
  certificateKey,
  ephemeral,
  recordCiphers,
  signEcdsa,
  verifySignature,
  type Ephemeral,
  type GcmRecordCipher,
} from './dtls-crypto.js';
import { DtlsError, type DtlsFailureReason } from './dtls-error.js';
import {
  Extension,
  clientHelloBody,
  parseClientHello,
  parseServerHello,
  parseUseSrtp,
  readGroups,
  readSignatureSchemes,
  serverHelloBody,
  u16ListData,
  useSrtpData,
} from './dtls-hello.js';
import {
  ContentType,
  DTLS_1_0,
  DTLS_1_2,
  HandshakeReassembler,
  HandshakeType,
  Reader,
  handshakeMessage,
  parseHandshakeFragments,
  parseRecords,
  recordHeader,
  u16,
  u8,
  vector,
} from './dtls-wire.js';
import { prf } from './tls-prf.js';

/** RFC 5764 §4.1.2 SRTPProtectionProfile values and the SRTP suites they name. */
const SRTP_PROFILES = new Map<number, SrtpSuite>([
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

export interface DtlsConnectionOptions {
  /** `server` answers a ClientHello (a=setup:passive), `client` sends one (a=setup:active). RFC 5763 §5. */
  readonly role: 'server' | 'client';
  readonly identity: DtlsIdentity;
  /** Whether the peer's certificate (DER) matches the a=fingerprint of its SDP. */
  verifyPeer(certificate: Buffer): boolean;
  send(datagram: Buffer): void;
  onConnected(keys: SrtpKeying): void;
  onFailed(error: DtlsError): void;
  /** Milliseconds the handshake may take from its first packet (default 20 s). */
  readonly timeoutMs?: number;
}

type State =
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

/** What a flight is made of, kept to send it again (RFC 6347 §4.2.4: a retransmission is a new record). */
type Outgoing = { kind: 'handshake'; epoch: 0 | 1; message: Buffer } | { kind: 'change-cipher-spec' };

interface Inbound {
  msgType: number;
  messageSeq: number;
  body: Buffer;
  epoch: number;
}

/** Datagram size the relay keeps its flights under (the path MTU of WebRTC media is ~1200). */
const DATAGRAM = 1200;
/** RFC 6347 §4.2.4.1: the initial retransmission timer is 1 s, doubled on each retransmission. */
const RETRANSMIT_MS = 1000;
const MAX_RETRANSMITS = 6;

/** RFC 5246 §7.2 alerts the relay sends. */
const Alert = {
  closeNotify: 0,
  unexpectedMessage: 10,
  handshakeFailure: 40,
  badCertificate: 42,
  decryptError: 51,
} as const;
const ALERT_FOR: Record<DtlsFailureReason, number> = {
  malformed: Alert.unexpectedMessage,
  unsupported: Alert.handshakeFailure,
  fingerprint: Alert.badCertificate,
  crypto: Alert.decryptError,
  alert: Alert.closeNotify,
  timeout: Alert.handshakeFailure,
};

const sha256 = (parts: Buffer[]) => {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  return hash.digest();
};

/**
 * One DTLS 1.2 association for DTLS-SRTP (RFC 5764) on one media component, either role, over datagrams the
 * caller moves: `receive` takes what came from the peer, `options.send` emits what goes to it. The handshake
 * is the one WebRTC endpoints make: ECDHE (X25519 or P-256) with ECDSA certificates, AES-128-GCM records,
 * mutual certificates checked against the SDP fingerprints (RFC 8122), the extended master secret (RFC 7627)
 * when offered, and the use_srtp extension choosing an AES-CM profile. Nothing but the handshake and alerts is
 * spoken: media goes as SRTP under the exported keys, outside DTLS records.
 */
export class DtlsConnection {
  private state: State;
  private readonly reassembler = new HandshakeReassembler();
  private readonly transcript: Buffer[] = [];
  private readonly queued = new Map<number, Inbound>();
  private nextReceiveSeq = 0;
  private nextSendSeq = 0;
  private readonly writeSeq = [0, 0];
  private flight: Outgoing[] = [];
  private lastFlightAt = 0;
  private clientRandom: Buffer = Buffer.alloc(0);
  private serverRandom: Buffer = Buffer.alloc(0);
  private cookie: Buffer = Buffer.alloc(0);
  private key?: Ephemeral;
  private peerKey?: Buffer;
  private peerCertificate?: Buffer;
  private certificateRequested = false;
  private extendedMasterSecret = false;
  private profile?: number;
  private masterSecret?: Buffer;
  private readCipher?: GcmRecordCipher;
  private writeCipher?: GcmRecordCipher;
  private pendingReadCipher?: GcmRecordCipher;
  private retransmitTimer?: NodeJS.Timeout;
  private retransmits = 0;
  private deadline?: NodeJS.Timeout;

  constructor(private readonly options: DtlsConnectionOptions) {
    this.state = options.role === 'server' ? 'wait-client-hello' : 'wait-server-hello';
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  get finished(): boolean {
    return this.state === 'failed' || this.state === 'closed';
  }

  /** As client: sends the ClientHello. A server waits for one. */
  start(): void {
    if (this.options.role !== 'client' || this.flight.length) return;
    this.armDeadline();
    this.clientRandom = random();
    this.key = ephemeral(NamedGroup.x25519);
    this.sendClientHello();
  }

  /** Stops timers; the association is over (the call ended, or a new one replaces it). */
  close(): void {
    if (this.state !== 'failed') this.state = 'closed';
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.deadline);
  }

  /** A datagram from the peer whose first byte is 20-63 (RFC 7983 §7). Never throws. */
  receive(datagram: Buffer): void {
    if (this.finished) return;
    this.armDeadline();
    try {
      for (const record of parseRecords(datagram))
        this.record(record.type, record.version, record.epoch, record.sequence, record.fragment);
    } catch (err) {
      this.fail(
        err instanceof DtlsError ? err : new DtlsError('malformed', 'DTLS record refused', { cause: err }),
      );
    }
  }

  private record(type: number, version: number, epoch: number, sequence: number, fragment: Buffer): void {
    if (this.finished || version >> 8 !== 0xfe) return;
    let plain = fragment;
    if (epoch === 1) {
      const cipher = this.readCipher;
      const opened = cipher?.open(type, epoch, sequence, fragment);
      // RFC 6347 §4.1.2.7: a record that does not authenticate is silently discarded.
      if (!opened) return;
      plain = opened;
    } else if (epoch !== 0) {
      return;
    }
    switch (type) {
      case ContentType.changeCipherSpec:
        if (epoch === 0 && this.state === 'wait-change-cipher-spec' && this.pendingReadCipher) {
          this.readCipher = this.pendingReadCipher;
          this.pendingReadCipher = undefined;
          this.state = 'wait-finished';
          this.drain();
        }
        return;
      case ContentType.alert:
        this.alert(plain);
        return;
      case ContentType.handshake:
        for (const fragment of parseHandshakeFragments(plain)) this.fragment(fragment, epoch);
        return;
      default:
        // Application data: DTLS-SRTP carries media outside records; nothing else is expected.
        return;
    }
  }

  private alert(body: Buffer): void {
    if (body.length < 2) return;
    const [level, description] = [body[0]!, body[1]!];
    if (description === Alert.closeNotify) {
      this.close();
      return;
    }
    if (level === 2) this.fail(new DtlsError('alert', `The peer sent DTLS alert ${description}`), false);
  }

  private fragment(fragment: ReturnType<typeof parseHandshakeFragments>[number], epoch: number): void {
    if (fragment.messageSeq < this.nextReceiveSeq) {
      // RFC 6347 §4.2.4: the peer sends its last flight again when ours did not reach it; so do we.
      this.retransmitOnRequest();
      return;
    }
    if (fragment.messageSeq > this.nextReceiveSeq + 8) return;
    const message = this.reassembler.add(fragment);
    if (!message) return;
    this.queued.set(message.messageSeq, { ...message, epoch });
    this.drain();
  }

  /** Handles queued messages in order while the next one is there. */
  private drain(): void {
    for (;;) {
      const next = this.queued.get(this.nextReceiveSeq);
      if (!next || this.finished) return;
      // The Finished is the first message under the new keys (RFC 5246 §7.4.9); it waits for ChangeCipherSpec.
      if (next.msgType === HandshakeType.finished && this.state !== 'wait-finished') return;
      this.queued.delete(this.nextReceiveSeq);
      if (next.msgType === HandshakeType.clientHello && this.state === 'wait-server-hello') {
        // The SDP made this end the client (a=setup:active) and the peer sends a ClientHello too: it is racing
        // its own answer, or has the roles wrong. Chrome ignores it and keeps waiting for a ServerHello; so does
        // this end (the sequence number stays free for the ServerHello).
        continue;
      }
      this.nextReceiveSeq++;
      this.reassembler.dropBefore(this.nextReceiveSeq);
      if ((next.msgType === HandshakeType.finished) !== (next.epoch === 1)) {
        throw new DtlsError('malformed', 'A DTLS handshake message came under the wrong epoch');
      }
      if (this.options.role === 'server') this.serverMessage(next);
      else this.clientMessage(next);
    }
  }

  private expect(message: Inbound, type: number): void {
    if (message.msgType !== type) {
      throw new DtlsError('malformed', `DTLS handshake message ${message.msgType} where ${type} was due`);
    }
  }

  private remember(message: Inbound): void {
    this.transcript.push(handshakeMessage(message.msgType, message.messageSeq, message.body));
  }

  // ——— server (a=setup:passive) ———

  private serverMessage(message: Inbound): void {
    switch (this.state) {
      case 'wait-client-hello':
        this.expect(message, HandshakeType.clientHello);
        this.remember(message);
        this.clientHello(message);
        return;
      case 'wait-certificate':
        // The server asked for a certificate: a client without one cannot match its fingerprint.
        if (message.msgType !== HandshakeType.certificate) {
          throw new DtlsError('fingerprint', 'The DTLS client sent no certificate');
        }
        this.remember(message);
        this.peerCertificate = this.certificate(message.body);
        this.state = 'wait-client-key-exchange';
        return;
      case 'wait-client-key-exchange': {
        this.expect(message, HandshakeType.clientKeyExchange);
        this.remember(message);
        this.peerKey = new Reader(message.body).vector(1);
        this.deriveKeys();
        this.state = 'wait-certificate-verify';
        return;
      }
      case 'wait-certificate-verify': {
        this.expect(message, HandshakeType.certificateVerify);
        // RFC 5246 §7.4.8: signed over every handshake message up to, not including, this one.
        const signed = Buffer.concat(this.transcript);
        this.checkSignature(message.body, signed, 'CertificateVerify');
        this.remember(message);
        this.state = 'wait-change-cipher-spec';
        return;
      }
      case 'wait-finished': {
        this.expect(message, HandshakeType.finished);
        this.checkFinished(message.body, 'client finished');
        this.remember(message);
        this.sendFlight([{ kind: 'change-cipher-spec' }, this.finishedMessage('server finished')]);
        this.connect();
        return;
      }
      default:
        throw new DtlsError('malformed', `Unexpected DTLS handshake message ${message.msgType}`);
    }
  }

  private clientHello(message: Inbound): void {
    const hello = parseClientHello(message.body);
    // RFC 6347 §4.2.1 lets a server skip the cookie exchange; no amplification here: the relay's flight is
    // smaller than a WebRTC ClientHello, and media ports are known only to the two parties' signalling.
    if (hello.version !== DTLS_1_2 && hello.version !== DTLS_1_0) {
      throw new DtlsError('unsupported', 'The DTLS client offers no DTLS 1.2');
    }
    if (!hello.cipherSuites.includes(CIPHER_SUITE)) {
      throw new DtlsError('unsupported', 'The DTLS client offers no ECDHE-ECDSA-AES128-GCM-SHA256');
    }
    const srtp = hello.extensions.get(Extension.useSrtp);
    const profile = srtp && parseUseSrtp(srtp).find((p) => SRTP_PROFILES.has(p));
    if (!profile)
      throw new DtlsError('unsupported', 'The DTLS client offers no SRTP profile the relay knows');
    const groupsData = hello.extensions.get(Extension.supportedGroups);
    // RFC 8422 §4: without the extension any curve may be used; P-256 is then the safe choice.
    const groups = groupsData ? readGroups(groupsData) : [NamedGroup.secp256r1];
    const group = groups.find((g) => g === NamedGroup.x25519 || g === NamedGroup.secp256r1);
    if (group === undefined)
      throw new DtlsError('unsupported', 'The DTLS client offers no curve the relay knows');
    const schemes = hello.extensions.get(Extension.signatureAlgorithms);
    if (schemes && !readSignatureSchemes(schemes).includes(SignatureScheme.ecdsaSecp256r1Sha256)) {
      throw new DtlsError('unsupported', 'The DTLS client does not accept ECDSA P-256 with SHA-256');
    }
    this.profile = profile;
    this.clientRandom = hello.random;
    this.serverRandom = random();
    this.extendedMasterSecret = hello.extensions.has(Extension.extendedMasterSecret);
    this.key = ephemeral(group);
    // RFC 6347 §4.2.2: the server's first message takes the sequence number of the ClientHello it answers.
    this.nextSendSeq = message.messageSeq;
    const extensions: [number, Buffer][] = [[Extension.useSrtp, useSrtpData([profile])]];
    if (this.extendedMasterSecret) extensions.push([Extension.extendedMasterSecret, Buffer.alloc(0)]);
    if (hello.extensions.has(Extension.renegotiationInfo)) {
      extensions.push([Extension.renegotiationInfo, u8(0)]);
    }
    if (hello.extensions.has(Extension.ecPointFormats))
      extensions.push([Extension.ecPointFormats, vector(1, u8(0))]);
    const params = Buffer.concat([u8(3), u16(group), vector(1, this.key.publicKey)]);
    const signature = signEcdsa(
      this.options.identity.privateKey,
      Buffer.concat([this.clientRandom, this.serverRandom, params]),
    );
    this.sendFlight([
      this.handshake(
        HandshakeType.serverHello,
        serverHelloBody(DTLS_1_2, this.serverRandom, CIPHER_SUITE, extensions),
      ),
      this.handshake(HandshakeType.certificate, certificateBody(this.options.identity.certificate)),
      this.handshake(
        HandshakeType.serverKeyExchange,
        Buffer.concat([params, u16(SignatureScheme.ecdsaSecp256r1Sha256), vector(2, signature)]),
      ),
      // RFC 5763 §5: "the endpoint acting as the DTLS server MUST request a certificate from the client".
      this.handshake(
        HandshakeType.certificateRequest,
        Buffer.concat([
          vector(1, Buffer.from([64, 1])),
          u16ListData(SUPPORTED_SIGNATURES),
          vector(2, Buffer.alloc(0)),
        ]),
      ),
      this.handshake(HandshakeType.serverHelloDone, Buffer.alloc(0)),
    ]);
    this.state = 'wait-certificate';
  }

  // ——— client (a=setup:active) ———

  private sendClientHello(): void {
    const body = clientHelloBody({
      version: DTLS_1_2,
      random: this.clientRandom,
      cookie: this.cookie,
      cipherSuites: [CIPHER_SUITE, CIPHER_SUITE_RSA],
      extensions: [
        [Extension.useSrtp, useSrtpData([...SRTP_PROFILES.keys()])],
        [Extension.supportedGroups, u16ListData([NamedGroup.x25519, NamedGroup.secp256r1])],
        [Extension.ecPointFormats, vector(1, u8(0))],
        [Extension.signatureAlgorithms, u16ListData(SUPPORTED_SIGNATURES)],
        [Extension.extendedMasterSecret, Buffer.alloc(0)],
        [Extension.renegotiationInfo, u8(0)],
      ],
    });
    this.transcript.length = 0;
    this.sendFlight([this.handshake(HandshakeType.clientHello, body)]);
  }

  private clientMessage(message: Inbound): void {
    switch (this.state) {
      case 'wait-server-hello':
        if (message.msgType === HandshakeType.helloVerifyRequest) {
          // RFC 6347 §4.2.1: the ClientHello goes again with the cookie; neither counts in the transcript.
          const reader = new Reader(message.body);
          reader.u16();
          this.cookie = Buffer.from(reader.vector(1));
          this.sendClientHello();
          return;
        }
        this.expect(message, HandshakeType.serverHello);
        this.remember(message);
        this.serverHello(message.body);
        this.state = 'wait-certificate';
        return;
      case 'wait-certificate':
        this.expect(message, HandshakeType.certificate);
        this.remember(message);
        this.peerCertificate = this.certificate(message.body);
        this.state = 'wait-server-key-exchange';
        return;
      case 'wait-server-key-exchange': {
        this.expect(message, HandshakeType.serverKeyExchange);
        this.remember(message);
        const reader = new Reader(message.body);
        if (reader.u8() !== 3) throw new DtlsError('unsupported', 'The DTLS server uses explicit curves');
        const group = reader.u16();
        if (group !== NamedGroup.x25519 && group !== NamedGroup.secp256r1) {
          throw new DtlsError('unsupported', `The DTLS server chose curve ${group}`);
        }
        this.peerKey = Buffer.from(reader.vector(1));
        const params = message.body.subarray(0, 4 + this.peerKey.length);
        this.checkSignature(
          reader.rest(),
          Buffer.concat([this.clientRandom, this.serverRandom, params]),
          'ServerKeyExchange',
        );
        if (this.key?.group !== group) this.key = ephemeral(group);
        this.state = 'wait-server-hello-done';
        return;
      }
      case 'wait-server-hello-done':
        if (message.msgType === HandshakeType.certificateRequest) {
          this.remember(message);
          this.certificateRequested = true;
          return;
        }
        this.expect(message, HandshakeType.serverHelloDone);
        this.remember(message);
        this.clientFinish();
        return;
      case 'wait-finished':
        this.expect(message, HandshakeType.finished);
        this.checkFinished(message.body, 'server finished');
        this.remember(message);
        this.connect();
        return;
      default:
        throw new DtlsError('malformed', `Unexpected DTLS handshake message ${message.msgType}`);
    }
  }

  private serverHello(body: Buffer): void {
    const hello = parseServerHello(body);
    if (hello.version !== DTLS_1_2)
      throw new DtlsError('unsupported', 'The DTLS server did not choose DTLS 1.2');
    const suite = hello.cipherSuites[0];
    if (suite !== CIPHER_SUITE && suite !== CIPHER_SUITE_RSA) {
      throw new DtlsError('unsupported', `The DTLS server chose cipher suite ${suite}`);
    }
    const srtp = hello.extensions.get(Extension.useSrtp);
    const chosen = srtp ? parseUseSrtp(srtp) : [];
    if (chosen.length !== 1 || !SRTP_PROFILES.has(chosen[0]!)) {
      throw new DtlsError('unsupported', 'The DTLS server chose no SRTP profile the relay offered');
    }
    this.profile = chosen[0];
    this.serverRandom = hello.random;
    this.extendedMasterSecret = hello.extensions.has(Extension.extendedMasterSecret);
  }

  private clientFinish(): void {
    const flight: Outgoing[] = [];
    if (this.certificateRequested) {
      flight.push(
        this.handshake(HandshakeType.certificate, certificateBody(this.options.identity.certificate)),
      );
    }
    flight.push(this.handshake(HandshakeType.clientKeyExchange, vector(1, this.key!.publicKey)));
    this.deriveKeys();
    if (this.certificateRequested) {
      const signature = signEcdsa(this.options.identity.privateKey, Buffer.concat(this.transcript));
      flight.push(
        this.handshake(
          HandshakeType.certificateVerify,
          Buffer.concat([u16(SignatureScheme.ecdsaSecp256r1Sha256), vector(2, signature)]),
        ),
      );
    }
    flight.push({ kind: 'change-cipher-spec' });
    flight.push(this.finishedMessage('client finished'));
    this.sendFlight(flight);
    this.state = 'wait-change-cipher-spec';
  }

  // ——— both roles ———

  /** Certificate: a chain (RFC 5246 §7.4.2); the first one is the peer's, checked against its fingerprint. */
  private certificate(body: Buffer): Buffer {
    const list = new Reader(new Reader(body).vector(3));
    if (list.remaining === 0) throw new DtlsError('fingerprint', 'The DTLS peer sent no certificate');
    const first = Buffer.from(list.vector(3));
    if (!this.options.verifyPeer(first)) {
      throw new DtlsError('fingerprint', "The DTLS peer's certificate does not match its SDP fingerprint");
    }
    return first;
  }

  private checkSignature(field: Buffer, signed: Buffer, what: string): void {
    const reader = new Reader(field);
    const scheme = reader.u16();
    const signature = reader.vector(2);
    if (!verifySignature(scheme, certificateKey(this.peerCertificate!), signed, signature)) {
      throw new DtlsError('crypto', `The DTLS peer's ${what} signature does not verify`);
    }
  }

  /** The master secret (RFC 5246 §8.1; RFC 7627 §4 when extended) and the record keys of epoch 1. */
  private deriveKeys(): void {
    const premaster = this.key!.secret(this.peerKey!);
    const randoms = Buffer.concat([this.clientRandom, this.serverRandom]);
    this.masterSecret = this.extendedMasterSecret
      ? prf(premaster, 'extended master secret', sha256(this.transcript), 48)
      : prf(premaster, 'master secret', randoms, 48);
    const ciphers = recordCiphers(this.masterSecret, this.clientRandom, this.serverRandom);
    const server = this.options.role === 'server';
    this.writeCipher = server ? ciphers.server : ciphers.client;
    this.pendingReadCipher = server ? ciphers.client : ciphers.server;
  }

  private finishedMessage(label: string): Outgoing {
    const verifyData = prf(this.masterSecret!, label, sha256(this.transcript), 12);
    const message = handshakeMessage(HandshakeType.finished, this.nextSendSeq++, verifyData);
    this.transcript.push(message);
    return { kind: 'handshake', epoch: 1, message };
  }

  private checkFinished(body: Buffer, label: string): void {
    const expected = prf(this.masterSecret!, label, sha256(this.transcript), 12);
    if (!expected.equals(body)) throw new DtlsError('crypto', 'The DTLS Finished does not verify');
  }

  private handshake(type: number, body: Buffer): Outgoing {
    const message = handshakeMessage(type, this.nextSendSeq++, body);
    this.transcript.push(message);
    return { kind: 'handshake', epoch: 0, message };
  }

  /** RFC 5764 §4.2: the keys from the exporter with label "EXTRACTOR-dtls_srtp" (RFC 5705 §4). */
  private connect(): void {
    const suite = SRTP_PROFILES.get(this.profile!)!;
    const k = suite.keyLength;
    const s = suite.saltLength;
    const material = prf(
      this.masterSecret!,
      'EXTRACTOR-dtls_srtp',
      Buffer.concat([this.clientRandom, this.serverRandom]),
      2 * (k + s),
    );
    const client = { key: material.subarray(0, k), salt: material.subarray(2 * k, 2 * k + s) };
    const server = { key: material.subarray(k, 2 * k), salt: material.subarray(2 * k + s, 2 * (k + s)) };
    const [local, remote] = this.options.role === 'server' ? [server, client] : [client, server];
    this.state = 'connected';
    clearTimeout(this.deadline);
    // The client's last flight is answered by the server's Finished: nothing more to send again on a timer.
    clearTimeout(this.retransmitTimer);
    this.options.onConnected({
      suite,
      localKey: local.key,
      localSalt: local.salt,
      remoteKey: remote.key,
      remoteSalt: remote.salt,
    });
  }

  private sendFlight(flight: Outgoing[]): void {
    this.flight = flight;
    this.retransmits = 0;
    this.transmit();
    if (this.options.role === 'client') this.armRetransmit();
  }

  /** RFC 6347 §4.2.4.1: the client, which has no answer to wait on after its last flight, uses a timer. */
  private armRetransmit(): void {
    clearTimeout(this.retransmitTimer);
    this.retransmitTimer = setTimeout(
      () => {
        if (this.finished || this.connected) return;
        if (++this.retransmits > MAX_RETRANSMITS) {
          this.fail(new DtlsError('timeout', 'The DTLS peer did not answer'), false);
          return;
        }
        this.transmit();
        this.armRetransmit();
      },
      RETRANSMIT_MS * 2 ** this.retransmits,
    );
    this.retransmitTimer.unref();
  }

  private retransmitOnRequest(): void {
    // At most one answer per quarter second, so a peer replaying old records cannot make the relay a flooder.
    if (this.flight.length === 0 || Date.now() - this.lastFlightAt < 250) return;
    this.transmit();
  }

  private transmit(): void {
    this.lastFlightAt = Date.now();
    const records: Buffer[] = [];
    for (const item of this.flight) {
      if (item.kind === 'change-cipher-spec') {
        records.push(this.recordOut(ContentType.changeCipherSpec, 0, u8(1)));
        continue;
      }
      for (const piece of fragments(item.message))
        records.push(this.recordOut(ContentType.handshake, item.epoch, piece));
    }
    let datagram: Buffer[] = [];
    let size = 0;
    for (const record of records) {
      if (size + record.length > DATAGRAM && datagram.length) {
        this.options.send(Buffer.concat(datagram));
        datagram = [];
        size = 0;
      }
      datagram.push(record);
      size += record.length;
    }
    if (datagram.length) this.options.send(Buffer.concat(datagram));
  }

  private recordOut(type: number, epoch: 0 | 1, plaintext: Buffer): Buffer {
    const sequence = this.writeSeq[epoch]!++;
    const fragment = epoch === 1 ? this.writeCipher!.seal(type, epoch, sequence, plaintext) : plaintext;
    return Buffer.concat([recordHeader(type, DTLS_1_2, epoch, sequence, fragment.length), fragment]);
  }

  private armDeadline(): void {
    if (this.deadline || this.finished || this.connected) return;
    this.deadline = setTimeout(
      () => this.fail(new DtlsError('timeout', 'The DTLS handshake did not complete in time'), false),
      this.options.timeoutMs ?? 20_000,
    );
    this.deadline.unref();
  }

  private fail(error: DtlsError, tellPeer = true): void {
    if (this.finished) return;
    if (tellPeer) {
      // A fatal alert (RFC 5246 §7.2), under the keys the peer reads with by now.
      const epoch = this.readCipher && this.writeCipher ? 1 : 0;
      try {
        this.options.send(this.recordOut(ContentType.alert, epoch, Buffer.from([2, ALERT_FOR[error.code]])));
      } catch {
        // The alert is a courtesy; the handshake has failed either way.
      }
    }
    this.state = 'failed';
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.deadline);
    this.options.onFailed(error);
  }
}

function random(): Buffer {
  return randomBytes(32);
}

function certificateBody(certificate: Buffer): Buffer {
  return vector(3, vector(3, certificate));
}

/** A whole handshake message cut into fragments that fit a datagram (RFC 6347 §4.2.3). */
function fragments(message: Buffer): Buffer[] {
  const body = message.subarray(12);
  const max = DATAGRAM - 13 - 12 - 40;
  if (body.length <= max) return [message];
  const type = message[0]!;
  const seq = message.readUInt16BE(4);
  const out: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += max) {
    out.push(handshakeMessage(type, seq, body.subarray(offset, offset + max), offset, body.length));
  }
  return out;
}
