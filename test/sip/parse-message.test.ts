import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromOf, header, headerParam, headerValues, parseMessage, toOf } from '../../src/sip/index.js';

/** RFC 3261 §24.2, message F1: Alice's INVITE to Bob through atlanta.com. */
const F1 = [
  'INVITE sip:bob@biloxi.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.com>',
  'From: Alice <sip:alice@atlanta.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.com>',
  'Content-Type: application/sdp',
  'Content-Length: 4',
  '',
  'v=0\n',
].join('\r\n');

describe('SIP message parser', () => {
  test('RFC 3261 §24.2 F1: the eager fields', () => {
    const m = parseMessage(Buffer.from(F1), { datagram: true });
    assert.equal(m.kind, 'request');
    assert.ok(m.kind === 'request');
    assert.equal(m.method, 'INVITE');
    assert.equal(m.uri, 'sip:bob@biloxi.com');
    assert.equal(m.callId, 'a84b4c76e66710');
    assert.deepEqual(m.cseq, { seq: 314159, method: 'INVITE' });
    assert.equal(m.fromTag, '1928301774');
    assert.equal(m.toTag, undefined);
    assert.equal(headerParam(m.topVia, 'branch'), 'z9hG4bKnashds8');
    assert.equal(m.body.toString(), 'v=0\n');
  });

  test('§7.3.3 compact forms and §7.3.1 folding and lists', () => {
    const text = [
      'OPTIONS sip:x@example.com SIP/2.0',
      'v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2',
      'f: <sip:a@example.com>;tag=1',
      't: <sip:x@example.com>',
      'i: compact-1',
      'CSeq: 7',
      '  OPTIONS',
      'm: <sip:a@1.2.3.4>, "B, with comma" <sip:b@5.6.7.8>;q=0.5',
      'Allow: INVITE,',
      ' ACK',
      'l: 0',
      '',
      '',
    ].join('\r\n');
    const m = parseMessage(Buffer.from(text), { datagram: true });
    assert.equal(m.callId, 'compact-1');
    assert.deepEqual(m.cseq, { seq: 7, method: 'OPTIONS' });
    assert.equal(headerValues(m, 'Via').length, 2);
    assert.deepEqual(headerValues(m, 'Contact'), [
      '<sip:a@1.2.3.4>',
      '"B, with comma" <sip:b@5.6.7.8>;q=0.5',
    ]);
    assert.deepEqual(headerValues(m, 'Allow'), ['INVITE', 'ACK']);
    assert.equal(header(m, 'Content-Length'), '0');
  });

  test("the From/To tag is the header's own: not a ;tag= in the quoted display name or inside <uri>", () => {
    const message = (from: string, to: string) =>
      parseMessage(
        Buffer.from(
          [
            'OPTIONS sip:x@example.com SIP/2.0',
            'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1',
            `From: ${from}`,
            `To: ${to}`,
            'Call-ID: tags-1',
            'CSeq: 1 OPTIONS',
            'Content-Length: 0',
            '',
            '',
          ].join('\r\n'),
        ),
        { datagram: true },
      );
    let m = message('"Eve ;tag=evil" <sip:eve@example.com;tag=uri>;tag=real', '<sip:x@example.com;tag=uri>');
    assert.equal(m.fromTag, 'real');
    assert.equal(m.toTag, undefined, 'a tag inside <> is a URI parameter');
    assert.equal(fromOf(m)?.displayName, 'Eve ;tag=evil');
    m = message('"a;tag=1" <sip:a@example.com>', 'B <sip:b@example.com> ; x=1 ; TAG = t2 ;tag=t3');
    assert.equal(m.fromTag, undefined, 'a tag inside the quoted display name is text');
    assert.equal(m.toTag, 't2', 'the first tag parameter, its name in any case, spaces around "="');
    assert.equal(toOf(m)?.tag, 't2');
    // Not a plain address (a tel URI, an IPv6 host): read by the full parser, with the same answer.
    m = message('<tel:+15551234;tag=no>;tag=yes', '<sip:b@[2001:db8::1]>;tag=v6');
    assert.deepEqual([m.fromTag, m.toTag], ['yes', 'v6']);
    // Folded over two lines (§7.3.1) and written in compact form.
    const folded = parseMessage(
      Buffer.from(
        'OPTIONS sip:x@example.com SIP/2.0\r\nv: SIP/2.0/UDP a.example.com\r\n ;branch=z9hG4bK2\r\n' +
          'f: <sip:a@example.com>\r\n\t;tag=folded\r\nt: <sip:x@example.com>\r\ni: tags-2\r\nCSeq: 2\r\n OPTIONS\r\n\r\n',
      ),
      { datagram: true },
    );
    assert.equal(folded.fromTag, 'folded');
    assert.equal(headerParam(folded.topVia, 'branch'), 'z9hG4bK2');
    assert.deepEqual(folded.cseq, { seq: 2, method: 'OPTIONS' });
    assert.throws(
      () => message('<sip:a@example.com>;tag=1, <sip:b@example.com>', '<sip:x@example.com>'),
      /From/,
      'a second address in From is refused',
    );
  });

  test('the raw bytes of a parsed message are its bytes (round trip)', () => {
    const dir = join(import.meta.dirname, '..', 'fixtures', 'sip', 'rfc4475');
    for (const name of ['wsinv', 'esc01', 'longreq', 'mpart01', 'unreason']) {
      const bytes = readFileSync(join(dir, `${name}.dat`));
      const m = parseMessage(bytes, { datagram: true });
      assert.ok(m.raw && Buffer.compare(m.raw, bytes.subarray(0, m.raw.length)) === 0, name);
    }
    const dbl = readFileSync(join(dir, 'dblreq.dat'));
    const m = parseMessage(dbl, { datagram: true });
    assert.ok(m.raw!.length < dbl.length, 'dblreq: bytes after Content-Length are not part of the message');
  });
});
