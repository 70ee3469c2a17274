// mediaEncryption (users, trunks, routes) as the gateway applies it, with the media anchored on voxgate's relay
// and on a real RTPengine: a trunk with `sdes` is offered RTP/SAVP with the relay's a=crypto keys for a plain
// caller, and the media works both ways (what the carrier gets decrypts with the key the relay offered, what it
// sends encrypted with the key it answered reaches the phone as plain RTP); a route's `sdes`/`none` overrides
// the trunk's; a callee user with `sdes` is offered RTP/SAVP on every contact; a caller (user or trunk) with
// `sdes` whose offer is plain RTP/AVP gets 488 with a Warning saying why, and the attempt is recorded; `dtls`
// likewise with DTLS-SRTP, which a callee with `dtls` is offered even on UDP.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { header, type SipRequest } from '../../src/sip/index.js';
import { offersPlainRtp } from '../../src/gateway/call-planning.js';
import { newCrypto, parseCrypto } from '../../src/media/srtp/sdes.js';
import { SrtpSession } from '../../src/media/srtp/srtp-session.js';
import { suiteNamed } from '../../src/media/srtp/srtp-suites.js';
import {
  createNumberRepository,
  createRouteRepository,
  createSipUserRepository,
  createTrunkRepository,
  type MediaEncryption,
} from '../../src/store/index.js';
import { FakeCarrier } from '../helpers/fake-carrier.js';
import {
  endedEvent,
  phoneBook,
  startGateway,
  HARNESS_USERS,
  type GatewayHarness,
} from '../helpers/gateway-harness.js';
import { relaySkip, startRelay, type RelayKind, type RunningRelay } from '../helpers/relays.js';
import { sdp as plainSdp, SipPhone } from '../helpers/sip-phone.js';
import { until } from '../helpers/rtp-party.js';
import { WebRtcPeer } from '../helpers/webrtc-peer.js';
import {
  audioOffer,
  audioPort,
  audioProtocol,
  cryptoLines,
  mediaSocket,
  randomRtp,
} from '../helpers/srtp-party.js';

const FAST = { t1: 50, t2: 400, t4: 500 };
const SUITE = suiteNamed('AES_CM_128_HMAC_SHA1_80')!;

/** The a=crypto values (after "a=crypto:") of an SDP. */
const cryptoValues = (body: Buffer) => cryptoLines(body).map((l) => l.slice('a=crypto:'.length));

