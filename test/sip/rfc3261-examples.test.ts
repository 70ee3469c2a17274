import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildResponse,
  contactsOf,
  fromOf,
  header,
  parseMessage,
  requestUriOf,
  serializeMessage,
  toOf,
  topViaOf,
  viaOf,
  type SipMessage,
  type SipRequest,
  type SipUri,
} from '../../src/sip/index.js';

/** Messages of the RFC 3261 §24 call flows (registration §24.1, session setup §24.2). */
const crlf = (lines: string[], body = '') => Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'latin1');

const REGISTER_F1 = crlf([
  'REGISTER sips:ss2.biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7',
  'Max-Forwards: 70',
  'From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl',
  'To: Bob <sips:bob@biloxi.example.com>',
  'Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com',
  'CSeq: 1 REGISTER',
  'Contact: <sips:bob@client.biloxi.example.com>',
  'Content-Length: 0',
]);

const SDP = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.com',
  's=Session SDP',
  'c=IN IP4 pc33.atlanta.com',
  't=0 0',
  'm=audio 49172 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  '',
].join('\r\n');

const INVITE_F1 = crlf(
  [
    'INVITE sip:bob@biloxi.com SIP/2.0',
    'Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8',
    'Max-Forwards: 70',
    'To: Bob <sip:bob@biloxi.com>',
    'From: Alice <sip:alice@atlanta.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710',
    'CSeq: 314159 INVITE',
    'Contact: <sip:alice@pc33.atlanta.com>',
    'Content-Type: application/sdp',
    `Content-Length: ${SDP.length}`,
  ],
  SDP,
);

const OK_F9 = crlf([
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3',
  'Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2',
  'Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1',
  'Record-Route: <sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>',
  'To: Bob <sip:bob@biloxi.com>;tag=a6c85cf',
  'From: Alice <sip:alice@atlanta.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710',
  'CSeq: 314159 INVITE',
  'Contact: <sip:bob@192.0.2.4>',
  'Content-Length: 0',
]);

const BYE_F13 = crlf([
  'BYE sip:alice@pc33.atlanta.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10',
  'Max-Forwards: 70',
  'From: Bob <sip:bob@biloxi.com>;tag=a6c85cf',
  'To: Alice <sip:alice@atlanta.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710',
  'CSeq: 231 BYE',
  'Content-Length: 0',
]);

const parse = (b: Buffer): SipMessage => parseMessage(b, { datagram: true });
function request(b: Buffer): SipRequest {
  const m = parse(b);
  assert.ok(m.kind === 'request');
  return m;
}

describe('RFC 3261 §24 example messages', () => {
  test('§24.1 F1 REGISTER: sips Request-URI, To without tag, one Contact', () => {
    const m = request(REGISTER_F1);
    assert.equal(m.method, 'REGISTER');
    const uri = requestUriOf(m) as SipUri;
    assert.deepEqual([uri.scheme, uri.user, uri.host], ['sips', undefined, 'ss2.biloxi.example.com']);
    assert.equal(m.toTag, undefined);
    assert.equal(m.fromTag, 'a73kszlfl');
    const via = topViaOf(m)!;
    assert.deepEqual(
      [via.transport, via.host, via.port, via.branch],
      ['TLS', 'client.biloxi.example.com', 5061, 'z9hG4bKnashds7'],
    );
    const contacts = contactsOf(m);
    assert.ok(contacts !== '*');
    assert.deepEqual(
      contacts.map((c) => c.uriText),
      ['sips:bob@client.biloxi.example.com'],
    );
  });

  test('§24.2 F1 INVITE: the eager fields, the lazy From/To and the body as bytes', () => {
    const m = request(INVITE_F1);
    assert.deepEqual([m.method, m.uri, m.callId], ['INVITE', 'sip:bob@biloxi.com', 'a84b4c76e66710']);
    assert.deepEqual(m.cseq, { seq: 314159, method: 'INVITE' });
    assert.equal(fromOf(m)?.displayName, 'Alice');
    assert.equal((fromOf(m)?.uri as SipUri).user, 'alice');
    assert.equal(toOf(m)?.tag, undefined);
    assert.ok(Buffer.isBuffer(m.body));
    assert.equal(m.body.toString('latin1'), SDP);
  });

  test('§24.2 F9 200 OK: three Vias in order, To tag, Record-Route kept', () => {
    const m = parse(OK_F9);
    assert.ok(m.kind === 'response');
    assert.deepEqual([m.status, m.reason], [200, 'OK']);
    assert.deepEqual(
      viaOf(m).map((v) => [v.host, v.received]),
      [
        ['server10.biloxi.com', '192.0.2.3'],
        ['bigbox3.site3.atlanta.com', '192.0.2.2'],
        ['pc33.atlanta.com', '192.0.2.1'],
      ],
    );
    assert.equal(m.toTag, 'a6c85cf');
    assert.equal(
      header(m, 'Record-Route'),
      '<sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>',
    );
  });

  test('§24.2 F13 BYE: both tags', () => {
    const m = request(BYE_F13);
    assert.deepEqual([m.fromTag, m.toTag, m.cseq.method], ['a6c85cf', '1928301774', 'BYE']);
  });

  test('§8.2.6.2: a response to F1 copies Via, From, Call-ID, CSeq and adds a To tag (not to a 100)', () => {
    const invite = request(INVITE_F1);
    const ringing = parse(buildResponse(invite, 180, 'Ringing', { Contact: '<sip:bob@192.0.2.4>' }));
    assert.ok(ringing.kind === 'response');
    assert.equal(ringing.status, 180);
    for (const name of ['Via', 'From', 'Call-ID', 'CSeq'])
      assert.equal(header(ringing, name), header(invite, name));
    assert.match(ringing.toTag ?? '', /^[0-9a-f]{8,}$/);
    assert.equal(toOf(ringing)?.uriText, 'sip:bob@biloxi.com');
    const trying = parse(buildResponse(invite, 100, 'Trying'));
    assert.equal(trying.toTag, undefined);
    const bye = request(BYE_F13);
    const ok = parse(buildResponse(bye, 200, 'OK'));
    assert.equal(ok.toTag, '1928301774', 'a To tag of the request is kept as it is');
  });

  test('round trip: an unchanged message serializes to its exact bytes; a changed one is written anew', () => {
    for (const bytes of [REGISTER_F1, INVITE_F1, OK_F9, BYE_F13]) {
      assert.ok(serializeMessage(parse(bytes)).equals(bytes));
    }
    const m = request(INVITE_F1);
    const changed: SipRequest = {
      ...m,
      headers: m.headers.map((h) => (h.name === 'Max-Forwards' ? { name: h.name, value: '69' } : h)),
    };
    const out = serializeMessage(changed);
    assert.ok(!out.equals(INVITE_F1));
    const again = request(out);
    assert.equal(header(again, 'Max-Forwards'), '69');
    assert.equal(again.body.toString('latin1'), SDP);
    assert.equal(header(again, 'Content-Length'), String(SDP.length));
  });
});
