// ICE-lite in voxgate's media relay (RFC 8445 §2.5, RFC 8839): the SDP rewrite that gives a party the relay's
// credentials and host candidates, and over real UDP a party's connectivity checks answered with a verified
// response, refused with a wrong password, and the media that flows once a check latched the pair.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  createMediaRelay,
  createNgClient,
  createNgControlServer,
  offeredStreams,
  rewriteSdp,
  type MediaRelay,
  type NgClient,
  type NgControlServer,
  type RelaySockets,
} from '../../src/media/index.js';
import { relaySocketKinds } from '../helpers/relay-sockets.js';
import {
  ATTR,
  attribute,
  bindingRequest,
  decodeErrorCode,
  decodeXorMappedAddress,
  parseStun,
  serializeStun,
  BINDING,
  shortTermKey,
  verifyFingerprint,
  verifyMessageIntegrity,
  type StunMessage,
} from '../../src/media/stun/index.js';
import { Registry } from '../../src/observability/index.js';
import { collectMediaMetrics } from '../../src/platform/media-metrics.js';
import { relaySkip, startRelay as startAnyRelay } from '../helpers/relays.js';
import { mPort, party, rtcpRr, rtp, sdp, until, type Party } from '../helpers/rtp-party.js';

/** The relay's ICE as the SDP a party received says it. */
function iceOf(text: unknown) {
  const s = String(text);
  return {
    lite: /^a=ice-lite\r$/m.test(s),
    ufrag: /^a=ice-ufrag:(\S+)\r$/m.exec(s)?.[1],
    pwd: /^a=ice-pwd:(\S+)\r$/m.exec(s)?.[1],
    candidates: [...s.matchAll(/^a=candidate:(.*)\r$/gm)].map((m) => m[1]!),
    end: /^a=end-of-candidates\r$/m.test(s),
  };
}

const PARTY_ICE = ['a=ice-ufrag:PaRtY', 'a=ice-pwd:partypasswordpartypassword'];

describe('ICE-lite SDP rewrite', () => {
  const offer = sdp(4000, [
    'a=ice-options:trickle',
    ...PARTY_ICE,
    'a=candidate:842163049 1 udp 1677729535 203.0.113.9 61000 typ srflx raddr 10.0.0.5 rport 4000',
    'a=end-of-candidates',
  ]);

  test("offeredStreams reads the party's credentials, media-level over session-level", () => {
    assert.deepEqual(offeredStreams(offer)[0]!.ice, { ufrag: 'PaRtY', pwd: 'partypasswordpartypassword' });
    const sessionLevel = sdp(4000).replace(
      't=0 0\r\n',
      't=0 0\r\na=ice-ufrag:sess\r\na=ice-pwd:sessionpasswordsessionpw\r\n',
    );
    assert.deepEqual(offeredStreams(sessionLevel)[0]!.ice, {
      ufrag: 'sess',
      pwd: 'sessionpasswordsessionpw',
    });
    assert.equal(offeredStreams(sdp(4000, ['a=ice-ufrag:only']))[0]!.ice, undefined);
  });

  test("the party's ICE goes; a=ice-lite, the relay's credentials and a host candidate per component come", () => {
    const out = rewriteSdp(offer, {
      address: '192.0.2.10',
      ports: [30000],
      replaceOrigin: false,
      removeIce: false,
      ice: [{ ufrag: 'RLY1', pwd: 'relaypasswordrelaypasswd' }],
    });
    const ice = iceOf(out);
    assert.ok(ice.lite);
    assert.equal(ice.ufrag, 'RLY1');
    assert.equal(ice.pwd, 'relaypasswordrelaypasswd');
    assert.deepEqual(ice.candidates, [
      '1 1 UDP 2130706431 192.0.2.10 30000 typ host',
      '1 2 UDP 2130706430 192.0.2.10 30001 typ host',
    ]);
    assert.ok(ice.end);
    assert.doesNotMatch(out, /PaRtY|203\.0\.113\.9|ice-options/);
    // a=ice-lite is a session attribute, before the first m= line.
    assert.ok(out.indexOf('a=ice-lite') < out.indexOf('m=audio'));
    assert.equal(out.match(/a=end-of-candidates/g)!.length, 1);
  });

  test('with rtcp-mux only component 1; IPv6; a disabled section gets nothing', () => {
    const two = sdp(4000, ['a=rtcp-mux', ...PARTY_ICE]) + 'm=video 0 RTP/AVP 96\r\n';
    const out = rewriteSdp(two, {
      address: '2001:db8::10',
      ports: [30000, undefined],
      replaceOrigin: false,
      removeIce: false,
      ice: [{ ufrag: 'RLY2', pwd: 'relaypasswordrelaypasswd' }, undefined],
    });
    assert.deepEqual(iceOf(out).candidates, ['1 1 UDP 2130706431 2001:db8::10 30000 typ host']);
    assert.doesNotMatch(out.slice(out.indexOf('m=video')), /a=ice|a=candidate/);
  });

  test('removeIce without ice strips everything, as before', () => {
    const out = rewriteSdp(offer, {
      address: '192.0.2.10',
      ports: [30000],
      replaceOrigin: false,
      removeIce: true,
    });
    assert.doesNotMatch(out, /a=ice|a=candidate|a=end-of-candidates/);
  });
});

