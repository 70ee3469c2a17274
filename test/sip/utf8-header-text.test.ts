// RFC 3261 §25.1: display names, reason phrases and other TEXT-UTF8 are UTF-8 on the wire. What the parser reads
// of them is the text the sender wrote, and what the stack writes back out of it is the same bytes: a caller's
// accented display name reaches the callee leg as sent, not encoded a second time.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRequest, fromOf, parseMessage, serializeMessage, SipParseError } from '../../src/sip/index.js';
import { buildErrorResponseForRaw } from '../../src/sip/message/build-response.js';

function request(headers: string[]): Buffer {
  return Buffer.from(
    [
      'INVITE sip:bob@example.com SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-utf8',
      'To: <sip:bob@example.com>',
      'Call-ID: utf8-1@192.0.2.1',
      'CSeq: 1 INVITE',
      'Max-Forwards: 70',
      ...headers,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
    'utf8',
  );
}

describe('UTF-8 header text (§25.1 TEXT-UTF8, UTF8-NONASCII)', () => {
  test('a display name is read as the text sent and written back as the same bytes', () => {
    const from = 'From: "Frédéric Lefèvre" <sip:fred@example.com>;tag=8f2a';
    const m = parseMessage(request([from]), { datagram: true });
    assert.equal(fromOf(m)?.displayName, 'Frédéric Lefèvre');
    const value = m.headers.find((h) => h.name === 'From')!.value;
    const out = buildRequest('INVITE', 'sip:carol@example.com', [{ name: 'From', value }]);
    assert.ok(out.includes(Buffer.from(from, 'utf8')), out.toString('utf8'));
  });

  test('a value ending in a character whose last byte is 0xA0 keeps it (à = C3 A0)', () => {
    const m = parseMessage(request(['From: <sip:a@example.com>;tag=1', 'Subject: Voilà']), {
      datagram: true,
    });
    assert.equal(m.headers.find((h) => h.name === 'Subject')?.value, 'Voilà');
  });

  test('a folded line with UTF-8 is unfolded as text (§7.3.1)', () => {
    const m = parseMessage(request(['From: <sip:a@example.com>;tag=1', 'Subject: Réunion\r\n  à midi']), {
      datagram: true,
    });
    assert.equal(m.headers.find((h) => h.name === 'Subject')?.value, 'Réunion à midi');
  });

  test('a reason phrase in UTF-8 (§25.1 Reason-Phrase)', () => {
    const bytes = Buffer.from(
      [
        'SIP/2.0 486 Occupé',
        'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-utf8',
        'From: <sip:a@example.com>;tag=1',
        'To: <sip:bob@example.com>;tag=2',
        'Call-ID: utf8-2@192.0.2.1',
        'CSeq: 1 INVITE',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      'utf8',
    );
    const m = parseMessage(bytes, { datagram: true });
    assert.equal(m.kind === 'response' && m.reason, 'Occupé');
  });

  test('a folded status line with a UTF-8 reason phrase is decoded once (§7.3.1)', () => {
    const bytes = Buffer.from(
      [
        'SIP/2.0 200',
        '  Très bien, merci',
        'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-utf8',
        'From: <sip:a@example.com>;tag=1',
        'To: <sip:bob@example.com>;tag=2',
        'Call-ID: utf8-3@192.0.2.1',
        'CSeq: 1 INVITE',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      'utf8',
    );
    const m = parseMessage(bytes, { datagram: true });
    assert.equal(m.kind === 'response' && m.reason, 'Très bien, merci');
  });

  test('a message changed and serialized keeps the UTF-8 of the headers it did not touch', () => {
    const from = 'From: "Zoë" <sip:zoe@example.com>;tag=77';
    const m = parseMessage(request([from]), { datagram: true });
    const changed = {
      ...m,
      headers: [{ name: 'Via', value: 'SIP/2.0/UDP 203.0.113.9;branch=z9hG4bK-b2' }, ...m.headers],
    };
    assert.ok(serializeMessage(changed).includes(Buffer.from(from, 'utf8')));
  });

  test('a stateless 400 to a request that did not parse copies its UTF-8 headers as sent (§8.2.6.2)', () => {
    const from = 'From: "Jérôme" <sip:jerome@example.com>;tag=5';
    const bad = Buffer.from(
      request([from]).toString('utf8').replace('CSeq: 1 INVITE', 'CSeq: x INVITE'),
      'utf8',
    );
    assert.throws(() => parseMessage(bad, { datagram: true }), SipParseError);
    const response = buildErrorResponseForRaw(bad, 400, 'Bad Request');
    assert.ok(response?.includes(Buffer.from(from, 'utf8')), response?.toString('utf8'));
  });
});
