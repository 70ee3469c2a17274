// hmacSha256 (src/sip/auth/hmac-sha256.ts) against node:crypto's Hmac, for the texts and keys the digest
// server signs with: short ASCII nonces, UTF-8 user names, texts longer than the kept buffer, keys longer than
// SHA-256's block (RFC 2104 §2: hashed first), and the RFC 4231 §4.2 test case 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { hmacSha256 } from '../../src/sip/auth/hmac-sha256.js';

const reference = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest('base64url');

test('RFC 4231 §4.2, test case 1: key 0x0b × 20, "Hi There"', () => {
  assert.equal(
    Buffer.from(hmacSha256(Buffer.alloc(20, 0x0b), 'Hi There'), 'base64url').toString('hex'),
    'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
  );
});

test('the same value as createHmac for every text and key size the digest server uses', () => {
  const texts = [
    '',
    'mf9k2x.abcdefghijklmnop',
    'opaque:acme.example',
    'no-such-user:Frédéric 日本',
    'x'.repeat(64),
    'y'.repeat(500),
    'é'.repeat(100),
  ];
  for (const size of [1, 32, 64, 65, 200]) {
    const key = randomBytes(size);
    for (const text of texts) assert.equal(hmacSha256(key, text), reference(key, text), `${size}-byte key`);
  }
});

test('values of different keys and texts do not mix (the buffers kept per key are reused)', () => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  const first = hmacSha256(a, 'long text '.repeat(10));
  assert.equal(hmacSha256(b, 'short'), reference(b, 'short'));
  assert.equal(hmacSha256(a, 'short'), reference(a, 'short'));
  assert.equal(hmacSha256(a, 'long text '.repeat(10)), first);
});
