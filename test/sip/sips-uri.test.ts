// RFC 3261 §19.1: a SIPS URI by its scheme, matched case-insensitively (§19.1.4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSipsUri } from '../../src/sip/index.js';

test('§19.1.4: the sips scheme in any case is SIPS; sip, tel and a bare "sips" are not', () => {
  assert.equal(isSipsUri('sips:alice@example.com'), true);
  assert.equal(isSipsUri('SIPS:alice@example.com;transport=tcp'), true);
  assert.equal(isSipsUri('sip:alice@example.com;transport=tls'), false);
  assert.equal(isSipsUri('tel:+4420794600'), false);
  assert.equal(isSipsUri('sips'), false);
});
