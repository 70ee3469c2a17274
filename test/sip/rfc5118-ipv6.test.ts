import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseMessage, requestUriOf, topViaOf, type SipEndpoint, type SipUri } from '../../src/sip/index.js';
import { loadFixture, startTortureUas, statusOf, udpExchange } from '../helpers/torture-uas.js';

/**
 * RFC 5118 "SIP Torture Test Messages for IPv6", over a real UDP socket (sent from 127.0.0.42 at the Via port)
 * to the minimal UAS of support/torture-uas.ts.
 *
 * Choices where the RFC allows one:
 * - ipv6-bug-abnf-3-colons: tolerated (RFC 5118 §4.10 asks implementations to accept the "3 colons" form),
 *   so 200.
 * - port-ambiguous: `[2001:db8::10:5070]` is an address without a port (§4.4), 200.
 */
const expected: Record<string, number> = {
  'ipv6-good': 200,
  'port-unambiguous': 200,
  'port-ambiguous': 200,
  'via-received-param-with-delim': 200,
  'via-received-param-no-delim': 200,
  'ipv6-in-sdp': 200,
  'mult-ip-in-header': 200,
  'mult-ip-in-sdp': 200,
  'ipv4-mapped-ipv6': 200,
  'ipv6-correct-abnf-2-colons': 200,
  'ipv6-bug-abnf-3-colons': 200,
  'ipv6-bad': 400,
};

describe('RFC 5118 IPv6 torture messages over a real UDP socket', () => {
  let endpoint: SipEndpoint;
  let port: number;
  before(async () => {
    endpoint = await startTortureUas();
    port = endpoint.address().udp!.port;
  });
  after(() => endpoint.close());

  test('every RFC 5118 fixture has an expected outcome', () => {
    const names = readdirSync(join(import.meta.dirname, '..', 'fixtures', 'sip', 'rfc5118'));
    assert.deepEqual(names.map((n) => n.replace(/\.dat$/, '')).sort(), Object.keys(expected).sort());
  });

  for (const [name, want] of Object.entries(expected)) {
    test(`${name} → ${want}`, async () => {
      const replies = await udpExchange(loadFixture('rfc5118', name), '127.0.0.42', port, 2000);
      assert.equal(replies.length, 1, `exactly one response, got ${replies.length}`);
      assert.equal(statusOf(replies[0]), want, replies[0]!.split('\r\n')[0]);
    });
  }
});

describe('RFC 5118 parsed values', () => {
  const parse = (name: string) => parseMessage(loadFixture('rfc5118', name), { datagram: true });

  test('ipv6-good: the Request-URI host is the bracketed reference', () => {
    const m = parse('ipv6-good');
    assert.ok(m.kind === 'request');
    assert.equal((requestUriOf(m) as SipUri).host, '[2001:db8::10]');
  });

  test('port-ambiguous (§4.4): [2001:db8::10:5070] has no port; port-unambiguous has 5070', () => {
    const a = parse('port-ambiguous');
    const b = parse('port-unambiguous');
    assert.ok(a.kind === 'request' && b.kind === 'request');
    assert.deepEqual(
      [(requestUriOf(a) as SipUri).host, (requestUriOf(a) as SipUri).port],
      ['[2001:db8::10:5070]', undefined],
    );
    assert.deepEqual(
      [(requestUriOf(b) as SipUri).host, (requestUriOf(b) as SipUri).port],
      ['[2001:db8::10]', 5070],
    );
  });

  test('via-received-param with and without delimiters (§4.5)', () => {
    assert.equal(topViaOf(parse('via-received-param-with-delim'))?.received, '[2001:db8::9:255]');
    assert.equal(topViaOf(parse('via-received-param-no-delim'))?.received, '2001:db8::9:255');
  });

  test('ipv4-mapped-ipv6 (§4.8): the Via host is the mapped address', () => {
    const via = topViaOf(parse('ipv4-mapped-ipv6'));
    assert.equal(via?.host, '[::ffff:192.0.2.10]');
    assert.equal(via?.port, 19823);
  });
});
