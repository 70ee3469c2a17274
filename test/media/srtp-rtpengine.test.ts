// SDES-SRTP bridged by voxgate's relay, checked against an independent SRTP implementation: a real RTPengine
// (userspace) encrypts a plain party's RTP towards voxgate's relay (`transport-protocol: RTP/SAVP`), voxgate's
// relay ends SRTP and hands plain RTP to the other party (`transport-protocol: RTP/AVP`), and back. Each side's
// key is declared in the SDP the other reads (RFC 4568 §6.1), so a wrong key derivation, IV, tag or ROC on
// either side shows as payloads that do not arrive intact. Under CI a missing RTPengine fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createNgClient, type NgClient } from '../../src/media/index.js';
import { relaySkip, startRelay, type RunningRelay } from '../helpers/relays.js';
import { mPort, party, sdp, until, type Party } from '../helpers/rtp-party.js';
import { cryptoLines, randomRtp } from '../helpers/srtp-party.js';

const FLAGS = { replace: ['origin', 'session-connection'], ICE: 'remove' };

/** An RTP packet (PCMA) with a random 160-byte payload. */
const packet = (seq: number, ssrc: number) => randomRtp(seq, ssrc, 8);

const payloads = (packets: Buffer[]) => new Set(packets.map((p) => p.subarray(12).toString('hex')));

