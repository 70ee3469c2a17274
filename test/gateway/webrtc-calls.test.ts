// A browser on SIP over WebSocket and a plain-RTP phone call each other through the gateway, with media
// anchored on voxgate's relay and, with the same ng flags, on real RTPengine: the browser gets WebRTC
// (UDP/TLS/RTP/SAVPF, ICE, DTLS-SRTP, rtcp-mux) with no setting, the phone RTP/AVP, and audio flows both ways.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  answerChallenge,
  buildResponse,
  header,
  headerValues,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/index.js';
import { startGateway, HARNESS_USERS, type GatewayHarness } from '../helpers/gateway-harness.js';
import { relaySkip, startRelay, type RelayKind, type RunningRelay } from '../helpers/relays.js';
import { mPort, party, rtp, sdp as rtpSdp, until, type Party } from '../helpers/rtp-party.js';
import { SipPhone } from '../helpers/sip-phone.js';
import { WebRtcPeer } from '../helpers/webrtc-peer.js';
import { WsClient } from '../helpers/ws-sip-client.js';

const FAST = { t1: 50, t2: 400, t4: 500 };
const proto = (s: unknown) => /^m=audio \d+ (\S+)/m.exec(String(s))?.[1];

const register = (cseq: number, authorization?: string) =>
  [
    'REGISTER sip:acme.example SIP/2.0',
    `Via: SIP/2.0/WS h7kjh12jkh.invalid;branch=z9hG4bKwr${cseq}`,
    'Max-Forwards: 70',
    'From: <sip:bob@acme.example>;tag=wrb',
    'To: <sip:bob@acme.example>',
    'Call-ID: webrtc-register-1',
    `CSeq: ${cseq} REGISTER`,
    'Contact: <sip:bob@h7kjh12jkh.invalid;transport=ws>',
    'Expires: 300',
    ...(authorization ? [`Authorization: ${authorization}`] : []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

const invite = (cseq: number, body: string, authorization?: string, callId = 'webrtc-invite-1') =>
  [
    'INVITE sip:alice@acme.example SIP/2.0',
    `Via: SIP/2.0/WS h7kjh12jkh.invalid;branch=z9hG4bKwi${cseq}${callId}`,
    'Max-Forwards: 70',
    'From: <sip:bob@acme.example>;tag=wri',
    'To: <sip:alice@acme.example>',
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} INVITE`,
    'Contact: <sip:bob@h7kjh12jkh.invalid;transport=ws;ob>',
    ...(authorization ? [`Proxy-Authorization: ${authorization}`] : []),
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');

/** The ACK of a 2xx to the browser's INVITE (§13.2.2.4), over its WebSocket. */
const ack = (ok: SipResponse, callId: string) =>
  [
    'ACK sip:alice@acme.example SIP/2.0',
    'Via: SIP/2.0/WS h7kjh12jkh.invalid;branch=z9hG4bKwack',
    'Max-Forwards: 70',
    'From: <sip:bob@acme.example>;tag=wri',
    `To: <sip:alice@acme.example>;tag=${ok.toTag}`,
    `Call-ID: ${callId}`,
    'CSeq: 2 ACK',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

async function talk(browser: WebRtcPeer, phone: Party, relayForPhone: number): Promise<void> {
  for (let seq = 1; seq <= 5; seq++) browser.send(rtp(seq, 0xb0b));
  await until(() => phone.got.length >= 3, 5000);
  assert.equal(phone.got.at(-1)!.length, rtp(1, 1).length, 'the phone gets plain RTP');
  assert.equal(phone.got.at(-1)!.readUInt32BE(8), 0xb0b);
  for (let seq = 1; seq <= 5; seq++) phone.socket.send(rtp(seq, 0xa11ce), relayForPhone, '127.0.0.1');
  await until(() => browser.received.length >= 3, 5000);
  assert.equal(browser.received.at(-1)!.readUInt32BE(8), 0xa11ce);
  assert.equal(browser.rejected, 0);
}

for (const kind of ['voxgate', 'rtpengine'] as RelayKind[]) {
  describe(`WebRTC browser ↔ phone through the gateway, media on ${kind}`, { skip: relaySkip(kind) }, () => {
    let relay: RunningRelay;
    let gw: GatewayHarness;
    let bob: WsClient;
    before(async () => {
      relay = await startRelay(kind);
      gw = await startGateway({
        timers: FAST,
        ws: { port: 0 },
        relays: [{ host: '127.0.0.1', port: relay.ngPort }],
        // The media watchdog polls the relay every second: a failed handshake ends the call at the next poll.
        mediaTimeoutMs: 3000,
      });
      bob = await WsClient.open(gw.gateway.endpoint.address().ws!.port);
      bob.send(register(1));
      const challenge = await bob.next((m) => m.kind === 'response' && m.status === 401, '401');
      const answer = answerChallenge({
        challenges: headerValues(challenge, 'WWW-Authenticate'),
        method: 'REGISTER',
        uri: 'sip:acme.example',
        username: 'bob',
        password: HARNESS_USERS.bob,
      });
      bob.send(register(2, answer!.authorization));
      await bob.next((m) => m.kind === 'response' && m.status === 200, '200 to REGISTER');
    });
    after(async () => {
      bob?.socket.close();
      await gw?.close();
      await relay?.stop();
    });

    test('a phone calls the browser: the browser gets a WebRTC offer, answers active, and they talk', async () => {
      const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
      const phone = await party();
      const browser = await WebRtcPeer.create();
      try {
        const call = await alice.invite('bob', Buffer.from(rtpSdp(phone.port)));
        const offer = (await bob.next(
          (m) => m.kind === 'request' && m.method === 'INVITE',
          'INVITE',
        )) as SipRequest;
        const browserSees = offer.body.toString();
        assert.equal(proto(browserSees), 'UDP/TLS/RTP/SAVPF', browserSees);
        for (const line of [
          'a=fingerprint:sha-256 ',
          'a=setup:actpass',
          'a=ice-ufrag:',
          'a=candidate:',
          'a=rtcp-mux',
          'a=mid:',
        ]) {
          assert.ok(browserSees.includes(line), `${line} missing from the browser's offer:\n${browserSees}`);
        }
        const mid = /^a=mid:(\S+)/m.exec(browserSees)![1]!;
        bob.send(
          buildResponse(
            offer,
            200,
            'OK',
            { Contact: '<sip:bob@h7kjh12jkh.invalid;transport=ws>', 'Content-Type': 'application/sdp' },
            Buffer.from(browser.sdp('active', mid)),
            'wrbob',
          ),
        );
        const ok: SipResponse = await call.final();
        assert.equal(ok.status, 200);
        call.ack();
        const phoneSees = ok.body.toString();
        assert.equal(proto(phoneSees), 'RTP/AVP', phoneSees);
        assert.doesNotMatch(phoneSees, /a=(fingerprint|setup|ice-ufrag|candidate|crypto)/);
        // Chrome answered active: it is the DTLS client.
        await browser.connect(browserSees.replace('a=setup:actpass', 'a=setup:passive'));
        await talk(browser, phone, mPort(phoneSees));
        call.send('BYE');
      } finally {
        alice.close();
        phone.close();
        browser.close();
      }
    });

    test('the browser calls a phone: the phone gets RTP/AVP, the browser a passive DTLS answer, and they talk', async () => {
      const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
      const phone = await party();
      const browser = await WebRtcPeer.create();
      try {
        await alice.register();
        const offer = browser.sdp('actpass');
        bob.send(invite(1, offer));
        const challenge = await bob.next((m) => m.kind === 'response' && m.status === 407, '407');
        const answer = answerChallenge({
          challenges: headerValues(challenge, 'Proxy-Authenticate'),
          method: 'INVITE',
          uri: 'sip:alice@acme.example',
          username: 'bob',
          password: HARNESS_USERS.bob,
        });
        bob.send(invite(2, offer, answer!.authorization));
        const incoming = (await alice.request('INVITE')) as SipRequest;
        const phoneSees = incoming.body.toString();
        assert.equal(proto(phoneSees), 'RTP/AVP', phoneSees);
        assert.doesNotMatch(phoneSees, /a=(fingerprint|setup|ice-ufrag|candidate|crypto)/);
        alice.reply(incoming, 200, 'OK', 'wral', {}, Buffer.from(rtpSdp(phone.port)));
        const ok = await bob.next((m) => m.kind === 'response' && m.status === 200, '200 to INVITE');
        const browserSees = ok.body.toString();
        assert.match(proto(browserSees) ?? '', /SAVPF$/, browserSees);
        assert.match(browserSees, /a=setup:passive/);
        assert.match(browserSees, /a=mid:0/);
        await browser.connect(browserSees);
        await talk(browser, phone, mPort(phoneSees));
      } finally {
        alice.close();
        phone.close();
        browser.close();
      }
    });

    test(
      'a browser whose certificate is not its SDP fingerprint: the handshake fails, the call ends with the reason',
      {
        skip: kind === 'rtpengine' && "RTPengine's query does not say (its calls end at the media timeout)",
      },
      async () => {
        const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
        const phone = await party();
        const browser = await WebRtcPeer.create();
        const stranger = await WebRtcPeer.create();
        try {
          await alice.register();
          const offer = browser.sdp('actpass', '0', stranger.identity.fingerprint);
          bob.send(invite(1, offer, undefined, 'webrtc-forged-1'));
          const challenge = await bob.next(
            (m) => m.kind === 'response' && m.status === 407 && m.callId === 'webrtc-forged-1',
            '407',
          );
          const answer = answerChallenge({
            challenges: headerValues(challenge, 'Proxy-Authenticate'),
            method: 'INVITE',
            uri: 'sip:alice@acme.example',
            username: 'bob',
            password: HARNESS_USERS.bob,
          });
          bob.send(invite(2, offer, answer!.authorization, 'webrtc-forged-1'));
          const incoming = (await alice.request('INVITE')) as SipRequest;
          alice.reply(incoming, 200, 'OK', 'wrfg', {}, Buffer.from(rtpSdp(phone.port)));
          const ok = await bob.next(
            (m) => m.kind === 'response' && m.status === 200 && m.callId === 'webrtc-forged-1',
            '200',
          );
          bob.send(ack(ok as SipResponse, 'webrtc-forged-1'));
          await assert.rejects(browser.connect(ok.body.toString()), /DTLS alert 42/);
          const bye = (await alice.request('BYE', 5000)) as SipRequest;
          assert.match(header(bye, 'Reason') ?? '', /DTLS-SRTP failed/);
        } finally {
          alice.close();
          phone.close();
          browser.close();
          stranger.close();
        }
      },
    );
  });
}
