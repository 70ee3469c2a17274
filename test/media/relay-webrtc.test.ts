// A browser (UDP/TLS/RTP/SAVPF, ICE, DTLS-SRTP, rtcp-mux) and a plain-RTP phone through the relay over ng,
// with the flags of the published WebRTC-to-SIP Kamailio guides — and the same test against real RTPengine,
// which must give the same result: the relay ends DTLS-SRTP for the browser and relays plain RTP to the phone.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNgClient, type NgClient, type NgDictionary } from '../../src/media/index.js';
import { relaySkip, startRelay, type RelayKind } from '../helpers/relays.js';
import { mPort, party, rtp, sdp, until, type Party } from '../helpers/rtp-party.js';
import { WebRtcPeer } from '../helpers/webrtc-peer.js';

/** Towards the phone: plain RTP, no ICE, RTCP on its own port (RTPengine's flags from the guides). */
const TO_PHONE: NgDictionary = {
  ICE: 'remove',
  DTLS: 'off',
  SDES: ['off'],
  'transport-protocol': 'RTP/AVP',
  'rtcp-mux': ['demux'],
  replace: ['origin', 'session-connection'],
};
/** Towards the browser: ICE, DTLS with the relay passive (the browser connects), rtcp-mux. */
const TO_BROWSER: NgDictionary = {
  ICE: 'force',
  DTLS: 'passive',
  SDES: ['off'],
  'transport-protocol': 'UDP/TLS/RTP/SAVPF',
  'rtcp-mux': ['offer', 'accept'],
  flags: ['generate-mid'],
  replace: ['origin', 'session-connection'],
};

const attrs = (s: unknown) => String(s).split(/\r?\n/);
const has = (s: unknown, prefix: string) => attrs(s).some((l) => l.startsWith(prefix));
const proto = (s: unknown) => /^m=audio \d+ (\S+)/m.exec(String(s))?.[1];

