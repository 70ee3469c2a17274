// SRTP (RFC 3711) and SDES (RFC 4568) units, named by section. The wire interop with an independent
// implementation is in srtp-rtpengine.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createHmac } from 'node:crypto';
import { HmacSha1 } from '../../src/media/srtp/hmac-sha1.js';
import { deriveSessionKeys } from '../../src/media/srtp/srtp-kdf.js';
import { SrtpSession } from '../../src/media/srtp/srtp-session.js';
import { REPLAY_WINDOW, ReplayWindow } from '../../src/media/srtp/replay-window.js';
import { SRTP_SUITES, suiteNamed } from '../../src/media/srtp/srtp-suites.js';
import { type SrtpEngine } from '../../src/media/srtp/srtp-key.js';
import { SRTP_ENGINES } from '../helpers/srtp-engines.js';
import { formatCrypto, newCrypto, parseCrypto } from '../../src/media/srtp/sdes.js';
import { SdesBridge, DEFAULT_SDES_POLICY, type CryptoEdit } from '../../src/media/relay/sdes-bridge.js';
import { offeredStreams } from '../../src/media/relay/sdp-rewrite.js';
import { MediaRelayError } from '../../src/media/relay/relay-errors.js';

const SHA1_80 = suiteNamed('AES_CM_128_HMAC_SHA1_80')!;
const SHA1_32 = suiteNamed('AES_CM_128_HMAC_SHA1_32')!;

function rtp(seq: number, ssrc = 0xdecafbad, payload = randomBytes(160)): Buffer {
  const p = Buffer.concat([Buffer.alloc(12), payload]);
  p[0] = 0x80;
  p[1] = 0;
  p.writeUInt16BE(seq & 0xffff, 2);
  p.writeUInt32BE((seq * 160) >>> 0, 4);
  p.writeUInt32BE(ssrc, 8);
  return p;
}

function pair(suite = SHA1_80, engine?: SrtpEngine): [SrtpSession, SrtpSession] {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  return [new SrtpSession(suite, key, salt, engine), new SrtpSession(suite, key, salt, engine)];
}

