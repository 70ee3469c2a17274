// The Call-ID a SIP worker reads from a raw datagram to find its owner, without parsing it: the one the parser
// reads (any case, the compact form `i`, blanks around the value), and the Call-IDs a worker makes hash to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  findCallId,
  mintCallId,
  ownCallIds,
  ownerOf,
  ownerOfBytes,
} from '../../src/gateway/call-id-owner.js';
import { parseMessage } from '../../src/sip/index.js';

const request = (callIdLine: string, extra = '') =>
  Buffer.from(
    [
      'OPTIONS sip:bob@example.com SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc',
      'If-Match: x',
      'From: <sip:alice@example.com>;tag=1',
      'To: <sip:bob@example.com>',
      extra,
      callIdLine,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ]
      .filter((l, i, all) => l !== '' || i >= all.length - 2)
      .join('\r\n'),
  );

const found = (bytes: Buffer) => {
  const at = findCallId(bytes);
  return at && bytes.toString('latin1', at.start, at.end);
};

test('the Call-ID is found as the parser reads it, in every spelling of its name', () => {
  for (const line of [
    'Call-ID: a84b4c76e66710@pc33.atlanta.com',
    'call-id:a84b4c76e66710@pc33.atlanta.com',
    'CALL-ID \t:  a84b4c76e66710@pc33.atlanta.com  ',
    'i: a84b4c76e66710@pc33.atlanta.com',
    'I:a84b4c76e66710@pc33.atlanta.com',
  ]) {
    const bytes = request(line);
    assert.equal(found(bytes), 'a84b4c76e66710@pc33.atlanta.com', line);
    assert.equal(parseMessage(bytes, { datagram: true }).callId, found(bytes), line);
  }
});

test('a header whose name only starts like it is not the Call-ID, nor is anything in the body', () => {
  assert.equal(found(request('Call-ID: real', 'Call-Info: <http://x>;purpose=icon')), 'real');
  assert.equal(found(request('Identity-Info: <x>')), undefined);
  const body = Buffer.from(
    'MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 MESSAGE\r\n\r\ni: not-a-header\r\n',
  );
  assert.equal(findCallId(body), undefined);
});

test('the bytes and the string of a Call-ID hash to the same worker', () => {
  for (const id of ['a84b4c76e66710@pc33.atlanta.com', 'x', '0123456789abcdef01234567']) {
    const bytes = Buffer.from(id, 'latin1');
    for (const workers of [1, 2, 3, 8])
      assert.equal(ownerOfBytes(bytes, 0, bytes.length, workers), ownerOf(id, workers));
  }
});

test('the Call-IDs a worker makes hash to it, and they are not all the same', () => {
  try {
    for (const worker of [0, 1, 2]) {
      ownCallIds({ worker, workers: 3 });
      const made = Array.from({ length: 50 }, () => mintCallId());
      for (const id of made) assert.equal(ownerOf(id, 3), worker);
      assert.equal(new Set(made).size, 50);
    }
    assert.throws(() => ownCallIds({ worker: 2, workers: 2 }), RangeError);
  } finally {
    ownCallIds({ worker: 0, workers: 1 });
  }
});
