import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressAllowed,
  isPublicAddress,
  nameAllowed,
  parseWebhookAllow,
  webhookUrlRefusal,
} from '../../src/store/index.js';

test('VOXGATE_WEBHOOK_ALLOW: names, suffixes, addresses, CIDRs and public; anything else refused', () => {
  const allow = parseWebhookAllow(
    ' Hooks.Example.com , .apps.example, *.corp.example, 203.0.113.0/24, 2001:db8::1 ',
  );
  assert.ok(allow);
  assert.ok(nameAllowed(allow, 'hooks.example.com'));
  assert.ok(!nameAllowed(allow, 'evil-hooks.example.com'));
  assert.ok(nameAllowed(allow, 'a.apps.example'));
  assert.ok(nameAllowed(allow, 'x.y.corp.example'));
  assert.ok(!nameAllowed(allow, 'apps.example'), 'a suffix is not the name itself');
  assert.ok(!nameAllowed(allow, 'evilapps.example'));
  assert.ok(addressAllowed(allow, '203.0.113.77'));
  assert.ok(addressAllowed(allow, '::ffff:203.0.113.77'), 'IPv4-mapped IPv6 is its IPv4');
  assert.ok(addressAllowed(allow, '2001:db8::1'));
  assert.ok(!addressAllowed(allow, '2001:db8::2'));
  assert.ok(!addressAllowed(allow, '8.8.8.8'), 'public is not in this list');

  for (const bad of ['10.0.0.0/33', '10.0.0.0/', 'fe80::/129', 'bad host', '*.', 'http://x', '10.0.0.0/8/8'])
    assert.equal(parseWebhookAllow(bad), undefined, bad);
  const empty = parseWebhookAllow('');
  assert.ok(empty && !empty.publicAddresses && empty.names.size === 0 && !empty.hasAddresses);
});

test('public: special-purpose ranges are not public', () => {
  for (const a of ['8.8.8.8', '1.1.1.1', '2a00:1450:4007:80e::200e', '::ffff:8.8.8.8'])
    assert.ok(isPublicAddress(a), a);
  for (const a of [
    '127.0.0.1',
    '10.1.2.3',
    '172.20.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fd00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '64:ff9b::a00:1',
    'not an address',
  ])
    assert.ok(!isPublicAddress(a), a);
  const pub = parseWebhookAllow('public')!;
  assert.ok(addressAllowed(pub, '8.8.8.8'));
  assert.ok(!addressAllowed(pub, '127.0.0.1'));
});

test('a URL is checked for its scheme, credentials and host, names by what they resolve to', async () => {
  const allow = parseWebhookAllow('public, hooks.internal')!;
  const resolve = async (host: string) => (host === 'inside.example' ? ['10.0.0.5'] : ['93.184.216.34']);
  assert.equal(await webhookUrlRefusal('https://example.com/x', allow, resolve), undefined);
  assert.equal(await webhookUrlRefusal('http://hooks.internal:8080/', allow, resolve), undefined, 'by name');
  assert.match(
    (await webhookUrlRefusal('http://inside.example/', allow, resolve))!,
    /resolves to 10\.0\.0\.5/,
  );
  assert.match((await webhookUrlRefusal('http://[fd00::1]/', allow, resolve))!, /fd00::1 is not an allowed/);
  assert.match((await webhookUrlRefusal('http://0x7f000001/', allow, resolve))!, /127\.0\.0\.1 is not/);
  assert.match((await webhookUrlRefusal('gopher://example.com/', allow, resolve))!, /http or https/);
  assert.match((await webhookUrlRefusal('https://a:b@example.com/', allow, resolve))!, /credentials/);
  assert.match((await webhookUrlRefusal('https://example.com/#frag', allow, resolve))!, /fragment/);
});