interface Relay {
  relay: MediaRelay;
  server: NgControlServer;
  ng: NgClient;
}

async function startRelay(sockets?: RelaySockets): Promise<Relay> {
  const portMin = 45000 + 2 * Math.floor(Math.random() * 4000);
  const relay = createMediaRelay({
    bindHost: '127.0.0.1',
    advertised: '127.0.0.1',
    portMin,
    portMax: portMin + 99,
    timeoutMs: 0,
    sockets,
  });
  const server = await createNgControlServer({ host: '127.0.0.1', port: 0, handlers: relay.handlers });
  const ng = createNgClient({ host: '127.0.0.1', port: server.address().port, timeoutMs: 1000, retries: 1 });
  return { relay, server, ng };
}

const isStun = (m: Buffer) => m.length >= 20 && m[0]! < 4;

/** Sends a check from `from` to `port` and returns the relay's answer. */
async function check(
  p: Party,
  port: number,
  username: string,
  password: string,
  options: { rtcp?: boolean; useCandidate?: boolean; controlled?: boolean } = {},
): Promise<StunMessage> {
  const socket = options.rtcp ? p.rtcp : p.socket;
  const transactionId = randomBytes(12);
  const request = bindingRequest({
    transactionId,
    username,
    key: shortTermKey(password),
    priority: 1853824767,
    ...(options.controlled
      ? { controlled: 0x1234567890abcdefn }
      : { useCandidate: options.useCandidate ?? true, controlling: 0x1234567890abcdefn }),
  })!;
  const answer = new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no STUN answer')), 2000);
    const onMessage = (m: Buffer) => {
      if (!isStun(m) || !m.subarray(8, 20).equals(transactionId)) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(m);
    };
    socket.on('message', onMessage);
  });
  socket.send(request, port, '127.0.0.1');
  const parsed = parseStun(await answer);
  assert.ok(parsed.ok);
  return parsed.value;
}

