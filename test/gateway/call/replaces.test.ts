// RFC 3891 §6.1: the dialog a Replaces header names, as the gateway (the receiving UAS) matches it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReplaces } from '../../../src/gateway/index.js';

test('Replaces: the Call-ID, the to-tag as our (local) tag and the from-tag as the remote one', () => {
  assert.deepEqual(parseReplaces('98asjd8@test.com;to-tag=12345;from-tag=54321'), {
    callId: '98asjd8@test.com',
    localTag: '12345',
    remoteTag: '54321',
  });
  assert.deepEqual(parseReplaces('a1 ; from-tag=f ; early-only ; to-tag=t'), {
    callId: 'a1',
    localTag: 't',
    remoteTag: 'f',
  });
});

test('Replaces: "exactly one to-tag and exactly one from-tag", else malformed', () => {
  for (const value of [
    'c',
    'c;to-tag=t',
    'c;from-tag=f',
    'c;to-tag=t;to-tag=u;from-tag=f',
    ';to-tag=t;from-tag=f',
    'c;to-tag=;from-tag=f',
  ])
    assert.equal(parseReplaces(value), undefined, value);
});