describe('RFC 3711 §4.3 key derivation', () => {
  test('B.3 test vectors: cipher key, salt and auth key of SRTP', () => {
    const keys = deriveSessionKeys(
      SHA1_80,
      Buffer.from('E1F97A0D3E018BE0D64FA32C06DE4139', 'hex'),
      Buffer.from('0EC675AD498AFEEBB6960B3AABE6', 'hex'),
    );
    assert.equal(keys.srtp.cipherKey.toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
    assert.equal(keys.srtp.salt.toString('hex').toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1');
    assert.equal(keys.srtp.authKey.toString('hex').toUpperCase(), 'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
    assert.notDeepEqual(keys.srtcp.cipherKey, keys.srtp.cipherKey, 'SRTCP has keys of its own (labels 3-5)');
  });
});

describe('RFC 2104 HMAC-SHA1 with precomputed key states', () => {
  test('the same tag as node:crypto for every message length across the block boundaries, with or without the ROC', () => {
    for (let length = 0; length < 260; length++) {
      for (const suffix of [undefined, randomBytes(4)]) {
        const key = randomBytes(20);
        const message = randomBytes(length);
        const out = Buffer.alloc(20);
        new HmacSha1(key).tag(message, suffix, out);
        const reference = createHmac('sha1', key).update(message);
        if (suffix) reference.update(suffix);
        assert.deepEqual(out, reference.digest(), `length ${length}, suffix ${suffix ? 4 : 0}`);
      }
    }
  });

  test('RFC 2202 test case 2 (a short key)', () => {
    const out = Buffer.alloc(20);
    new HmacSha1(Buffer.from('Jefe')).tag(Buffer.from('what do ya want for nothing?'), undefined, out);
    assert.equal(out.toString('hex'), 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79');
  });
});

describe('RFC 3711 §3.3.2 replay list', () => {
  test('the same answers as a 64-bit map for indices arriving in any order, across both words and past the window', () => {
    // The reference: the list as one 64-bit integer, bit i = highest - i seen.
    let reference = 0n;
    let highest = -1;
    const list = new ReplayWindow();
    let state = 0x9e3779b9;
    const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
    const steps = [1, 2, 31, 32, 33, 63, 64, 65, 200];
    for (let n = 0; n < 20_000; n++) {
      let index: number;
      // Mostly forward by one, sometimes jumps of every width that matters, sometimes late or repeated packets.
      const r = random();
      if (r < 0.6) index = highest + 1;
      else if (r < 0.75) index = highest + steps[Math.floor(random() * steps.length)]!;
      else index = highest - Math.floor(random() * 70);
      if (highest < 0) {
        list.start();
        reference = 1n;
        highest = index;
        continue;
      }
      const age = highest - index;
      const expected = age >= 0 && (age >= 64 || ((reference >> BigInt(age)) & 1n) === 1n);
      assert.equal(age >= 0 && list.seen(age), expected, `index ${index}, highest ${highest}`);
      if (expected) continue;
      if (age < 0) {
        list.advance(-age);
        reference = ((reference << BigInt(-age)) | 1n) & ((1n << 64n) - 1n);
        highest = index;
      } else {
        list.mark(age);
        reference |= 1n << BigInt(age);
      }
    }
    assert.equal(REPLAY_WINDOW, 64, 'the window RFC 3711 requires at least');
  });
});

// Every packet test on each engine of the cipher and tag (srtp-key.ts).
for (const engine of SRTP_ENGINES) {
  describe(`RFC 3711 §3.1/§3.3 SRTP (${engine})`, () => {
    for (const suite of SRTP_SUITES) {
      test(`${suite.name}: protect then unprotect gives the packet back; the tag is ${suite.srtpTagLength} bytes`, () => {
        const [sender, receiver] = pair(suite, engine);
        const plain = rtp(1);
        const sealed = sender.protectRtp(plain)!;
        assert.equal(sealed.length, plain.length + suite.srtpTagLength);
        assert.deepEqual(sealed.subarray(0, 12), plain.subarray(0, 12), 'the header stays in the clear');
        assert.notDeepEqual(sealed.subarray(12, 172), plain.subarray(12), 'the payload is encrypted');
        const opened = receiver.unprotectRtp(sealed);
        assert.ok(opened.ok);
        assert.deepEqual(opened.packet, plain);
      });
    }

    test('§3.3 step 5: a packet whose payload or header was changed fails authentication', () => {
      const [sender, receiver] = pair(SHA1_80, engine);
      const sealed = sender.protectRtp(rtp(1))!;
      const flipped = Buffer.from(sealed);
      flipped[20] = flipped[20]! ^ 1;
      assert.deepEqual(receiver.unprotectRtp(flipped), { ok: false, reason: 'auth' });
      const marker = Buffer.from(sealed);
      marker[1] = marker[1]! | 0x80;
      assert.deepEqual(receiver.unprotectRtp(marker), { ok: false, reason: 'auth' });
      assert.ok(receiver.unprotectRtp(sealed).ok, 'the original still authenticates');
    });

    test('§3.3.2: a replayed packet is refused; an old one inside the window is accepted once', () => {
      const [sender, receiver] = pair(SHA1_80, engine);
      const packets = [1, 2, 3, 4, 5].map((seq) => sender.protectRtp(rtp(seq))!);
      for (const seq of [0, 1, 3, 4]) assert.ok(receiver.unprotectRtp(packets[seq]!).ok);
      assert.deepEqual(receiver.unprotectRtp(packets[1]!), { ok: false, reason: 'replay' });
      assert.ok(receiver.unprotectRtp(packets[2]!).ok, 'a late packet inside the window');
      assert.deepEqual(receiver.unprotectRtp(packets[2]!), { ok: false, reason: 'replay' });
    });

    test('§3.3.2: a packet older than the 64-packet window is refused', () => {
      const [sender, receiver] = pair(SHA1_80, engine);
      const old = sender.protectRtp(rtp(10))!;
      for (let seq = 11; seq < 100; seq++) assert.ok(receiver.unprotectRtp(sender.protectRtp(rtp(seq))!).ok);
      assert.deepEqual(receiver.unprotectRtp(old), { ok: false, reason: 'replay' });
    });

    test('§3.3.1: the rollover counter follows a sequence-number wrap, with reordering around it', () => {
      const [sender, receiver] = pair(SHA1_80, engine);
      const seqs = [65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2];
      const sealed = seqs.map((seq) => sender.protectRtp(rtp(seq))!);
      // Delivered reordered across the wrap: 65535 after 0.
      const order = [0, 1, 2, 3, 4, 6, 5, 7, 8];
      for (const i of order)
        assert.ok(receiver.unprotectRtp(sealed[i]!).ok, `packet ${seqs[i]} authenticates`);
    });

    test('a new SSRC is a new stream with its own state (§3.2.3)', () => {
      const [sender, receiver] = pair(SHA1_80, engine);
      assert.ok(receiver.unprotectRtp(sender.protectRtp(rtp(5000, 1))!).ok);
      assert.ok(receiver.unprotectRtp(sender.protectRtp(rtp(3, 2))!).ok);
      assert.ok(receiver.unprotectRtp(sender.protectRtp(rtp(5001, 1))!).ok);
    });

    test("a lending session (the relay's) seals and opens as an owning one, into its own buffers", () => {
      const key = randomBytes(16);
      const salt = randomBytes(14);
      const [owning, lending] = [false, true].map((lend) => ({
        sender: new SrtpSession(SHA1_80, key, salt, engine, lend),
        receiver: new SrtpSession(SHA1_80, key, salt, engine, lend),
      }));
      let lastSealed: Buffer | undefined;
      let lastOpened: Buffer | undefined;
      for (let seq = 1; seq <= 12; seq++) {
        const plain = rtp(seq, 0xdecafbad, randomBytes(seq % 3 === 0 ? 80 : 160));
        const sealed = owning!.sender.protectRtp(plain)!;
        const lent = lending!.sender.protectRtp(plain)!;
        assert.deepEqual(lent, sealed, `packet ${seq} sealed alike`);
        const opened = lending!.receiver.unprotectRtp(lent);
        assert.ok(opened.ok);
        assert.deepEqual(opened.packet, plain, `packet ${seq} opened`);
        const owned = owning!.receiver.unprotectRtp(sealed);
        assert.ok(owned.ok);
        assert.deepEqual(owned.packet, plain);
        // The same length as the packet before: the same lent buffer, written over.
        if (seq % 3 === 2) {
          assert.equal(lent, lastSealed);
          assert.equal(opened.packet, lastOpened);
        }
        lastSealed = lent;
        lastOpened = opened.packet;
      }
      const report = Buffer.concat([Buffer.from([0x80, 201, 0, 6]), randomBytes(24)]);
      const sealedReport = owning!.sender.protectRtcp(report)!;
      assert.deepEqual(lending!.sender.protectRtcp(report), sealedReport);
      const openedReport = lending!.receiver.unprotectRtcp(sealedReport);
      assert.ok(openedReport.ok);
      assert.deepEqual(openedReport.packet, report);
      assert.deepEqual(lending!.receiver.unprotectRtcp(sealedReport), { ok: false, reason: 'replay' });
    });

    test('too short or not RTP: malformed, never a throw', () => {
      const [, receiver] = pair(SHA1_80, engine);
      assert.deepEqual(receiver.unprotectRtp(Buffer.alloc(5)), { ok: false, reason: 'malformed' });
      assert.deepEqual(receiver.unprotectRtp(Buffer.alloc(40)), { ok: false, reason: 'malformed' });
      const extension = rtp(1).subarray(0, 16);
      extension[0] = 0x90;
      extension.writeUInt16BE(100, 14);
      assert.deepEqual(receiver.unprotectRtp(extension), { ok: false, reason: 'malformed' });
    });
  });

  describe(`RFC 3711 §3.4 SRTCP (${engine})`, () => {
    const report = (ssrc = 0x1234) => {
      const p = Buffer.concat([Buffer.alloc(8), randomBytes(20)]);
      p[0] = 0x80;
      p[1] = 201;
      p.writeUInt16BE(p.length / 4 - 1, 2);
      p.writeUInt32BE(ssrc, 4);
      return p;
    };

    test('E flag and index appended, 80-bit tag even with the _32 suite; round trip', () => {
      const [sender, receiver] = pair(SHA1_32, engine);
      const plain = report();
      const sealed = sender.protectRtcp(plain)!;
      assert.equal(sealed.length, plain.length + 4 + 10);
      assert.equal(sealed.readUInt32BE(plain.length), 0x80000000, 'E set, index 0');
      const opened = receiver.unprotectRtcp(sealed);
      assert.ok(opened.ok);
      assert.deepEqual(opened.packet, plain);
    });

    test('SRTCP with the E flag clear (RFC 3711 §3.4: carried in the clear, still authenticated) opens to its bytes, lent or not', () => {
      const key = randomBytes(16);
      const salt = randomBytes(14);
      const authKey = deriveSessionKeys(SHA1_80, key, salt).srtcp.authKey;
      for (const lend of [false, true]) {
        const receiver = new SrtpSession(SHA1_80, key, salt, engine, lend);
        for (const index of [5, 6]) {
          const plain = report();
          const trailer = Buffer.alloc(4);
          trailer.writeUInt32BE(index); // E = 0
          const authenticated = Buffer.concat([plain, trailer]);
          const tag = createHmac('sha1', authKey).update(authenticated).digest().subarray(0, 10);
          const opened = receiver.unprotectRtcp(Buffer.concat([authenticated, tag]));
          assert.ok(opened.ok);
          assert.deepEqual(Buffer.from(opened.packet), plain);
        }
      }
    });

    test('replayed or forged SRTCP is refused', () => {
      const [sender, receiver] = pair(SHA1_80, engine);
      const sealed = sender.protectRtcp(report())!;
      assert.ok(receiver.unprotectRtcp(sealed).ok);
      assert.deepEqual(receiver.unprotectRtcp(sealed), { ok: false, reason: 'replay' });
      const forged = Buffer.from(sender.protectRtcp(report())!);
      forged[10] = forged[10]! ^ 0xff;
      assert.deepEqual(receiver.unprotectRtcp(forged), { ok: false, reason: 'auth' });
    });
  });
}

describe('RFC 4568 §9.1 a=crypto', () => {
  const key = Buffer.alloc(30, 7).toString('base64');

  test('inline key of the suite length, with or without a lifetime', () => {
    const parsed = parseCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${key}`)!;
    assert.equal(parsed.tag, 1);
    assert.equal(parsed.suite, SHA1_80);
    assert.equal(parsed.key.length, 16);
    assert.equal(parsed.salt.length, 14);
    assert.ok(parseCrypto(`2 AES_CM_128_HMAC_SHA1_32 inline:${key}|2^31`));
  });

  test('unusable lines are left out, not errors: MKI, unknown suite, wrong length, session params', () => {
    assert.equal(parseCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${key}|2^20|1:4`), undefined);
    assert.equal(parseCrypto(`1 AEAD_AES_256_GCM inline:${key}`), undefined);
    assert.equal(
      parseCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${Buffer.alloc(29).toString('base64')}`),
      undefined,
    );
    assert.equal(parseCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${key} UNENCRYPTED_SRTP`), undefined);
    assert.equal(parseCrypto(`x AES_CM_128_HMAC_SHA1_80 inline:${key}`), undefined);
    assert.equal(parseCrypto('1 AES_CM_128_HMAC_SHA1_80'), undefined);
  });

  test('a new key is fresh and written as padded base64 of key || salt', () => {
    const a = newCrypto(1, SHA1_80);
    const b = newCrypto(1, SHA1_80);
    assert.notDeepEqual(a.key, b.key);
    const line = formatCrypto(a);
    assert.match(line, /^1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/]{40}$/);
    assert.deepEqual(parseCrypto(line)?.key, a.key);
  });
});