for (const kind of ['voxgate', 'rtpengine'] as RelayKind[])
  describe(
    `mediaEncryption of users, trunks and routes, anchored on ${kind}`,
    { skip: relaySkip(kind) },
    () => {
      let engine: RunningRelay;
      let gw: GatewayHarness;
      let carrier: FakeCarrier;
      const ids: {
        trunks: Record<string, string>;
        routes: Record<string, string>;
        users: Record<string, string>;
      } = { trunks: {}, routes: {}, users: {} };
      const phones = phoneBook(() => gw);

      const setUser = async (name: keyof typeof HARNESS_USERS, mediaEncryption: MediaEncryption) => {
        await createSipUserRepository(gw.db).update(gw.tenantId, ids.users[name]!, { mediaEncryption });
      };

      before(async () => {
        engine = await startRelay(kind);
        gw = await startGateway({ timers: FAST, relays: [{ host: '127.0.0.1', port: engine.ngPort }] });
        carrier = await FakeCarrier.open(gw.port, '127.0.0.2');
        const trunks = createTrunkRepository(gw.db);
        const routes = createRouteRepository(gw.db);
        // Three trunks to the same carrier: one asks for SDES-SRTP (and is the one its calls come from), two
        // leave it to their routes.
        const secure = await trunks.create({
          tenantId: gw.tenantId,
          name: 'secure',
          host: '127.0.0.2',
          port: carrier.port,
          inboundCidrs: ['127.0.0.2/32'],
          mediaEncryption: 'sdes',
        });
        const plain = await trunks.create({
          tenantId: gw.tenantId,
          name: 'plain',
          host: '127.0.0.2',
          port: carrier.port,
        });
        ids.trunks = { secure: secure.id, plain: plain.id };
        // 1…: the secure trunk as it says; 2…: a route requiring SRTP over a plain trunk; 3…: a route forcing
        // plain RTP over the secure trunk.
        for (const [name, pattern, trunkId, mediaEncryption] of [
          ['to-secure', '1\\d{6,14}', secure.id, 'auto'],
          ['route-sdes', '2\\d{6,14}', plain.id, 'sdes'],
          ['route-none', '3\\d{6,14}', secure.id, 'none'],
        ] as const) {
          const route = await routes.create({
            tenantId: gw.tenantId,
            name,
            pattern,
            trunkIds: [trunkId],
            mediaEncryption,
          });
          ids.routes[name] = route.id;
        }
        for (const user of await createSipUserRepository(gw.db).list(gw.tenantId, { limit: 10 }))
          ids.users[user.username] = user.id;
        await createNumberRepository(gw.db).create({
          tenantId: gw.tenantId,
          e164: '+442079460001',
          userId: ids.users.bob!,
        });
      });
      afterEach(async () => {
        await phones.reset();
        for (const name of Object.keys(HARNESS_USERS) as (keyof typeof HARNESS_USERS)[])
          await setUser(name, 'auto');
      });
      after(async () => {
        carrier?.close();
        await gw?.close();
        await engine?.stop();
      });

      test('a trunk with sdes: a plain caller’s call reaches it as RTP/SAVP with the relay’s keys; media both ways', async () => {
        const alice = await phones.phone('alice');
        const phoneMedia = await mediaSocket();
        const carrierMedia = await mediaSocket();
        try {
          const call = await alice.invite('14420794600', plainSdp(phoneMedia.port));
          const invite = await carrier.next('INVITE');
          assert.equal(audioProtocol(invite.body), 'RTP/SAVP', 'the carrier is offered SRTP');
          const offered = cryptoValues(invite.body).map((l) => parseCrypto(l));
          const chosen = offered.find((c) => c?.suite === SUITE);
          assert.ok(
            chosen,
            `an AES_CM_128_HMAC_SHA1_80 key among ${JSON.stringify(cryptoValues(invite.body))}`,
          );
          // §6.1: the carrier answers the tag it accepts with a key of its own.
          const carrierKey = newCrypto(chosen.tag, SUITE);
          carrier.reply(invite, 200, {
            body: audioOffer(carrierMedia.port, 'RTP/SAVP', [carrierKey]),
            toTag: 'secure1',
          });
          const ok = await call.final();
          assert.equal(ok.status, 200);
          call.ack();
          assert.equal(audioProtocol(ok.body), 'RTP/AVP', 'the phone keeps plain RTP');
          assert.deepEqual(cryptoValues(ok.body), [], 'no key goes to the plain phone');

          const carrierRx = new SrtpSession(SUITE, chosen.key, chosen.salt);
          const carrierTx = new SrtpSession(SUITE, carrierKey.key, carrierKey.salt);
          const sentByPhone: Buffer[] = [];
          const sentByCarrier: Buffer[] = [];
          for (let seq = 1; seq <= 20; seq++) {
            const a = randomRtp(seq, 0xa1);
            const b = randomRtp(seq, 0xb2);
            sentByPhone.push(a);
            sentByCarrier.push(b);
            phoneMedia.socket.send(a, audioPort(ok.body), '127.0.0.1');
            carrierMedia.socket.send(carrierTx.protectRtp(b)!, audioPort(invite.body), '127.0.0.1');
            await new Promise((r) => setTimeout(r, 5));
          }
          await until(() => carrierMedia.got.length >= 15 && phoneMedia.got.length >= 15, 5000);
          const decrypted = carrierMedia.got.map((p) => carrierRx.unprotectRtp(p));
          assert.ok(
            decrypted.every((d) => d.ok),
            'everything the carrier gets authenticates with the key the relay offered it',
          );
          const opened = new Set(
            decrypted.flatMap((d) => (d.ok ? [d.packet.subarray(12).toString('hex')] : [])),
          );
          assert.ok(
            sentByPhone.filter((p) => opened.has(p.subarray(12).toString('hex'))).length >= 15,
            'the phone’s RTP arrives at the carrier encrypted',
          );
          const plainAtPhone = new Set(phoneMedia.got.map((p) => p.subarray(12).toString('hex')));
          assert.ok(
            sentByCarrier.filter((p) => plainAtPhone.has(p.subarray(12).toString('hex'))).length >= 15,
            'the carrier’s SRTP arrives at the phone decrypted',
          );
          call.send('BYE');
          carrier.reply(await carrier.next('BYE'), 200);
        } finally {
          phoneMedia.socket.close();
          carrierMedia.socket.close();
        }
      });

      test('a route with sdes requires SRTP of a plain trunk; a route with none keeps a secure trunk plain', async () => {
        const alice = await phones.phone('alice');
        for (const [number, expected] of [
          ['24420794600', 'RTP/SAVP'],
          ['34420794600', 'RTP/AVP'],
        ] as const) {
          const call = await alice.invite(number, plainSdp(41000));
          const invite = await carrier.next('INVITE');
          assert.equal(audioProtocol(invite.body), expected, number);
          assert.equal(
            cryptoValues(invite.body).length > 0,
            expected === 'RTP/SAVP',
            `${number}: keys offered`,
          );
          carrier.reply(invite, 486);
          assert.equal((await call.final()).status, 486);
          call.ack();
        }
      });

      test('a callee user with sdes: every contact is offered RTP/SAVP; the plain caller keeps RTP/AVP', async () => {
        await setUser('bob', 'sdes');
        const alice = await phones.phone('alice');
        const bob1 = await phones.phone('bob');
        const bob2 = phones.track(await SipPhone.open('bob', HARNESS_USERS.bob, gw.port));
        assert.equal((await bob2.register()).status, 200);
        const call = await alice.invite('bob', plainSdp(41002));
        const invites = [
          (await bob1.request('INVITE')) as SipRequest,
          (await bob2.request('INVITE')) as SipRequest,
        ];
        for (const invite of invites) {
          assert.equal(audioProtocol(invite.body), 'RTP/SAVP', 'each fork is offered SRTP');
          assert.ok(cryptoValues(invite.body).some((l) => parseCrypto(l)?.suite === SUITE));
        }
        const first = invites[0]!;
        const chosen = cryptoValues(first.body)
          .map((l) => parseCrypto(l))
          .find((c) => c?.suite === SUITE)!;
        bob1.reply(
          first,
          200,
          'OK',
          'bob1',
          {},
          audioOffer(41004, 'RTP/SAVP', [newCrypto(chosen.tag, SUITE)]),
        );
        const ok = await call.final();
        assert.equal(ok.status, 200);
        call.ack();
        assert.equal(audioProtocol(ok.body), 'RTP/AVP');
        assert.deepEqual(cryptoValues(ok.body), []);
        call.send('BYE');
        const bye = (await bob1.request('BYE')) as SipRequest;
        bob1.reply(bye, 200, 'OK', 'bob1');
      });

      test('a callee user with none or auto is offered plain RTP/AVP, even by an SRTP caller', async () => {
        await setUser('bob', 'none');
        const alice = await phones.phone('alice');
        const bob = await phones.phone('bob');
        const call = await alice.invite('bob', audioOffer(41006, 'RTP/SAVP', [newCrypto(1, SUITE)]));
        const invite = (await bob.request('INVITE')) as SipRequest;
        assert.equal(audioProtocol(invite.body), 'RTP/AVP');
        assert.deepEqual(cryptoValues(invite.body), []);
        bob.reply(invite, 486, 'Busy Here', 'bob1');
        assert.equal((await call.final()).status, 486);
        call.ack();
      });

      test('a caller user with sdes: a plain offer gets 488 with a Warning and is recorded; an SRTP offer goes on', async () => {
        await setUser('alice', 'sdes');
        const alice = await phones.phone('alice');
        const bob = await phones.phone('bob');
        const invites = (messages: readonly { kind: string; method?: string }[]) =>
          messages.filter((m) => m.kind === 'request' && m.method === 'INVITE').length;
        const carrierBefore = invites(carrier.received);
        for (const dialled of ['bob', '14420794600']) {
          const refused = await alice.invite(dialled, plainSdp(41008));
          const final = await refused.final();
          assert.equal(final.status, 488, dialled);
          assert.match(header(final, 'Warning') ?? '', /^399 \S+ ".*SRTP.*RTP\/AVP.*"$/, dialled);
          refused.ack();
          const ended = await endedEvent(
            gw,
            `refused-${kind}-${dialled}`,
            (e) => e.callId === refused.callId,
          );
          assert.equal(ended.refused, true);
          assert.equal(ended.sipCode, 488);
          assert.equal(ended.reason, 'SRTP required');
        }
        assert.equal(invites(carrier.received), carrierBefore, 'no INVITE reached the carrier');
        assert.equal(invites(bob.received), 0, 'nor bob');

        const call = await alice.invite('bob', audioOffer(41010, 'RTP/SAVP', [newCrypto(1, SUITE)]));
        const invite = (await bob.request('INVITE')) as SipRequest;
        assert.equal(audioProtocol(invite.body), 'RTP/AVP', 'bob (auto) gets plain RTP; the relay bridges');
        bob.reply(invite, 486, 'Busy Here', 'bob1');
        assert.equal((await call.final()).status, 486);
        call.ack();
      });

      test('a callee user with dtls on UDP is offered DTLS-SRTP (UDP/TLS/RTP/SAVPF, fingerprint, ICE, rtcp-mux)', async () => {
        await setUser('bob', 'dtls');
        const alice = await phones.phone('alice');
        const bob = await phones.phone('bob');
        const call = await alice.invite('bob', plainSdp(41020));
        const invite = (await bob.request('INVITE')) as SipRequest;
        const offer = invite.body.toString();
        assert.equal(audioProtocol(invite.body), 'UDP/TLS/RTP/SAVPF', offer);
        for (const line of ['a=fingerprint:sha-256 ', 'a=setup:actpass', 'a=ice-ufrag:', 'a=rtcp-mux']) {
          assert.ok(offer.includes(line), `${line} missing:\n${offer}`);
        }
        assert.deepEqual(cryptoValues(invite.body), []);
        bob.reply(invite, 486, 'Busy Here', 'bob1');
        assert.equal((await call.final()).status, 486);
        call.ack();
      });

      test('a caller user with dtls: a plain or SDES offer gets 488 with a Warning, recorded; a DTLS offer goes on', async () => {
        await setUser('alice', 'dtls');
        const alice = await phones.phone('alice');
        const bob = await phones.phone('bob');
        for (const [label, offer] of [
          ['plain', plainSdp(41022)],
          ['sdes', audioOffer(41024, 'RTP/SAVP', [newCrypto(1, SUITE)])],
        ] as const) {
          const refused = await alice.invite('bob', offer);
          const final = await refused.final();
          assert.equal(final.status, 488, label);
          assert.match(header(final, 'Warning') ?? '', /^399 \S+ ".*DTLS-SRTP.*"$/, label);
          refused.ack();
          const ended = await endedEvent(
            gw,
            `dtls-refused-${kind}-${label}`,
            (e) => e.callId === refused.callId,
          );
          assert.equal(ended.reason, 'DTLS-SRTP required');
        }
        const browser = await WebRtcPeer.create();
        try {
          const call = await alice.invite('bob', Buffer.from(browser.sdp('actpass')));
          const invite = (await bob.request('INVITE')) as SipRequest;
          assert.equal(
            audioProtocol(invite.body),
            'RTP/AVP',
            'bob (auto) gets plain RTP; the relay ends DTLS',
          );
          bob.reply(invite, 486, 'Busy Here', 'bob1');
          assert.equal((await call.final()).status, 486);
          call.ack();
        } finally {
          browser.close();
        }
      });

      test('a trunk with sdes calling in: a plain offer gets 488; an SRTP offer rings the DID’s user', async () => {
        const bob = await phones.phone('bob');
        const refused = carrier.invite('+442079460001', { body: audioOffer(41012, 'RTP/AVP') });
        const final = await refused.response(488);
        assert.match(header(final, 'Warning') ?? '', /SRTP/);

        carrier.invite('+442079460001', { body: audioOffer(41014, 'RTP/SAVP', [newCrypto(1, SUITE)]) });
        const invite = (await bob.request('INVITE')) as SipRequest;
        assert.equal(audioProtocol(invite.body), 'RTP/AVP', 'bob (auto) gets plain RTP');
        bob.reply(invite, 486, 'Busy Here', 'bob1');
      });
    },
  );

