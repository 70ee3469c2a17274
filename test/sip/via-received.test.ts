/*
 * RFC 3261 §18.2.1 (received) and RFC 3581 §4 (rport) stamped on the top Via of a request as it arrives. The
 * transport hands the stamped header on with its via-parms already parsed, so they are not parsed again: pinned
 * here, what it hands on is what parsing the stamped text gives, for the forms deployed UAs send.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVia } from '../../src/sip/headers/via.js';
import { cachedParse, newHeader } from '../../src/sip/message/header-cache.js';
import { responseDestination, stampTopVia } from '../../src/sip/transport/via-received.js';

const remote = { address: '192.0.2.7', port: 40123 };
const remote6 = { address: '2001:db8::7', port: 5062 };

const cases: [string, { address: string; port: number }, string][] = [
  [
    'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport',
    remote,
    'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport=40123;received=192.0.2.7',
  ],
  [
    'SIP/2.0/UDP 192.0.2.7:5060;rport;branch=z9hG4bK2',
    remote,
    'SIP/2.0/UDP 192.0.2.7:5060;rport=40123;branch=z9hG4bK2',
  ],
  [
    'SIP/2.0/UDP host.example.com;branch=z9hG4bK3',
    remote,
    'SIP/2.0/UDP host.example.com;branch=z9hG4bK3;received=192.0.2.7',
  ],
  [
    'SIP/2.0/UDP h;RPORT ;branch=z9hG4bK4;rport',
    remote,
    'SIP/2.0/UDP h;rport=40123 ;branch=z9hG4bK4;rport;received=192.0.2.7',
  ],
  [
    'SIP/2.0/UDP h;branch=z9hG4bK5;received=198.51.100.1;rport=7',
    remote,
    'SIP/2.0/UDP h;branch=z9hG4bK5;received=198.51.100.1;rport=7',
  ],
  [
    'SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK6;rport, SIP/2.0/TCP p;branch=z9hG4bK0',
    remote6,
    'SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK6;rport=5062;received=2001:db8::7, SIP/2.0/TCP p;branch=z9hG4bK0',
  ],
];

for (const [value, from, stamped] of cases) {
  test(`§18.2.1 / RFC 3581 §4: ${value} from ${from.address}:${from.port}`, () => {
    const headers = stampTopVia([newHeader('Call-ID', 'c'), newHeader('Via', value)], from);
    const via = headers[1]!;
    // The rport replacement matches case-insensitively, as the parameter name is.
    assert.equal(via.value.toLowerCase(), stamped.toLowerCase());
    const handedOn = cachedParse(via, () => assert.fail('the stamped Via was parsed again'));
    assert.deepEqual(handedOn, parseVia(via.value));
    const rport = parseVia(via.value)[0]!.rport;
    assert.deepEqual(
      responseDestination(via, from),
      rport === undefined ? { address: from.address, port: parseVia(via.value)[0]!.port ?? 5060 } : from,
    );
  });
}

test('a Via with a quoted parameter value is stamped as text and parsed again when read', () => {
  const value = 'SIP/2.0/UDP h;x="a;rport;b";rport;branch=z9hG4bK7';
  const via = stampTopVia([newHeader('Via', value)], remote)[0]!;
  let parsedAgain = false;
  const parms = cachedParse(via, (text) => {
    parsedAgain = true;
    return parseVia(text);
  });
  assert.ok(parsedAgain);
  assert.equal(parms[0]!.received, remote.address);
});

test('a Via the parser refuses is stamped from its sent-by read leniently', () => {
  const headers = stampTopVia(
    [newHeader('Via', 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport;=x')],
    remote,
  );
  assert.equal(
    headers[0]!.value,
    'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport=40123;=x;received=192.0.2.7',
  );
});