/** The a=crypto lines an edit writes (it must replace the party's). */
function written(edit: CryptoEdit) {
  assert.notEqual(edit.crypto, 'keep');
  return edit.crypto === 'keep' ? [] : edit.crypto;
}

describe('SDES bridge of one stream', () => {
  const stream = (proto: string, cryptos: string[] = []) =>
    offeredStreams(
      [
        'v=0',
        'o=- 1 1 IN IP4 127.0.0.1',
        's=-',
        'c=IN IP4 127.0.0.1',
        't=0 0',
        `m=audio 4000 ${proto} 0`,
        ...cryptos.map((c) => `a=crypto:${c}`),
        '',
      ].join('\r\n'),
    )[0]!;
  const line = (tag: number, suite = 'AES_CM_128_HMAC_SHA1_80') =>
    `${tag} ${suite} inline:${randomBytes(30).toString('base64')}`;

  test('alike profiles pass a=crypto through untouched (SRTP end to end)', () => {
    const bridge = new SdesBridge();
    assert.deepEqual(bridge.offer('a', stream('RTP/SAVP', [line(1)]), undefined, DEFAULT_SDES_POLICY), {
      crypto: 'keep',
    });
    assert.deepEqual(bridge.answer('b', stream('RTP/SAVP', [line(1)])), { crypto: 'keep' });
    assert.equal(bridge.rx('a'), undefined);
  });

  test('secure offerer, plain answerer: the offerer’s first usable line is taken and answered with a relay key', () => {
    const bridge = new SdesBridge();
    const edit = bridge.offer(
      'a',
      stream('RTP/SAVP', [line(5, 'AEAD_AES_256_GCM'), line(6, 'AES_CM_128_HMAC_SHA1_32'), line(7)]),
      'RTP/AVP',
      DEFAULT_SDES_POLICY,
    );
    assert.deepEqual(edit, { protocol: 'RTP/AVP', crypto: [] });
    const answer = bridge.answer('b', stream('RTP/AVP'));
    assert.equal(answer.protocol, 'RTP/SAVP');
    const [chosen] = written(answer);
    assert.equal(chosen?.tag, 6);
    assert.equal(chosen?.suiteName, 'AES_CM_128_HMAC_SHA1_32');
    assert.ok(bridge.rx('a') && bridge.tx('a'));
    assert.equal(bridge.rx('b'), undefined);
  });

  test('plain offerer, secure answerer: one line per allowed suite offered; the accepted tag keys both ways', () => {
    const bridge = new SdesBridge();
    const edit = bridge.offer('a', stream('RTP/AVP'), 'RTP/SAVP', {
      off: false,
      suites: [SHA1_32, SHA1_80],
    });
    const offered = written(edit);
    assert.deepEqual(
      offered.map((c) => [c.tag, c.suiteName]),
      [
        [1, 'AES_CM_128_HMAC_SHA1_32'],
        [2, 'AES_CM_128_HMAC_SHA1_80'],
      ],
    );
    const answer = bridge.answer('b', stream('RTP/SAVP', [line(2)]));
    assert.deepEqual(answer, { protocol: 'RTP/AVP', crypto: [] });
    assert.equal(bridge.rx('b')?.suite, SHA1_80);
    assert.equal(bridge.tx('b')?.suite, SHA1_80);
  });

  test('a re-INVITE with the same key keeps the SRTP session (ROC and replay list)', () => {
    const bridge = new SdesBridge();
    const offer = stream('RTP/SAVP', [line(1)]);
    bridge.offer('a', offer, 'RTP/AVP', DEFAULT_SDES_POLICY);
    bridge.answer('b', stream('RTP/AVP'));
    const rx = bridge.rx('a');
    const tx = bridge.tx('a');
    // The re-offer comes from the plain side this time; the secure party keeps its profile.
    const again = bridge.offer('b', stream('RTP/AVP'), undefined, DEFAULT_SDES_POLICY);
    assert.equal(again.protocol, 'RTP/SAVP');
    const relayLine = written(again)[0]!;
    assert.equal(relayLine.suiteName, 'AES_CM_128_HMAC_SHA1_80');
    const echo = `${relayLine.tag} AES_CM_128_HMAC_SHA1_80 inline:${Buffer.concat([
      offer.cryptos[0]!.key,
      offer.cryptos[0]!.salt,
    ]).toString('base64')}`;
    bridge.answer('a', stream('RTP/SAVP', [echo]));
    assert.equal(bridge.rx('a'), rx, 'same key from the party: same receiving session');
    assert.equal(bridge.tx('a'), tx, 'the relay kept its key for the party');
  });

  test('a secure offer with no usable suite is refused with an ng error', () => {
    const bridge = new SdesBridge();
    assert.throws(
      () =>
        bridge.offer('a', stream('RTP/SAVP', [line(1, 'AEAD_AES_256_GCM')]), 'RTP/AVP', DEFAULT_SDES_POLICY),
      (err: unknown) => err instanceof MediaRelayError && err.code === 'MEDIA_SDES_NO_SUITE',
    );
  });
});
