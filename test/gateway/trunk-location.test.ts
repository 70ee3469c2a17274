// RFC 3263 for trunks: a carrier given as a domain is located through DNS (SRV for the trunk's transport, then
// A/AAAA) and its addresses are tried in order like the trunks of a route; an IP address needs no DNS. The DNS
// answers come from the test server of test/sip/support; the carriers are UDP phones on loopback addresses.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';
import { startGateway, type Gateway } from '../../src/gateway/gateway.js';
import { createMediaAnchor } from '../../src/gateway/media-anchor.js';
import type { GatewayTrunk, RoutingDirectory } from '../../src/gateway/call-routing.js';
import { createTrunkLocator } from '../../src/gateway/trunk-locator.js';
import { computeHa1, type DnsResolver, type SipRequest } from '../../src/sip/index.js';
import { createMemorySharedState } from '../../src/store/shared-state/index.js';
import { startDnsServer } from '../sip/support/dns-server.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };

/** A resolver that fails the test if asked anything. */
const noDns: DnsResolver = {
  resolveNaptr: () => Promise.reject(new Error('no DNS expected')),
  resolveSrv: () => Promise.reject(new Error('no DNS expected')),
  resolve4: () => Promise.reject(new Error('no DNS expected')),
  resolve6: () => Promise.reject(new Error('no DNS expected')),
};