for (const kind of ['voxgate', 'rtpengine'] as RelayKind[]) {
  describe(`WebRTC ↔ plain RTP through ${kind}`, { skip: relaySkip(kind) }, () => {
    const open: { close(): void }[] = [];
    let client: NgClient | undefined;
    let stopRelay: (() => Promise<void>) | undefined;
    after(async () => {
      for (const o of open) o.close();
      client?.close();
      await stopRelay?.();
    });

    const ng = async () => {
      if (!client) {
        const relay = await startRelay(kind);
        stopRelay = () => relay.stop();
        client = createNgClient({ host: '127.0.0.1', port: relay.ngPort, timeoutMs: 3000 });
      }
      return client;
    };

    const talk = async (browser: WebRtcPeer, phone: Party, phoneSees: string) => {
      const toPhonePort = mPort(phoneSees);
      for (let seq = 1; seq <= 5; seq++) browser.send(rtp(seq, 0xb0b));
      await until(() => phone.got.length >= 3, 5000);
      const heard = phone.got[phone.got.length - 1]!;
      assert.equal(heard[0], 0x80, 'the phone gets plain RTP');
      assert.equal(heard.length, rtp(1, 1).length, 'no SRTP tag on what the phone gets');
      assert.deepEqual(heard.subarray(12), rtp(5, 0xb0b).subarray(12));
      for (let seq = 1; seq <= 5; seq++) phone.socket.send(rtp(seq, 0xf0e), toPhonePort, '127.0.0.1');
      await until(() => browser.received.length >= 3, 5000);
      assert.deepEqual(browser.received.at(-1)!.subarray(12), rtp(5, 0xf0e).subarray(12));
      assert.equal(browser.rejected, 0);
    };

    test('the browser calls: its DTLS is ended at the relay, the phone gets RTP/AVP without DTLS or ICE', async () => {
      const relay = await ng();
      const browser = await WebRtcPeer.create();
      const phone = await party();
      open.push(browser, phone);
      const callId = `webrtc-out-${kind}-${Date.now()}`;
      const offer = await relay.request('offer', {
        'call-id': callId,
        'from-tag': 'browser',
        sdp: browser.sdp('actpass'),
        ...TO_PHONE,
      });
      const phoneSees = String(offer.sdp);
      assert.equal(proto(phoneSees), 'RTP/AVP', phoneSees);
      for (const gone of [
        'a=fingerprint',
        'a=setup',
        'a=ice-ufrag',
        'a=candidate',
        'a=crypto',
        'a=rtcp-mux',
      ]) {
        assert.ok(!has(phoneSees, gone), `${gone} in what the phone gets:\n${phoneSees}`);
      }
      const answer = await relay.request('answer', {
        'call-id': callId,
        'from-tag': 'browser',
        'to-tag': 'phone',
        sdp: sdp(phone.port),
        ...TO_BROWSER,
      });
      const browserSees = String(answer.sdp);
      assert.match(proto(browserSees) ?? '', /SAVPF$/, browserSees);
      assert.ok(has(browserSees, 'a=fingerprint:sha-256 '), browserSees);
      assert.ok(
        has(browserSees, 'a=setup:passive'),
        `the relay stays passive towards actpass:\n${browserSees}`,
      );
      assert.ok(has(browserSees, 'a=ice-ufrag:') && has(browserSees, 'a=candidate:'), browserSees);
      assert.ok(has(browserSees, 'a=rtcp-mux'), browserSees);
      assert.ok(has(browserSees, 'a=mid:0'), browserSees);
      assert.ok(!has(browserSees, 'a=crypto'), browserSees);
      const keys = await browser.connect(browserSees);
      assert.equal(keys.suite.name, 'AES_CM_128_HMAC_SHA1_80');
      await talk(browser, phone, phoneSees);
      await relay.request('delete', { 'call-id': callId, 'from-tag': 'browser' });
    });

    test('the phone calls: the browser gets DTLS (actpass, RFC 5763 §5), ICE and a mid; its active answer connects', async () => {
      const relay = await ng();
      const browser = await WebRtcPeer.create();
      const phone = await party();
      open.push(browser, phone);
      const callId = `webrtc-in-${kind}-${Date.now()}`;
      const offer = await relay.request('offer', {
        'call-id': callId,
        'from-tag': 'phone',
        sdp: sdp(phone.port),
        ...TO_BROWSER,
      });
      const browserSees = String(offer.sdp);
      assert.match(proto(browserSees) ?? '', /^UDP\/TLS\/RTP\/SAVPF$/, browserSees);
      assert.ok(has(browserSees, 'a=setup:actpass'), browserSees);
      assert.ok(has(browserSees, 'a=fingerprint:sha-256 '), browserSees);
      assert.ok(has(browserSees, 'a=mid:'), browserSees);
      assert.ok(has(browserSees, 'a=rtcp-mux'), browserSees);
      const mid = /^a=mid:(\S+)/m.exec(browserSees)![1]!;
      const answer = await relay.request('answer', {
        'call-id': callId,
        'from-tag': 'phone',
        'to-tag': 'browser',
        sdp: browser.sdp('active', mid),
        ...TO_PHONE,
      });
      const phoneSees = String(answer.sdp);
      assert.equal(proto(phoneSees), 'RTP/AVP', phoneSees);
      for (const gone of ['a=fingerprint', 'a=setup', 'a=ice-ufrag', 'a=candidate', 'a=rtcp-mux']) {
        assert.ok(!has(phoneSees, gone), `${gone} in what the phone gets:\n${phoneSees}`);
      }
      // The browser answered active: it is the DTLS client (the helper reads its role from a=setup).
      await browser.connect(browserSees.replace('a=setup:actpass', 'a=setup:passive'));
      await talk(browser, phone, phoneSees);
      await relay.request('delete', { 'call-id': callId, 'from-tag': 'phone' });
    });

    test('the browser connects before its answer reaches the relay: the early ClientHello is kept, not lost', async () => {
      const relay = await ng();
      const browser = await WebRtcPeer.create();
      const phone = await party();
      open.push(browser, phone);
      const callId = `webrtc-early-${kind}-${Date.now()}`;
      // The relay's packet errors (RTPengine's `relayedpacketerrors`): a dropped DTLS packet counts there.
      const errors = async () => {
        const stats = (await relay.request('statistics', {})).statistics as NgDictionary;
        return Number((stats.totalstatistics as NgDictionary).relayedpacketerrors);
      };
      const errorsBefore = await errors();
      const offer = await relay.request('offer', {
        'call-id': callId,
        'from-tag': 'phone',
        sdp: sdp(phone.port),
        ...TO_BROWSER,
      });
      const browserSees = String(offer.sdp);
      const mid = /^a=mid:(\S+)/m.exec(browserSees)![1]!;
      // The browser's checks and ClientHello go out at once; its answer comes 300 ms later.
      const connected = browser.connect(browserSees.replace('a=setup:actpass', 'a=setup:passive'));
      await new Promise((r) => setTimeout(r, 300));
      const answer = await relay.request('answer', {
        'call-id': callId,
        'from-tag': 'phone',
        'to-tag': 'browser',
        sdp: browser.sdp('active', mid),
        ...TO_PHONE,
      });
      await connected;
      await talk(browser, phone, String(answer.sdp));
      if (kind === 'voxgate') {
        // Nothing was dropped: the ClientHello that came before the answer waited for it.
        assert.equal(await errors(), errorsBefore);
      }
      await relay.request('delete', { 'call-id': callId, 'from-tag': 'phone' });
    });
  });
}
