import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalHeaderName,
  parseContact,
  parseCSeq,
  parseFrom,
  parseMaxForwards,
  parseNameAddr,
  parseUri,
  parseVia,
  SipParseError,
  unescapeUri,
  uriParam,
  type SipErrorCode,
  type SipUri,
  type TelUri,
} from '../../src/sip/index.js';

function throwsCode(fn: () => unknown, code: SipErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof SipParseError && err.code === code);
}

describe('URIs (RFC 3261 §19.1, §25.1; RFC 3966)', () => {
  test('a sip URI with every component', () => {
    const uri = parseUri(
      'sips:alice:secret@Atlanta.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent',
    );
    assert.equal(uri.scheme, 'sips');
    const s = uri as SipUri;
    assert.deepEqual([s.user, s.password, s.host, s.port], ['alice', 'secret', 'Atlanta.com', 5061]);
    assert.equal(uriParam(s, 'TRANSPORT'), 'tcp');
    assert.equal(uriParam(s, 'lr'), '');
    assert.deepEqual(s.headers, [
      { name: 'subject', value: 'project%20x' },
      { name: 'priority', value: 'urgent' },
    ]);
  });

  test('user parts with ; ? and escapes (RFC 4475 semiuri, esc01, escnull)', () => {
    assert.equal(
      (parseUri('sip:user;par=u%40example.net@example.com') as SipUri).user,
      'user;par=u%40example.net',
    );
    assert.equal(unescapeUri('sips%3Auser%40example.com'), 'sips:user@example.com');
    assert.equal(unescapeUri('null-%00-null'), 'null-\u0000-null');
    assert.equal(unescapeUri('%C3%A9t%C3%A9'), 'été');
  });

  test('IPv6 references, and an unbracketed IPv6 is not a host (RFC 5118 §4.5)', () => {
    const s = parseUri('sip:[2001:db8::10]:5070') as SipUri;
    assert.deepEqual([s.host, s.port], ['[2001:db8::10]', 5070]);
    throwsCode(() => parseUri('sip:2001:db8::10'), 'SIP_PARSE_URI');
  });

  test('tel URIs and unknown schemes (kept for 416)', () => {
    const t = parseUri('tel:+1-201-555-0123;phone-context=example.com') as TelUri;
    assert.deepEqual(
      [t.scheme, t.number, uriParam(t, 'phone-context')],
      ['tel', '+1-201-555-0123', 'example.com'],
    );
    const u = parseUri('soap.beep://192.0.2.103:3002');
    assert.deepEqual([u.scheme, 'opaque' in u && u.opaque], ['soap.beep', '//192.0.2.103:3002']);
    assert.equal(parseUri('isbn:2983792873').scheme, 'isbn');
  });

  test('malformed URIs throw SIP_PARSE_URI', () => {
    for (const bad of [
      'sip:',
      'sip:user@',
      'sip:host:99999',
      'sip:host;=x',
      'sip:host?noequals',
      '1sip:x',
      'sip:us er@host',
      'tel:',
      'x:',
    ]) {
      throwsCode(() => parseUri(bad), 'SIP_PARSE_URI');
    }
  });
});