describe('SDES-SRTP between RTPengine and voxgate relay', { skip: relaySkip('rtpengine') }, () => {
  let engine: RunningRelay;
  let relay: RunningRelay;
  let toEngine: NgClient;
  let toRelay: NgClient;
  let p1: Party;
  let p2: Party;
  before(async () => {
    engine = await startRelay('rtpengine');
    relay = await startRelay('voxgate');
    toEngine = createNgClient({ host: '127.0.0.1', port: engine.ngPort, timeoutMs: 1000, retries: 2 });
    toRelay = createNgClient({ host: '127.0.0.1', port: relay.ngPort, timeoutMs: 1000, retries: 2 });
    p1 = await party();
    p2 = await party();
  });
  after(async () => {
    p1?.close();
    p2?.close();
    await toEngine?.close();
    await toRelay?.close();
    await engine?.stop();
    await relay?.stop();
  });

  test('plain → RTPengine (SRTP) → voxgate relay → plain, both ways, payloads intact', async () => {
    const call = { 'call-id': 'sdes-bridge', 'from-tag': 't1' };
    // The plain party's offer, made SRTP by RTPengine.
    const srtpOffer = String(
      (
        await toEngine.request('offer', {
          ...call,
          sdp: sdp(p1.port),
          'transport-protocol': 'RTP/SAVP',
          ...FLAGS,
        })
      ).sdp,
    );
    assert.match(srtpOffer, /^m=audio \d+ RTP\/SAVP /m);
    const offeredTags = cryptoLines(srtpOffer);
    assert.ok(offeredTags.length > 0, 'RTPengine offered a=crypto lines');
    // voxgate's relay ends SRTP: the other party gets a plain offer with no key in it.
    const plainOffer = String(
      (await toRelay.request('offer', { ...call, sdp: srtpOffer, 'transport-protocol': 'RTP/AVP', ...FLAGS }))
        .sdp,
    );
    assert.match(plainOffer, /^m=audio \d+ RTP\/AVP /m);
    assert.deepEqual(cryptoLines(plainOffer), []);
    // The plain answer; voxgate answers RTPengine's offer with one crypto line: a tag RTPengine offered, the
    // same suite, a key of the relay's own.
    const srtpAnswer = String(
      (await toRelay.request('answer', { ...call, 'to-tag': 't2', sdp: sdp(p2.port), ...FLAGS })).sdp,
    );
    assert.match(srtpAnswer, /^m=audio \d+ RTP\/SAVP /m);
    const [answered, ...more] = cryptoLines(srtpAnswer);
    assert.equal(more.length, 0);
    const [tag, suite, key] = answered!.slice('a=crypto:'.length).split(' ');
    const offered = offeredTags.find((l) => l.startsWith(`a=crypto:${tag} ${suite} `));
    assert.ok(offered, `the answer's tag ${tag} and suite ${suite} are among the offered`);
    assert.notEqual(key, offered.split(' ')[2], 'the relay answers with a key of its own');
    const plainAnswer = String(
      (await toEngine.request('answer', { ...call, 'to-tag': 't2', sdp: srtpAnswer, ...FLAGS })).sdp,
    );

    const toEnginePort = mPort(plainAnswer);
    const toRelayPort = mPort(plainOffer);
    const sent1: Buffer[] = [];
    const sent2: Buffer[] = [];
    // Enough packets to cross a sequence-number wrap on the way (ROC 0 → 1).
    for (let i = 0; i < 60; i++) {
      const a = packet(65_510 + i, 0x1111);
      const b = packet(65_520 + i, 0x2222);
      sent1.push(a);
      sent2.push(b);
      p1.socket.send(a, toEnginePort, '127.0.0.1');
      p2.socket.send(b, toRelayPort, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 2));
    }
    await until(() => p2.got.length >= 55 && p1.got.length >= 55, 5000);
    const at2 = payloads(p2.got);
    const at1 = payloads(p1.got);
    assert.ok(
      [...payloads(sent1)].filter((p) => at2.has(p)).length >= 55,
      'the plain party behind voxgate receives the first party’s payloads decrypted intact',
    );
    assert.ok(
      [...payloads(sent2)].filter((p) => at1.has(p)).length >= 55,
      'RTPengine decrypts what voxgate encrypted with the key it declared',
    );
    for (const p of p2.got) assert.equal(p.length, 172, 'no SRTP tag left on packets to the plain party');
  });

  test('a forged or replayed SRTP packet is dropped and counted, the stream goes on', async () => {
    const call = { 'call-id': 'sdes-forged', 'from-tag': 'f1' };
    const srtpOffer = String(
      (
        await toEngine.request('offer', {
          ...call,
          sdp: sdp(p1.port),
          'transport-protocol': 'RTP/SAVP',
          ...FLAGS,
        })
      ).sdp,
    );
    await toRelay.request('offer', { ...call, sdp: srtpOffer, 'transport-protocol': 'RTP/AVP', ...FLAGS });
    const srtpAnswer = String(
      (await toRelay.request('answer', { ...call, 'to-tag': 'f2', sdp: sdp(p2.port), ...FLAGS })).sdp,
    );
    const plainAnswer = String(
      (await toEngine.request('answer', { ...call, 'to-tag': 'f2', sdp: srtpAnswer, ...FLAGS })).sdp,
    );
    const relaySrtpPort = mPort(srtpAnswer);
    const before = p2.got.length;
    // A forged packet straight to the relay's SRTP side: a valid RTP header, random bytes for payload and tag.
    const forged = Buffer.concat([packet(7, 0x3333), randomBytes(10)]);
    const sender = p1.socket;
    sender.send(forged, relaySrtpPort, '127.0.0.1');
    // Then real traffic through RTPengine.
    for (let i = 0; i < 5; i++) sender.send(packet(100 + i, 0x4444), mPort(plainAnswer), '127.0.0.1');
    await until(() => p2.got.length >= before + 5, 3000);
    assert.equal(
      p2.got.slice(before).filter((p) => p.readUInt32BE(8) === 0x3333).length,
      0,
      'the forged packet never reached the plain party',
    );
    const query = await toRelay.request('query', { 'call-id': 'sdes-forged' });
    const tags = query.tags as Record<string, { medias: { streams: { stats: Record<string, number> }[] }[] }>;
    assert.ok((tags.f1?.medias[0]?.streams[0]?.stats.errors ?? 0) >= 1, 'the forged packet is counted');
  });
});
