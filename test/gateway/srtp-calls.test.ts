// An SRTP phone (RTP/SAVP, SDES a=crypto) calls out through a carrier that speaks plain RTP, with the media
// anchored on voxgate's relay and on a real RTPengine driven with the same ng flags: the carrier gets RTP/AVP
// with no key in it, the phone gets RTP/SAVP with one a=crypto line answering its tag; the phone's SRTP
// reaches the carrier as plain RTP and the carrier's RTP reaches the phone encrypted with the key the phone
// was given (RFC 4568 §6.1).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseCrypto } from '../../src/media/srtp/sdes.js';
import { SrtpSession } from '../../src/media/srtp/srtp-session.js';
import { suiteNamed } from '../../src/media/srtp/srtp-suites.js';
import { createRouteRepository, createTrunkRepository } from '../../src/store/index.js';
import { FakeCarrier } from '../helpers/fake-carrier.js';
import { startGateway, HARNESS_USERS, type GatewayHarness } from '../helpers/gateway-harness.js';
import { relaySkip, startRelay, type RelayKind, type RunningRelay } from '../helpers/relays.js';
import { sdp as plainSdp, SipPhone } from '../helpers/sip-phone.js';
import { until } from '../helpers/rtp-party.js';
import { audioOffer, audioPort, cryptoLines, mediaSocket, randomRtp } from '../helpers/srtp-party.js';

const FAST = { t1: 50, t2: 400, t4: 500 };
const SUITE = suiteNamed('AES_CM_128_HMAC_SHA1_80')!;

/** The phone's SRTP offer: one a=crypto line, tag 3, with the phone's key and salt. */
function savpOffer(port: number, keySalt: Buffer): Buffer {
  return audioOffer(port, 'RTP/SAVP', [
    { tag: 3, suiteName: SUITE.name, suite: SUITE, key: keySalt.subarray(0, 16), salt: keySalt.subarray(16) },
  ]);
}

for (const kind of ['voxgate', 'rtpengine'] as RelayKind[])
  describe(`SRTP phone to a plain-RTP carrier, anchored on ${kind}`, { skip: relaySkip(kind) }, () => {
    let engine: RunningRelay;
    let gw: GatewayHarness;
    let carrier: FakeCarrier;
    before(async () => {
      engine = await startRelay(kind);
      gw = await startGateway({ timers: FAST, relays: [{ host: '127.0.0.1', port: engine.ngPort }] });
      carrier = await FakeCarrier.open(gw.port, '127.0.0.2');
      const trunk = await createTrunkRepository(gw.db).create({
        tenantId: gw.tenantId,
        name: 'plain-carrier',
        host: '127.0.0.2',
        port: carrier.port,
      });
      await createRouteRepository(gw.db).create({
        tenantId: gw.tenantId,
        name: 'all',
        pattern: '\\+?\\d{6,15}',
        trunkIds: [trunk.id],
      });
    });
    after(async () => {
      carrier?.close();
      await gw?.close();
      await engine?.stop();
    });

    test('the carrier gets plain RTP/AVP, the phone SRTP with a key of the relay; media both ways', async () => {
      const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
      const phoneMedia = await mediaSocket();
      const carrierMedia = await mediaSocket();
      try {
        await alice.register();
        const phoneKey = randomBytes(30);
        const call = await alice.invite('+4420794600', savpOffer(phoneMedia.port, phoneKey));
        const invite = await carrier.next('INVITE');
        assert.match(
          invite.body.toString('latin1'),
          /^m=audio \d+ RTP\/AVP /m,
          'the carrier is offered plain RTP',
        );
        assert.deepEqual(cryptoLines(invite.body), [], 'no key goes to the carrier');
        carrier.reply(invite, 200, { body: plainSdp(carrierMedia.port), toTag: 'plain1' });
        const ok = await call.final();
        assert.equal(ok.status, 200);
        call.ack();
        assert.match(
          ok.body.toString('latin1'),
          /^m=audio \d+ RTP\/SAVP /m,
          'the phone keeps its SRTP profile',
        );
        const lines = cryptoLines(ok.body);
        assert.equal(lines.length, 1, 'one a=crypto line answers the offer');
        const answered = parseCrypto(lines[0]!.slice('a=crypto:'.length));
        assert.equal(answered?.tag, 3, 'the tag of the phone’s line is echoed');
        assert.ok(
          answered && !Buffer.concat([answered.key, answered.salt]).equals(phoneKey),
          'a key of the relay',
        );

        const phoneTx = new SrtpSession(SUITE, phoneKey.subarray(0, 16), phoneKey.subarray(16));
        const phoneRx = new SrtpSession(SUITE, answered.key, answered.salt);
        const sentByPhone: Buffer[] = [];
        const sentByCarrier: Buffer[] = [];
        for (let seq = 1; seq <= 20; seq++) {
          const a = randomRtp(seq, 0xa1);
          const b = randomRtp(seq, 0xb2);
          sentByPhone.push(a);
          sentByCarrier.push(b);
          phoneMedia.socket.send(phoneTx.protectRtp(a)!, audioPort(ok.body), '127.0.0.1');
          carrierMedia.socket.send(b, audioPort(invite.body), '127.0.0.1');
          await new Promise((r) => setTimeout(r, 5));
        }
        await until(() => carrierMedia.got.length >= 15 && phoneMedia.got.length >= 15, 5000);
        const plainAtCarrier = new Set(carrierMedia.got.map((p) => p.toString('hex')));
        assert.ok(
          sentByPhone.filter((p) => plainAtCarrier.has(p.toString('hex'))).length >= 15,
          'the phone’s SRTP arrives at the carrier decrypted, byte for byte',
        );
        const decrypted = phoneMedia.got.map((p) => phoneRx.unprotectRtp(p));
        assert.ok(
          decrypted.every((d) => d.ok),
          'everything the phone gets authenticates with its key',
        );
        const opened = new Set(
          decrypted.flatMap((d) => (d.ok ? [d.packet.subarray(12).toString('hex')] : [])),
        );
        assert.ok(sentByCarrier.filter((p) => opened.has(p.subarray(12).toString('hex'))).length >= 15);
        call.send('BYE');
        carrier.reply(await carrier.next('BYE'), 200);
      } finally {
        alice.close();
        phoneMedia.socket.close();
        carrierMedia.socket.close();
      }
    });
  });
