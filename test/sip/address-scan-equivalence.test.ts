/*
 * The address scanners read a URI once where they used to read parts of it twice; what they accept and refuse,
 * and with which error, is pinned here on the cases where the two readings could part: the host read to its end
 * (RFC 3261 §25.1 hostport), the userinfo of a plain address found without looking for an "@" further on, and
 * whitespace inside <> (RFC 4475 §3.1.2.14, badaspec) refused as the address's error for every scheme.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isPlainSipUri } from '../../src/sip/headers/plain-sip-uri.js';
import {
  parseFrom,
  parseNameAddr,
  parseUri,
  SipParseError,
  type SipErrorCode,
  type SipUri,
} from '../../src/sip/index.js';

function codeOf(fn: () => unknown): SipErrorCode | 'accepted' {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    if (err instanceof SipParseError) return err.code;
    throw err;
  }
}

function plain(uri: string): boolean {
  // The URI inside a longer text, as the From/To scan reads it: the text beyond `end` must not count.
  const text = `<${uri}>;tag=a@b:c;d`;
  return isPlainSipUri(text, 1, 1 + uri.length);
}

describe('address scanners: one reading, the same verdicts', () => {
  test('sip URI hosts end at ":", ";", "?" or the end, and are hostnames up to there', () => {
    const host = (text: string) => (parseUri(text) as SipUri).host;
    assert.equal(host('sip:gw.example.com.'), 'gw.example.com.');
    assert.equal(host('sip:a@gw.example.com.;lr'), 'gw.example.com.');
    assert.equal(host('sip:1.2.3.4:5060?Subject=x'), '1.2.3.4');
    assert.equal(host('sip:a-b.c'), 'a-b.c');
    for (const bad of [
      'sip:gw.example.com>',
      'sip:gw_example.com',
      'sip:gw-.example.com',
      'sip:-gw.example.com',
      'sip:gw..example.com',
      'sip:gw.example.com/x',
      'sip:',
      'sip:a@',
      'sip:a@;lr',
    ]) {
      assert.equal(
        codeOf(() => parseUri(bad)),
        'SIP_PARSE_URI',
        bad,
      );
    }
  });

  test('a plain address: userinfo ends at the first "@"; one further on is refused', () => {
    for (const ok of [
      'sip:alice@example.com',
      'sip:+44;npdi@example.com',
      'sip:a%20b@example.com:5060;transport=udp',
      'sip:example.com',
      'sip:example.com;lr',
      'sips:alice@example.com',
      // user-unreserved holds ";" and "=": all of this up to the "@" is the user.
      'sip:example.com;x=a@b',
    ]) {
      assert.equal(plain(ok), true, ok);
      assert.equal(
        codeOf(() => parseUri(ok)),
        'accepted',
        ok,
      );
    }
    for (const no of [
      'sip:@example.com',
      'sip:a%zz@example.com',
      'sip:example.com;x=%zz',
      'sip:alice:secret@example.com',
      'sip:a@b@example.com',
      'sip:example.com:99999',
    ]) {
      assert.equal(plain(no), false, no);
    }
  });

  test('the tag of a plain address is the one the full parse reads', () => {
    for (const value of [
      '"Alice Example" <sip:alice@example.com>;tag=1928301774',
      '<sip:+442079460000@gw.example.com;user=phone>;tag=a6c85cf',
      'sip:caller@example.net;tag=134161461246',
    ]) {
      assert.equal(parseFrom(value).tag, value.slice(value.lastIndexOf('=') + 1), value);
    }
  });

  test('whitespace inside <> is the address error whatever the scheme; a URI error stays one', () => {
    for (const value of [
      '<sip:alice @example.com>',
      '< sip:alice@example.com>',
      '<sip:alice@example.com >',
      '<sip:alice@example.com;\ttransport=tcp>',
      '<tel:+1 234 5678>',
      '<urn:service: sos>',
      '<sip:alice@exa\u00a0mple.com>',
      '"Bob" <sip:bob@example.com\u2028>',
    ]) {
      assert.equal(
        codeOf(() => parseNameAddr('To', value)),
        'SIP_PARSE_ADDRESS',
        value,
      );
    }
    assert.equal(
      codeOf(() => parseNameAddr('To', '<sip:alice@exa_mple.com>')),
      'SIP_PARSE_URI',
    );
    assert.equal(
      codeOf(() => parseNameAddr('To', '<1nvalid:x>')),
      'SIP_PARSE_URI',
    );
    assert.equal(
      codeOf(() => parseNameAddr('To', '<tel:+1-234>')),
      'accepted',
    );
  });
});
