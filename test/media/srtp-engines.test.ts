// The two engines of SRTP's cipher and tag (src/media/srtp/srtp-key.ts): the native addon on Node's OpenSSL and
// JavaScript compute the same bytes, each checked against RFC 3711's test vector and node:crypto, and a session on
// one engine talks to a session on the other.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { srtpKey, type SrtpKey } from '../../src/media/srtp/srtp-key.js';
import { SrtpSession } from '../../src/media/srtp/srtp-session.js';
import { suiteNamed } from '../../src/media/srtp/srtp-suites.js';
import { SRTP_ENGINES } from '../helpers/srtp-engines.js';

const SUITE = suiteNamed('AES_CM_128_HMAC_SHA1_80')!;

const keysOf = (cipherKey: Buffer, salt: Buffer, authKey: Buffer) => ({ cipherKey, salt, authKey });
const randomKeys = () => keysOf(randomBytes(16), randomBytes(14), randomBytes(20));

for (const engine of SRTP_ENGINES) {
  describe(`SRTP primitives (${engine})`, () => {
    test('RFC 3711 Appendix B.2: the AES-CM keystream of the test vector', () => {
      // B.2: session key 2B7E…4F3C, session salt F0F1…FCFD, SSRC 0, index 0: the IV is the salt · 2^16.
      const key = srtpKey(
        keysOf(
          Buffer.from('2B7E151628AED2A6ABF7158809CF4F3C', 'hex'),
          Buffer.from('F0F1F2F3F4F5F6F7F8F9FAFBFCFD', 'hex'),
          randomBytes(20),
        ),
        engine,
      );
      const stream = Buffer.alloc(48);
      key.crypt(0, 0, 0, Buffer.alloc(48), 0, 48, stream, 0);
      assert.equal(
        stream.toString('hex').toUpperCase(),
        'E03EAD0935C95E80E166B16DD92B4EB4' +
          'D23513162B02D0F72A43A2FE4A5F97AB' +
          '41E95B3BB0A2E8DD477901E4FCA894C0',
      );
    });

    test('§4.2.1: the tag is HMAC-SHA1 over the message and the ROC, cut to the tag length; verify compares it', () => {
      for (const length of [0, 1, 55, 56, 63, 64, 119, 172, 300, 1500]) {
        const keys = randomKeys();
        const key = srtpKey(keys, engine);
        const data = Buffer.concat([randomBytes(length), Buffer.alloc(20)]);
        for (const roc of [-1, 0, 1, 0xffff, 0x10000, 0xffffffff]) {
          const reference = createHmac('sha1', keys.authKey).update(data.subarray(0, length));
          if (roc >= 0)
            reference.update(Buffer.from([roc >>> 24, (roc >>> 16) & 255, (roc >>> 8) & 255, roc & 255]));
          const digest = reference.digest();
          const out = Buffer.alloc(24);
          key.sign(data, length, roc, out, 2, 10);
          assert.deepEqual(out.subarray(2, 12), digest.subarray(0, 10), `length ${length}, ROC ${roc}`);
          digest.copy(data, length, 0, 20);
          assert.ok(key.verify(data, length, roc, 10));
          assert.ok(key.verify(data, length, roc, 4));
          data[length + 3] = data[length + 3]! ^ 1;
          assert.equal(key.verify(data, length, roc, 10), false, 'a flipped bit of the tag');
          assert.equal(key.verify(data, length, roc, 4), false);
        }
      }
    });
  });
}

if (SRTP_ENGINES.includes('native')) {
  describe('the native engine against the JavaScript one', () => {
    test('the same keystream for any SSRC, index and length, at offsets, and in place', () => {
      for (let round = 0; round < 200; round++) {
        const keys = randomKeys();
        const [native, script]: SrtpKey[] = [srtpKey(keys, 'native'), srtpKey(keys, 'javascript')];
        const ssrc = randomBytes(4).readUInt32BE();
        const high = randomBytes(2).readUInt16BE();
        const low = randomBytes(4).readUInt32BE();
        const length = round % 50 === 0 ? 0 : 1 + (randomBytes(2).readUInt16BE() % 1400);
        const src = randomBytes(length + 12);
        const a = Buffer.alloc(length + 7);
        const b = Buffer.alloc(length + 7);
        native!.crypt(ssrc, high, low, src, 12, length, a, 7);
        script!.crypt(ssrc, high, low, src, 12, length, b, 7);
        assert.deepEqual(a, b, `SSRC ${ssrc}, index ${high}:${low}, ${length} bytes`);
        const inPlace = Buffer.from(src);
        native!.crypt(ssrc, high, low, inPlace, 12, length, inPlace, 12);
        assert.deepEqual(inPlace.subarray(12), a.subarray(7));
      }
    });

    test('sessions on different engines talk: RTP across a sequence wrap, and RTCP', () => {
      const key = randomBytes(16);
      const salt = randomBytes(14);
      for (const [from, to] of [
        ['native', 'javascript'],
        ['javascript', 'native'],
      ] as const) {
        const sender = new SrtpSession(SUITE, key, salt, from);
        const receiver = new SrtpSession(SUITE, key, salt, to);
        for (const seq of [65533, 65534, 65535, 0, 1, 2]) {
          const plain = Buffer.concat([Buffer.from([0x80, 0]), Buffer.alloc(10), randomBytes(160)]);
          plain.writeUInt16BE(seq, 2);
          plain.writeUInt32BE(0xabcdef01, 8);
          const opened = receiver.unprotectRtp(sender.protectRtp(plain)!);
          assert.ok(opened.ok, `${from} → ${to}, seq ${seq}`);
          assert.deepEqual(opened.packet, plain);
        }
        const report = Buffer.concat([Buffer.from([0x80, 201, 0, 6, 0, 0, 0, 9]), randomBytes(20)]);
        const opened = receiver.unprotectRtcp(sender.protectRtcp(report)!);
        assert.ok(opened.ok, `${from} → ${to}, RTCP`);
        assert.deepEqual(opened.packet, report);
      }
    });

    test('arguments out of range are a RangeError, never a read or write past a buffer', () => {
      const addon = createRequire(import.meta.url)('../../dist/native/srtp-crypto.node') as Record<
        string,
        (...args: unknown[]) => unknown
      >;
      const key = addon.key!(randomBytes(16), randomBytes(14), randomBytes(20));
      const small = Buffer.alloc(8);
      const calls: [string, unknown[]][] = [
        ['key', [randomBytes(15), randomBytes(14), randomBytes(20)]],
        ['key', ['not bytes', randomBytes(14), randomBytes(20)]],
        ['crypt', [key, 1, 0, 0, small, 4, 8, small, 0]],
        ['crypt', [key, 1, 0, 0, small, 0, 8, small, 1]],
        ['crypt', [key, 1, 0, 0, small, -1, 2, small, 0]],
        ['crypt', [{}, 1, 0, 0, small, 0, 2, small, 0]],
        ['sign', [key, small, 9, 0, small, 0, 4]],
        ['sign', [key, small, 4, 0, small, 5, 4]],
        ['sign', [key, small, 4, 0, small, 0, 21]],
        ['verify', [key, small, 5, 0, 4]],
        ['verify', [key, small, 4, 0, 0]],
        ['verify', [key, small]],
      ];
      for (const [name, args] of calls)
        assert.throws(
          () => addon[name]!(...args),
          { name: 'RangeError', code: 'ERR_VOXGATE_SRTP_NATIVE' },
          name,
        );
    });
  });
}