for (const sockets of relaySocketKinds()) {
  describe(`ICE-lite in voxgate's relay (real UDP) (${sockets.kind} sockets)`, () => {
    let r: Relay;
    const parties: Party[] = [];
    const newParty = async () => {
      const p = await party();
      parties.push(p);
      return p;
    };
    const registry = new Registry();
    let stopMetrics: () => void;
    before(async () => {
      r = await startRelay(sockets);
      stopMetrics = collectMediaMetrics(registry, () => r.relay);
    });
    after(async () => {
      stopMetrics();
      for (const p of parties) p.close();
      await r.ng.close();
      await r.server.close();
      await r.relay.close();
    });

    test('ICE: force — a check with the right credentials is answered (integrity, fingerprint, mapped address), a wrong password gets 401 and is counted, RTP flows once checked', async () => {
      const a = await newParty();
      const b = await newParty();
      const offer = await r.ng.request('offer', {
        'call-id': 'ice-1',
        'from-tag': 'ta',
        sdp: sdp(a.port),
        ICE: 'force',
      });
      const toB = iceOf(offer.sdp);
      const relayForB = mPort(offer.sdp);
      assert.ok(toB.lite && toB.ufrag && toB.pwd && toB.end);
      assert.ok(toB.ufrag.length >= 4 && toB.pwd.length >= 22);
      assert.deepEqual(toB.candidates, [
        `1 1 UDP 2130706431 127.0.0.1 ${relayForB} typ host`,
        `1 2 UDP 2130706430 127.0.0.1 ${relayForB + 1} typ host`,
      ]);
      const answer = await r.ng.request('answer', {
        'call-id': 'ice-1',
        'from-tag': 'ta',
        'to-tag': 'tb',
        sdp: sdp(b.port, PARTY_ICE),
        ICE: 'force',
      });
      // a offered no ICE: its answer gets none (RFC 8839: no ICE in an answer to an offer without it).
      assert.doesNotMatch(String(answer.sdp), /a=ice|a=candidate/);
      const relayForA = mPort(answer.sdp);

      // Before any check, media is not sent to b (consent, RFC 7675): the SDP's address is not used.
      a.socket.send(rtp(1, 0xa), relayForA, '127.0.0.1');
      await new Promise((res) => setTimeout(res, 100));
      assert.equal(b.got.filter((m) => !isStun(m)).length, 0);

      const refusedBefore = r.relay.counters.stunDropped.auth;
      const wrong = await check(b, relayForB, `${toB.ufrag}:PaRtY`, 'not-the-relay-password-at-all');
      assert.equal(wrong.class, 'error');
      const code = decodeErrorCode(attribute(wrong, ATTR.ERROR_CODE)!.value);
      assert.deepEqual(code.ok && code.value.code, 401);
      assert.equal(attribute(wrong, ATTR.MESSAGE_INTEGRITY), undefined);
      assert.ok(verifyFingerprint(wrong).ok);
      const wrongUser = await check(b, relayForB, `nope:PaRtY`, toB.pwd);
      assert.equal(wrongUser.class, 'error');
      const wrongRemote = await check(b, relayForB, `${toB.ufrag}:other`, toB.pwd);
      assert.equal(wrongRemote.class, 'error');
      assert.equal(r.relay.counters.stunDropped.auth, refusedBefore + 3);
      // Refused checks latch nothing.
      a.socket.send(rtp(2, 0xa), relayForA, '127.0.0.1');
      await new Promise((res) => setTimeout(res, 100));
      assert.equal(b.got.filter((m) => !isStun(m)).length, 0);

      const ok = await check(b, relayForB, `${toB.ufrag}:PaRtY`, toB.pwd);
      assert.equal(ok.class, 'success');
      assert.equal(ok.method, BINDING);
      assert.deepEqual(
        ok.attributes.map((x) => x.type),
        [ATTR.XOR_MAPPED_ADDRESS, ATTR.MESSAGE_INTEGRITY, ATTR.FINGERPRINT],
      );
      assert.ok(verifyMessageIntegrity(ok, shortTermKey(toB.pwd)).ok);
      assert.ok(verifyFingerprint(ok).ok);
      assert.deepEqual(
        decodeXorMappedAddress(attribute(ok, ATTR.XOR_MAPPED_ADDRESS)!.value, ok.transactionId),
        {
          ok: true,
          value: { family: 'IPv4', address: '127.0.0.1', port: b.port },
        },
      );
      // RTCP's component (no rtcp-mux) is checked on the next port.
      const rtcpOk = await check(b, relayForB + 1, `${toB.ufrag}:PaRtY`, toB.pwd, { rtcp: true });
      assert.equal(rtcpOk.class, 'success');

      for (let seq = 3; seq <= 12; seq++) {
        a.socket.send(rtp(seq, 0xa), relayForA, '127.0.0.1');
        b.socket.send(rtp(100 + seq, 0xb), relayForB, '127.0.0.1');
      }
      a.rtcp.send(rtcpRr(0xa), relayForA + 1, '127.0.0.1');
      await until(
        () => b.got.filter((m) => !isStun(m)).length === 10 && a.got.length === 10 && b.gotRtcp.length >= 1,
      );
      assert.equal(b.got.filter((m) => !isStun(m))[0]!.readUInt32BE(8), 0xa);
      assert.equal(a.got[0]!.readUInt32BE(8), 0xb);
      assert.ok(r.relay.counters.stunAnswered >= 2);
      const metrics = await registry.metrics();
      assert.match(metrics, /^voxgate_media_stun_dropped_total\{reason="auth"\} 3$/m);
      assert.match(metrics, /^voxgate_media_stun_answered_total 2$/m);
      assert.match(metrics, /^voxgate_media_dtls_dropped_total 0$/m);
    });

    test('a party that offers ICE gets ICE-lite in the answer (no ICE key); credentials kept across a re-offer; DTLS dropped and counted; malformed STUN dropped', async () => {
      const a = await newParty();
      const b = await newParty();
      const offer = await r.ng.request('offer', {
        'call-id': 'ice-2',
        'from-tag': 'ta',
        sdp: sdp(a.port, ['a=rtcp-mux', ...PARTY_ICE]),
      });
      const toB = iceOf(offer.sdp);
      assert.ok(toB.lite, 'the receiver of an offer with ICE gets the relay as its candidate');
      assert.doesNotMatch(String(offer.sdp), /PaRtY/);
      const answer = await r.ng.request('answer', {
        'call-id': 'ice-2',
        'from-tag': 'ta',
        'to-tag': 'tb',
        sdp: sdp(b.port, ['a=rtcp-mux']),
      });
      const toA = iceOf(answer.sdp);
      assert.ok(toA.lite && toA.ufrag && toA.pwd);
      assert.notEqual(toA.ufrag, toB.ufrag);
      const relayForA = mPort(answer.sdp);
      assert.deepEqual(
        toA.candidates,
        [`1 1 UDP 2130706431 127.0.0.1 ${relayForA} typ host`],
        'rtcp-mux: one',
      );

      const ok = await check(a, relayForA, `${toA.ufrag}:PaRtY`, toA.pwd!);
      assert.equal(ok.class, 'success');
      assert.ok(verifyMessageIntegrity(ok, shortTermKey(toA.pwd!)).ok);
      // b does no ICE: it gets media at its SDP's address as before; a gets it where its check came from.
      for (let seq = 1; seq <= 5; seq++) {
        a.socket.send(rtp(seq, 0xa), relayForA, '127.0.0.1');
        b.socket.send(rtp(50 + seq, 0xb), mPort(offer.sdp), '127.0.0.1');
      }
      await until(() => b.got.length === 5 && a.got.filter((m) => !isStun(m)).length === 5);

      const reoffer = await r.ng.request('offer', {
        'call-id': 'ice-2',
        'from-tag': 'ta',
        sdp: sdp(a.port, ['a=rtcp-mux', ...PARTY_ICE]),
      });
      const reanswer = await r.ng.request('answer', {
        'call-id': 'ice-2',
        'from-tag': 'ta',
        'to-tag': 'tb',
        sdp: sdp(b.port, ['a=rtcp-mux']),
      });
      assert.equal(iceOf(reoffer.sdp).ufrag, toB.ufrag);
      assert.equal(iceOf(reanswer.sdp).ufrag, toA.ufrag);
      assert.equal(iceOf(reanswer.sdp).pwd, toA.pwd);
      // The checked pair stays selected across the re-offer: media still reaches a.
      a.got.length = 0;
      b.socket.send(rtp(60, 0xb), mPort(offer.sdp), '127.0.0.1');
      await until(() => a.got.filter((m) => !isStun(m)).length === 1);

      const dtlsBefore = r.relay.counters.dtlsDropped;
      const malformedBefore = r.relay.counters.stunDropped.malformed;
      const bGot = b.got.length;
      a.socket.send(Buffer.from([22, 0xfe, 0xfd, ...Buffer.alloc(40)]), relayForA, '127.0.0.1'); // a DTLS record
      a.socket.send(Buffer.from([0, 1, 0, 0, 1, 2, 3, 4, ...Buffer.alloc(12)]), relayForA, '127.0.0.1'); // bad cookie
      const badFingerprint = serializeStun({
        method: BINDING,
        class: 'request',
        transactionId: randomBytes(12),
        attributes: [{ type: ATTR.FINGERPRINT, value: Buffer.alloc(4) }],
      });
      a.socket.send(badFingerprint, relayForA, '127.0.0.1');
      await until(
        () =>
          r.relay.counters.dtlsDropped === dtlsBefore + 1 &&
          r.relay.counters.stunDropped.malformed === malformedBefore + 2,
      );
      assert.equal(b.got.length, bGot, 'nothing of it reached b');

      const removed = await r.ng.request('offer', {
        'call-id': 'ice-2',
        'from-tag': 'ta',
        sdp: sdp(a.port, ['a=rtcp-mux', ...PARTY_ICE]),
        ICE: 'remove',
      });
      assert.doesNotMatch(String(removed.sdp), /a=ice|a=candidate|a=end-of-candidates/);
      await r.ng.request('delete', { 'call-id': 'ice-2' });
    });

    test("a check before the party's answer is answered and its latch kept; an unnominated check elsewhere does not move a nominated pair", async () => {
      const a = await newParty();
      const b = await newParty();
      const offer = await r.ng.request('offer', {
        'call-id': 'ice-4',
        'from-tag': 'ta',
        sdp: sdp(a.port),
        ICE: 'force',
      });
      const toB = iceOf(offer.sdp);
      const relayForB = mPort(offer.sdp);
      // b's ufrag is not known yet: any party part is taken.
      const early = await check(b, relayForB, `${toB.ufrag}:PaRtY`, toB.pwd!);
      assert.equal(early.class, 'success');
      const answer = await r.ng.request('answer', {
        'call-id': 'ice-4',
        'from-tag': 'ta',
        'to-tag': 'tb',
        sdp: sdp(b.port, ['a=rtcp-mux', ...PARTY_ICE]),
      });
      const relayForA = mPort(answer.sdp);
      // Another candidate of b (here its RTCP socket) checks without USE-CANDIDATE: answered, latch unmoved.
      const other = await check(b, relayForB, `${toB.ufrag}:PaRtY`, toB.pwd!, {
        rtcp: true,
        useCandidate: false,
      });
      assert.equal(other.class, 'success');
      a.socket.send(rtp(1, 0xa), relayForA, '127.0.0.1');
      await until(() => b.got.filter((m) => !isStun(m)).length === 1);
      assert.equal(b.gotRtcp.filter((m) => !isStun(m)).length, 0);
      await r.ng.request('delete', { 'call-id': 'ice-4' });
    });

    test('an ICE restart (new party ufrag) gives new relay credentials', async () => {
      const a = await newParty();
      const b = await newParty();
      await r.ng.request('offer', { 'call-id': 'ice-3', 'from-tag': 'ta', sdp: sdp(a.port, PARTY_ICE) });
      const first = iceOf(
        (
          await r.ng.request('answer', {
            'call-id': 'ice-3',
            'from-tag': 'ta',
            'to-tag': 'tb',
            sdp: sdp(b.port),
          })
        ).sdp,
      );
      await r.ng.request('offer', {
        'call-id': 'ice-3',
        'from-tag': 'ta',
        sdp: sdp(a.port, ['a=ice-ufrag:NeWu', 'a=ice-pwd:newpasswordnewpasswordnew']),
      });
      const second = iceOf(
        (
          await r.ng.request('answer', {
            'call-id': 'ice-3',
            'from-tag': 'ta',
            'to-tag': 'tb',
            sdp: sdp(b.port),
          })
        ).sdp,
      );
      assert.ok(first.ufrag && second.ufrag);
      assert.notEqual(second.ufrag, first.ufrag);
      assert.notEqual(second.pwd, first.pwd);
      await r.ng.request('delete', { 'call-id': 'ice-3' });
    });
  });
}

