import {
  CIPHER_SUITE,
  CIPHER_SUITE_RSA,
  NamedGroup,
  SUPPORTED_SIGNATURES,
  SignatureScheme,
  ephemeral,
  signEcdsa,
} from './dtls-crypto.js';
import { DtlsError } from './dtls-error.js';
import {
  Extension,
  clientHelloBody,
  parseServerHello,
  parseUseSrtp,
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
import type { Outgoing } from './dtls-flight.js';
import { SRTP_PROFILES } from './dtls-keys.js';
import { DTLS_1_2, HandshakeType, Reader, u16, u8, vector } from './dtls-wire.js';

/** The client's side (a=setup:active): the first flight, a ClientHello. */
export function startClient(hs: DtlsHandshake, act: HandshakeActions): void {
  hs.clientRandom = random();
  hs.key = ephemeral(NamedGroup.x25519);
  sendClientHello(hs, act);
}

/** The client's side: one message from the server, in its turn. */
export function clientMessage(hs: DtlsHandshake, message: Inbound, act: HandshakeActions): void {
  switch (hs.state) {
    case 'wait-server-hello':
      if (message.msgType === HandshakeType.helloVerifyRequest) {
        // RFC 6347 §4.2.1: the ClientHello goes again with the cookie; neither counts in the transcript.
        const reader = new Reader(message.body);
        reader.u16();
        hs.cookie = Buffer.from(reader.vector(1));
        sendClientHello(hs, act);
        return;
      }
      hs.expect(message, HandshakeType.serverHello);
      hs.remember(message);
      serverHello(hs, message.body);
      hs.state = 'wait-certificate';
      return;
    case 'wait-certificate':
      hs.expect(message, HandshakeType.certificate);
      hs.acceptCertificate(message);
      hs.state = 'wait-server-key-exchange';
      return;
    case 'wait-server-key-exchange': {
      hs.expect(message, HandshakeType.serverKeyExchange);
      hs.remember(message);
      const reader = new Reader(message.body);
      if (reader.u8() !== 3) throw new DtlsError('unsupported', 'The DTLS server uses explicit curves');
      const group = reader.u16();
      if (group !== NamedGroup.x25519 && group !== NamedGroup.secp256r1) {
        throw new DtlsError('unsupported', `The DTLS server chose curve ${group}`);
      }
      hs.peerKey = Buffer.from(reader.vector(1));
      const params = message.body.subarray(0, 4 + hs.peerKey.length);
      hs.checkSignature(
        reader.rest(),
        Buffer.concat([hs.clientRandom, hs.serverRandom, params]),
        'ServerKeyExchange',
      );
      if (hs.key?.group !== group) hs.key = ephemeral(group);
      hs.state = 'wait-server-hello-done';
      return;
    }
    case 'wait-server-hello-done':
      if (message.msgType === HandshakeType.certificateRequest) {
        hs.remember(message);
        hs.certificateRequested = true;
        return;
      }
      hs.expect(message, HandshakeType.serverHelloDone);
      hs.remember(message);
      clientFinish(hs, act);
      return;
    case 'wait-finished':
      hs.acceptFinished(message, 'server finished');
      act.connect();
      return;
    default:
      throw new DtlsError('malformed', `Unexpected DTLS handshake message ${message.msgType}`);
  }
}

function sendClientHello(hs: DtlsHandshake, act: HandshakeActions): void {
  const body = clientHelloBody({
    version: DTLS_1_2,
    random: hs.clientRandom,
    cookie: hs.cookie,
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
  hs.transcript.length = 0;
  act.sendFlight([hs.handshake(HandshakeType.clientHello, body)]);
}

function serverHello(hs: DtlsHandshake, body: Buffer): void {
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
  hs.profile = chosen[0];
  hs.serverRandom = hello.random;
  hs.extendedMasterSecret = hello.extensions.has(Extension.extendedMasterSecret);
}

function clientFinish(hs: DtlsHandshake, act: HandshakeActions): void {
  const flight: Outgoing[] = [];
  if (hs.certificateRequested) {
    flight.push(hs.handshake(HandshakeType.certificate, certificateBody(hs.end.identity.certificate)));
  }
  flight.push(hs.handshake(HandshakeType.clientKeyExchange, vector(1, hs.key!.publicKey)));
  act.useKeys(hs.deriveKeys());
  if (hs.certificateRequested) {
    const signature = signEcdsa(hs.end.identity.privateKey, Buffer.concat(hs.transcript));
    flight.push(
      hs.handshake(
        HandshakeType.certificateVerify,
        Buffer.concat([u16(SignatureScheme.ecdsaSecp256r1Sha256), vector(2, signature)]),
      ),
    );
  }
  flight.push({ kind: 'change-cipher-spec' });
  flight.push(hs.finishedMessage('client finished'));
  act.sendFlight(flight);
  hs.state = 'wait-change-cipher-spec';
}
