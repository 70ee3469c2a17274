import {
  CIPHER_SUITE,
  NamedGroup,
  SUPPORTED_SIGNATURES,
  SignatureScheme,
  ephemeral,
  signEcdsa,
} from './dtls-crypto.js';
import { DtlsError } from './dtls-error.js';
import {
  Extension,
  parseClientHello,
  parseUseSrtp,
  readGroups,
  readSignatureSchemes,
  serverHelloBody,
  u16ListData,
  useSrtpData,
} from './dtls-hello.js';
import {
  certificateBody,
  random,
  type DtlsHandshake,
  type HandshakeActions,
  type Inbound,
} from './dtls-handshake.js';
import { SRTP_PROFILES } from './dtls-keys.js';
import { DTLS_1_0, DTLS_1_2, HandshakeType, Reader, u16, u8, vector } from './dtls-wire.js';

/** The server's side (a=setup:passive): one message from the client, in its turn. */
export function serverMessage(hs: DtlsHandshake, message: Inbound, act: HandshakeActions): void {
  switch (hs.state) {
    case 'wait-client-hello':
      hs.expect(message, HandshakeType.clientHello);
      hs.remember(message);
      answerClientHello(hs, message, act);
      return;
    case 'wait-certificate':
      // The server asked for a certificate: a client without one cannot match its fingerprint.
      if (message.msgType !== HandshakeType.certificate) {
        throw new DtlsError('fingerprint', 'The DTLS client sent no certificate');
      }
      hs.acceptCertificate(message);
      hs.state = 'wait-client-key-exchange';
      return;
    case 'wait-client-key-exchange': {
      hs.expect(message, HandshakeType.clientKeyExchange);
      hs.remember(message);
      hs.peerKey = new Reader(message.body).vector(1);
      act.useKeys(hs.deriveKeys());
      hs.state = 'wait-certificate-verify';
      return;
    }
    case 'wait-certificate-verify': {
      hs.expect(message, HandshakeType.certificateVerify);
      // RFC 5246 §7.4.8: signed over every handshake message up to, not including, this one.
      const signed = Buffer.concat(hs.transcript);
      hs.checkSignature(message.body, signed, 'CertificateVerify');
      hs.remember(message);
      hs.state = 'wait-change-cipher-spec';
      return;
    }
    case 'wait-finished': {
      hs.acceptFinished(message, 'client finished');
      act.sendFlight([{ kind: 'change-cipher-spec' }, hs.finishedMessage('server finished')]);
      act.connect();
      return;
    }
    default:
      throw new DtlsError('malformed', `Unexpected DTLS handshake message ${message.msgType}`);
  }
}

function answerClientHello(hs: DtlsHandshake, message: Inbound, act: HandshakeActions): void {
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
  if (!profile) throw new DtlsError('unsupported', 'The DTLS client offers no SRTP profile the relay knows');
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
  hs.profile = profile;
  hs.clientRandom = hello.random;
  hs.serverRandom = random();
  hs.extendedMasterSecret = hello.extensions.has(Extension.extendedMasterSecret);
  hs.key = ephemeral(group);
  // RFC 6347 §4.2.2: the server's first message takes the sequence number of the ClientHello it answers.
  hs.nextSendSeq = message.messageSeq;
  const extensions: [number, Buffer][] = [[Extension.useSrtp, useSrtpData([profile])]];
  if (hs.extendedMasterSecret) extensions.push([Extension.extendedMasterSecret, Buffer.alloc(0)]);
  if (hello.extensions.has(Extension.renegotiationInfo)) {
    extensions.push([Extension.renegotiationInfo, u8(0)]);
  }
  if (hello.extensions.has(Extension.ecPointFormats))
    extensions.push([Extension.ecPointFormats, vector(1, u8(0))]);
  const params = Buffer.concat([u8(3), u16(group), vector(1, hs.key.publicKey)]);
  const signature = signEcdsa(
    hs.end.identity.privateKey,
    Buffer.concat([hs.clientRandom, hs.serverRandom, params]),
  );
  act.sendFlight([
    hs.handshake(
      HandshakeType.serverHello,
      serverHelloBody(DTLS_1_2, hs.serverRandom, CIPHER_SUITE, extensions),
    ),
    hs.handshake(HandshakeType.certificate, certificateBody(hs.end.identity.certificate)),
    hs.handshake(
      HandshakeType.serverKeyExchange,
      Buffer.concat([params, u16(SignatureScheme.ecdsaSecp256r1Sha256), vector(2, signature)]),
    ),
    // RFC 5763 §5: "the endpoint acting as the DTLS server MUST request a certificate from the client".
    hs.handshake(
      HandshakeType.certificateRequest,
      Buffer.concat([
        vector(1, Buffer.from([64, 1])),
        u16ListData(SUPPORTED_SIGNATURES),
        vector(2, Buffer.alloc(0)),
      ]),
    ),
    hs.handshake(HandshakeType.serverHelloDone, Buffer.alloc(0)),
  ]);
  hs.state = 'wait-certificate';
}
