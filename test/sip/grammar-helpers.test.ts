// The helpers src/sip offers so that no other plane parses or writes SIP grammar itself.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bareHost,
  formatHost,
  formatHostPort,
  formatNameAddr,
  parseHostPort,
  parseNameAddr,
  topLevelComma,
  uriUser,
  withoutTag,
} from '../../src/sip/index.js';

describe('src/sip grammar helpers', () => {
  test('formatHost/formatHostPort bracket IPv6 once; parseHostPort reads what they write', () => {
    assert.equal(formatHost('2001:db8::1'), '[2001:db8::1]');
    assert.equal(formatHost('[2001:db8::1]'), '[2001:db8::1]');
    assert.equal(formatHost('carrier.example'), 'carrier.example');
    assert.equal(formatHostPort('::1', 5060), '[::1]:5060');
    assert.equal(formatHostPort('192.0.2.1', 5070), '192.0.2.1:5070');
    assert.deepEqual(parseHostPort('[::1]:5060'), { host: '::1', port: 5060 });
    assert.deepEqual(parseHostPort('gw.example:5080'), { host: 'gw.example', port: 5080 });
    assert.equal(parseHostPort('::1'), undefined, 'an unbracketed IPv6 address has no port');
    assert.equal(parseHostPort('gw.example'), undefined);
    assert.equal(parseHostPort('gw.example:50x0'), undefined);
    assert.equal(bareHost('[::1]'), '::1');
  });

  test('uriUser: the user of a sip URI, the number of a tel URI; a host-only sip URI has none', () => {
    assert.equal(uriUser('sip:alice@acme.example;transport=tcp'), 'alice');
    assert.equal(uriUser('sips:+15550100@[2001:db8::1]:5061'), '+15550100');
    assert.equal(uriUser('tel:+1-555-0100;phone-context=example.com'), '+1-555-0100');
    assert.equal(uriUser('sip:acme.example'), undefined, 'sip:host names a host, not a user');
    assert.equal(uriUser('sip:acme.example:5060;lr'), undefined);
    assert.equal(uriUser('mailto:alice@acme.example'), undefined);
    assert.equal(uriUser('not a uri'), undefined);
  });

  test('withoutTag removes the tag header parameter only, never a URI parameter', () => {
    assert.equal(withoutTag('"A" <sip:a@b>;tag=1234;x=y'), '"A" <sip:a@b>;x=y');
    assert.equal(withoutTag('<sip:a@b;tag=inuri>;tag=9'), '<sip:a@b;tag=inuri>');
    assert.equal(withoutTag('sip:a@b;tag=9'), 'sip:a@b');
    assert.equal(withoutTag('<sip:a@b>'), '<sip:a@b>');
  });

  test('formatNameAddr quotes the display name and escapes it so that it parses back', () => {
    assert.equal(formatNameAddr(undefined, 'sip:a@b'), '<sip:a@b>');
    const written = formatNameAddr('Alice "Al" \\ Smith', 'sip:a@b');
    assert.equal(written, '"Alice \\"Al\\" \\\\ Smith" <sip:a@b>');
    assert.equal(parseNameAddr('From', written).displayName, 'Alice "Al" \\ Smith');
  });

  test('topLevelComma skips commas in quoted strings (with quoted-pairs) and inside <>', () => {
    assert.equal(topLevelComma('SIP/2.0/UDP a;x="1,2", SIP/2.0/UDP b'), 21);
    assert.equal(topLevelComma('"a\\",b" <sip:a@b;x=1,2>, <sip:c@d>'), 23);
    assert.equal(topLevelComma('<sip:a@b>'), -1);
  });
});