describe('offersPlainRtp: what a caller with sdes may not offer', () => {
  const sdpOf = (...media: string[]) =>
    Buffer.from(
      ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', ...media, ''].join('\r\n'),
    );
  test('an RTP/AVP or RTP/AVPF stream in use is plain; SAVP, a disabled stream, no body or no SDP is not', () => {
    assert.equal(offersPlainRtp(sdpOf('m=audio 4000 RTP/AVP 0')), true);
    assert.equal(offersPlainRtp(sdpOf('m=audio 4000 RTP/AVPF 0')), true);
    assert.equal(
      offersPlainRtp(sdpOf('m=audio 4000 RTP/SAVP 0', 'm=video 4002 RTP/AVP 96')),
      true,
      'any stream',
    );
    assert.equal(offersPlainRtp(sdpOf('m=audio 4000 RTP/SAVP 0')), false);
    assert.equal(offersPlainRtp(sdpOf('m=audio 4000 UDP/TLS/RTP/SAVPF 111')), false);
    assert.equal(offersPlainRtp(sdpOf('m=audio 4000 RTP/SAVP 0', 'm=video 0 RTP/AVP 96')), false, 'disabled');
    assert.equal(offersPlainRtp(Buffer.alloc(0)), false, 'a late offer');
    assert.equal(offersPlainRtp(Buffer.from('not an SDP')), false);
  });
});