describe('ICE: force against RTPengine', { skip: relaySkip('rtpengine') }, () => {
  test('both relays answer the same check with the same attributes, each verified with the codec', async () => {
    const answers: Record<string, StunMessage> = {};
    const parties: Party[] = [];
    for (const kind of ['voxgate', 'rtpengine'] as const) {
      const running = await startAnyRelay(kind);
      const ng = createNgClient({ host: '127.0.0.1', port: running.ngPort, timeoutMs: 1000, retries: 2 });
      try {
        const a = await party();
        const b = await party();
        parties.push(a, b);
        const offer = await ng.request('offer', {
          'call-id': 'cmp',
          'from-tag': 'ta',
          sdp: sdp(a.port),
          ICE: 'force',
        });
        await ng.request('answer', {
          'call-id': 'cmp',
          'from-tag': 'ta',
          'to-tag': 'tb',
          sdp: sdp(b.port, PARTY_ICE),
          ICE: 'force',
        });
        const toB = iceOf(offer.sdp);
        assert.ok(toB.ufrag && toB.pwd, `${kind} gave credentials`);
        assert.equal(toB.candidates.length, 2, `${kind}: one host candidate per component`);
        assert.match(
          toB.candidates[0]!,
          new RegExp(`^\\S+ 1 UDP 2130706431 127\\.0\\.0\\.1 ${mPort(offer.sdp)} typ host$`),
        );
        // RTPengine is a full agent and takes the controlling role towards the answerer: the check claims
        // controlled (voxgate, lite, answers either role).
        const answer = await check(b, mPort(offer.sdp), `${toB.ufrag}:PaRtY`, toB.pwd, { controlled: true });
        assert.equal(answer.class, 'success', `${kind} answered with success`);
        // The codec verifies each relay's response: RTPengine's is an independent implementation of both.
        assert.ok(verifyMessageIntegrity(answer, shortTermKey(toB.pwd)).ok, `${kind}: MESSAGE-INTEGRITY`);
        assert.ok(verifyFingerprint(answer).ok, `${kind}: FINGERPRINT`);
        assert.deepEqual(
          decodeXorMappedAddress(attribute(answer, ATTR.XOR_MAPPED_ADDRESS)!.value, answer.transactionId),
          { ok: true, value: { family: 'IPv4', address: '127.0.0.1', port: b.port } },
        );
        answers[kind] = answer;
      } finally {
        await ng.close();
        await running.stop();
      }
    }
    // Same attributes, SOFTWARE (RTPengine names itself) aside.
    const types = (m: StunMessage) => m.attributes.map((x) => x.type).filter((t) => t !== ATTR.SOFTWARE);
    assert.deepEqual(types(answers.voxgate!), types(answers.rtpengine!));
    for (const p of parties) p.close();
  });
});