describe('headers (RFC 3261 §20, §25.1)', () => {
  test('Via: several via-parms, LWS around the slashes, rport and received (RFC 3581)', () => {
    const vias = parseVia(
      'SIP / 2.0 / udp 192.0.2.1:5060 ;branch=z9hG4bK1;rport, SIP/2.0/TCP [2001:db8::1];received=192.0.2.9',
    );
    assert.equal(vias.length, 2);
    assert.deepEqual(
      [vias[0]!.transport, vias[0]!.host, vias[0]!.port, vias[0]!.branch, vias[0]!.rport],
      ['UDP', '192.0.2.1', 5060, 'z9hG4bK1', ''],
    );
    assert.deepEqual(
      [vias[1]!.host, vias[1]!.received, vias[1]!.rport],
      ['[2001:db8::1]', '192.0.2.9', undefined],
    );
    throwsCode(() => parseVia('SIP/2.0/UDP 192.0.2.15;;,;,,'), 'SIP_PARSE_VIA');
    throwsCode(() => parseVia('192.0.2.15'), 'SIP_PARSE_VIA');
  });

  test('From/To: quoted display names with escapes, token display names, addr-spec params belong to the header', () => {
    const a = parseFrom('"J Rosenberg \\\\\\"" <sip:jdrosen@example.com> ; tag = 98asjd8');
    assert.deepEqual(
      [a.displayName, a.uriText, a.tag],
      ['J Rosenberg \\"', 'sip:jdrosen@example.com', '98asjd8'],
    );
    const b = parseFrom('Bob Smith<sip:bob@example.com>;tag=x');
    assert.deepEqual([b.displayName, b.bracketed], ['Bob Smith', true]);
    const c = parseFrom('sip:caller@example.net;tag=134161461246');
    assert.deepEqual([c.uriText, c.tag, c.bracketed], ['sip:caller@example.net', '134161461246', false]);
  });

  test('name-addr defects of RFC 4475: quotbal, badaspec, baddn, regbadct', () => {
    throwsCode(() => parseNameAddr('To', '"Mr. J. User <sip:j.user@example.com>'), 'SIP_PARSE_ADDRESS');
    throwsCode(
      () => parseNameAddr('To', '"Watson, Thomas" < sip:t.watson@example.org >'),
      'SIP_PARSE_ADDRESS',
    );
    throwsCode(
      () => parseNameAddr('From', 'Bell, Alexander <sip:a.g.bell@example.com>;tag=43'),
      'SIP_PARSE_URI',
    );
    throwsCode(
      () => parseContact('sip:user@example.com?Route=%3Csip:sip.example.com%3E'),
      'SIP_PARSE_ADDRESS',
    );
  });

  test('Contact: lists with commas inside quotes, params inside vs outside <>, the wildcard', () => {
    const list = parseContact(
      '"Mr. Watson, Jr." <sip:watson@worcester.example.com;transport=tcp>;q=0.7; expires=3600, sip:x@y.example.com;unknownparam',
    );
    assert.ok(list !== '*');
    assert.deepEqual(
      list.map((c) => [c.displayName, c.uriText, c.params.map((p) => `${p.name}=${p.value ?? ''}`)]),
      [
        ['Mr. Watson, Jr.', 'sip:watson@worcester.example.com;transport=tcp', ['q=0.7', 'expires=3600']],
        [undefined, 'sip:x@y.example.com', ['unknownparam=']],
      ],
    );
    assert.equal(parseContact(' * '), '*');
  });

  test('CSeq and Max-Forwards ranges', () => {
    assert.deepEqual(parseCSeq('0009 INVITE'), { seq: 9, method: 'INVITE' });
    throwsCode(() => parseCSeq('2147483648 INVITE'), 'SIP_PARSE_CSEQ');
    throwsCode(() => parseCSeq('1'), 'SIP_PARSE_CSEQ');
    assert.equal(parseMaxForwards('0068'), 68);
    throwsCode(() => parseMaxForwards('256'), 'SIP_PARSE_HEADER');
  });

  test('§7.3.3 compact forms expand to their canonical names; unknown names are kept', () => {
    const compact = {
      i: 'Call-ID',
      m: 'Contact',
      e: 'Content-Encoding',
      l: 'Content-Length',
      c: 'Content-Type',
      f: 'From',
      s: 'Subject',
      k: 'Supported',
      t: 'To',
      v: 'Via',
      o: 'Event',
      r: 'Refer-To',
      b: 'Referred-By',
      x: 'Session-Expires',
      u: 'Allow-Events',
    };
    for (const [short, full] of Object.entries(compact)) {
      assert.equal(canonicalHeaderName(short), full);
      assert.equal(canonicalHeaderName(short.toUpperCase()), full);
    }
    assert.equal(canonicalHeaderName('cSeQ'), 'CSeq');
    assert.equal(canonicalHeaderName('X-Unknown'), 'X-Unknown');
  });
});