describe('trunk location (RFC 3263)', () => {
  let dns: Awaited<ReturnType<typeof startDnsServer>>;
  let resolver: Resolver;
  let primary: SipPhone;
  let backup: SipPhone;
  let gateway: Gateway;
  let gatewayPort: number;

  before(async () => {
    // The resolver is the gateway's from the start; it is pointed at the test zone once the carriers' ports are known.
    resolver = new Resolver({ timeout: 1000, tries: 1 });
    const trunk: GatewayTrunk = {
      id: 'trunk-1',
      tenantId: 'tenant-1',
      host: 'carrier.test',
      port: 5060,
      transport: 'udp',
    };
    const routing: RoutingDirectory = {
      trunkBySource: () => Promise.resolve(undefined),
      trunkByUsername: () => Promise.resolve(undefined),
      numberOwner: () => Promise.resolve(undefined),
      routes: () =>
        Promise.resolve([
          { pattern: '\\d+', stripDigits: 0, prefix: '+', trunks: [trunk], mediaBypass: true },
        ]),
      allTrunks: () => Promise.resolve([trunk]),
      registeringTrunks: () => Promise.resolve([]),
    };
    const tenant = {
      id: 'tenant-1',
      name: 'Acme',
      sipDomain: 'acme.example',
      maxConcurrentCalls: null,
      maxCallsPerSecond: null,
      status: 'active' as const,
      sipDigestAlgorithms: null,
      recording: 'off' as const,
    };
    gateway = await startGateway({
      host: '127.0.0.1',
      port: 0,
      users: {
        findCredentials: (domain, username) =>
          Promise.resolve(
            domain === 'acme.example' && username === 'alice'
              ? {
                  userId: 'alice-id',
                  tenantId: 'tenant-1',
                  username: 'alice',
                  ha1Md5: computeHa1('MD5', 'alice', 'acme.example', 's3cret'),
                  ha1Sha256: computeHa1('SHA-256', 'alice', 'acme.example', 's3cret'),
                  enabled: true,
                  tenantActive: true,
                  maxConcurrentCalls: null,
                  nat: 'auto' as const,
                  mediaEncryption: 'auto' as const,
                  recording: null,
                }
              : undefined,
          ),
        digestAlgorithms: () => Promise.resolve(undefined),
      },
      tenants: { findByDomain: (d) => Promise.resolve(d === 'acme.example' ? tenant : undefined) },
      state: createMemorySharedState(),
      media: createMediaAnchor({ relays: [] }),
      routing,
      trunkLocator: createTrunkLocator({ resolver, lookup: false }),
      registrar: {
        minExpires: 60,
        maxExpires: 3600,
        defaultExpires: 3600,
        banThreshold: 10,
        banSeconds: 300,
        nonceSecret: randomBytes(32),
        digestAlgorithms: ['SHA-256', 'MD5'],
      },
      calls: { ringTimeoutMs: 10_000, maxDurationMs: 60_000, mediaTimeoutMs: 0 },
      timers: FAST,
      gatewayId: 'test-gateway',
      isDraining: () => false,
      warn: () => undefined,
      error: () => undefined,
    });
    gatewayPort = gateway.endpoint.address().udp!.port;
    primary = await SipPhone.open('primary', '', gatewayPort, 'acme.example', '127.0.0.2');
    backup = await SipPhone.open('backup', '', gatewayPort, 'acme.example', '127.0.0.3');
    dns = await startDnsServer({
      '_sip._udp.carrier.test': {
        srv: [
          { priority: 10, weight: 0, port: primary.port, target: 'primary.carrier.test' },
          { priority: 20, weight: 0, port: backup.port, target: 'backup.carrier.test' },
        ],
      },
      'primary.carrier.test': { a: ['127.0.0.2'] },
      'backup.carrier.test': { a: ['127.0.0.3'] },
      'fixed.carrier.test': { a: ['127.0.0.2'] },
    });
    resolver.setServers([`127.0.0.1:${dns.port}`]);
  });
  after(async () => {
    primary.close();
    backup.close();
    await gateway.close();
    await dns.close();
  });

  test('a trunk given as a domain: the INVITE goes to its SRV targets in order, failing over on a 503', async () => {
    const alice = await SipPhone.open('alice', 's3cret', gatewayPort);
    try {
      const call = await alice.invite('4420794600', sdp(41000));
      const first = (await primary.request('INVITE')) as SipRequest;
      // The Request-URI names the carrier as configured; only the address it is sent to came from DNS.
      assert.equal(first.uri, 'sip:+4420794600@carrier.test:5060');
      primary.reply(first, 503, 'Service Unavailable', 'p1');
      const second = (await backup.request('INVITE')) as SipRequest;
      assert.equal(second.uri, 'sip:+4420794600@carrier.test:5060');
      backup.reply(second, 486, 'Busy Here', 'b1');
      assert.equal((await call.final()).status, 486);
      call.ack();
      assert.ok(dns.queries.includes('SRV _sip._udp.carrier.test'));
    } finally {
      alice.close();
    }
  });

  test('the locator: SRV order, an explicit port asks A/AAAA only, an IP address asks nothing, results kept', async () => {
    const locate = createTrunkLocator({ resolver, lookup: false });
    const srv = await locate({ host: 'carrier.test', port: 5060, transport: 'udp' });
    assert.deepEqual(
      srv.map((t) => `${t.transport} ${t.address}:${t.port}`),
      [`udp 127.0.0.2:${primary.port}`, `udp 127.0.0.3:${backup.port}`],
    );
    const before = dns.queries.length;
    await locate({ host: 'carrier.test', port: 5060, transport: 'udp' });
    assert.equal(dns.queries.length, before, 'kept, not asked again');

    // §4.2: "If the TARGET was not a numeric IP address, but a port is present in the URI, the client performs
    // an A or AAAA record lookup of the domain name."
    const fixed = await locate({ host: 'fixed.carrier.test', port: 5070, transport: 'udp' });
    assert.deepEqual(fixed, [{ transport: 'udp', address: '127.0.0.2', port: 5070 }]);
    assert.ok(!dns.queries.some((q) => q.startsWith('SRV') && q.includes('fixed')));

    const numeric = createTrunkLocator({ resolver: noDns, lookup: false });
    assert.deepEqual(await numeric({ host: '192.0.2.7', port: 5080, transport: 'tcp' }), [
      { transport: 'tcp', address: '192.0.2.7', port: 5080 },
    ]);
    // Nothing in DNS: the trunk as written, whose send fails as before.
    assert.deepEqual(await locate({ host: 'missing.test', port: 5060, transport: 'udp' }), [
      { transport: 'udp', address: 'missing.test', port: 5060 },
    ]);
  });
});
