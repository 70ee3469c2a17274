import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import {
  createSipEndpoint,
  locateServer,
  orderSrv,
  SipTransportError,
  type DnsResolver,
  type FlowClosedEvent,
  type LocatedTarget,
  type SipResponse,
} from '../../src/sip/index.js';
import { sipRequest } from '../helpers/udp.js';
import { startDnsServer } from './support/dns-server.js';

const naptr = (order: number, service: string, replacement: string, flags = 's') => ({
  order,
  preference: 50,
  flags,
  service,
  regexp: '',
  replacement,
});

/** The RFC 3263 §4.1 example zone, plus a domain with only SRV and one with only A records. */
const ZONE = {
  'example.test': {
    naptr: [
      naptr(100, 'SIP+D2U', '_sip._udp.example.test'),
      naptr(50, 'SIPS+D2T', '_sips._tcp.example.test'),
      naptr(90, 'SIP+D2T', '_sip._tcp.example.test'),
      naptr(10, 'SIP+D2S', '_sip._sctp.example.test'), // SCTP: not a transport of ours, discarded
      naptr(20, 'SIP+D2T', 'example.test', 'a'), // not a terminal "s" record
    ],
  },
  '_sips._tcp.example.test': { srv: [{ priority: 0, weight: 1, port: 5061, target: 'tls1.example.test' }] },
  '_sip._tcp.example.test': {
    srv: [
      { priority: 10, weight: 0, port: 5070, target: 'server2.example.test' },
      { priority: 0, weight: 0, port: 5060, target: 'server1.example.test' },
    ],
  },
  '_sip._udp.example.test': { srv: [{ priority: 0, weight: 0, port: 5060, target: 'server1.example.test' }] },
  'tls1.example.test': { a: ['10.0.0.1'] },
  'server1.example.test': { a: ['10.0.0.2'], aaaa: ['2001:db8::2'] },
  'server2.example.test': { a: ['10.0.0.3'] },
  'srvonly.test': {},
  '_sip._tcp.srvonly.test': { srv: [{ priority: 0, weight: 0, port: 5090, target: 'server2.example.test' }] },
  '_sip._udp.srvonly.test': { srv: [{ priority: 0, weight: 0, port: 5091, target: 'server2.example.test' }] },
  'plain.test': { a: ['10.0.0.9'] },
};

const t = (
  transport: LocatedTarget['transport'],
  address: string,
  port: number,
  serverName?: string,
): LocatedTarget => ({ transport, address, port, ...(serverName ? { serverName } : {}) });

describe('RFC 3263 server location against a real DNS server on loopback', () => {
  let dns: Awaited<ReturnType<typeof startDnsServer>>;
  let resolver: Resolver;
  before(async () => {
    dns = await startDnsServer(ZONE);
    resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`127.0.0.1:${dns.port}`]);
  });
  after(() => dns.close());
  const locate = (uri: string, transports?: LocatedTarget['transport'][]) =>
    locateServer(uri, { resolver, lookup: false, ...(transports ? { transports } : {}) });

  test('§4.1 NAPTR → SRV → A/AAAA: every target in NAPTR order, SRV priority order within each', async () => {
    assert.deepEqual(await locate('sip:alice@example.test'), [
      t('tls', '10.0.0.1', 5061, 'example.test'),
      t('tcp', '10.0.0.2', 5060),
      t('tcp', '2001:db8::2', 5060),
      t('tcp', '10.0.0.3', 5070),
      t('udp', '10.0.0.2', 5060),
      t('udp', '2001:db8::2', 5060),
    ]);
  });

  test('§4.1: "Since the client supports TCP and UDP, TCP will be used" (services the client lacks are discarded)', async () => {
    const targets = await locate('sip:alice@example.test', ['udp', 'tcp']);
    assert.deepEqual(
      targets.map((x) => `${x.transport} ${x.address}:${x.port}`),
      [
        'tcp 10.0.0.2:5060',
        'tcp 2001:db8::2:5060',
        'tcp 10.0.0.3:5070',
        'udp 10.0.0.2:5060',
        'udp 2001:db8::2:5060',
      ],
    );
  });

  test('§4.1: a SIPS URI keeps only SIPS services; the certificate is checked against the URI domain', async () => {
    assert.deepEqual(await locate('sips:alice@example.test'), [t('tls', '10.0.0.1', 5061, 'example.test')]);
  });

  test('§4.1: without NAPTR records, SRV queries for each supported transport in the client order', async () => {
    assert.deepEqual(await locate('sip:bob@srvonly.test'), [
      t('udp', '10.0.0.3', 5091),
      t('tcp', '10.0.0.3', 5090),
    ]);
  });

  test('§4.2: without SRV records, A/AAAA at the default port (UDP for sip, TLS 5061 for sips)', async () => {
    assert.deepEqual(await locate('sip:carol@plain.test'), [t('udp', '10.0.0.9', 5060)]);
    assert.deepEqual(await locate('sips:carol@plain.test'), [t('tls', '10.0.0.9', 5061, 'plain.test')]);
  });

  test('§4.2: an explicit transport skips NAPTR and queries that transport’s SRV only', async () => {
    const asked = dns.queries.length;
    assert.deepEqual(await locate('sip:alice@example.test;transport=TCP'), [
      t('tcp', '10.0.0.2', 5060),
      t('tcp', '2001:db8::2', 5060),
      t('tcp', '10.0.0.3', 5070),
    ]);
    const queries = dns.queries.slice(asked);
    assert.ok(!queries.some((q) => q.startsWith('NAPTR')), queries.join(', '));
    assert.ok(queries.includes('SRV _sip._tcp.example.test'));
    // sips with transport=tcp is TLS over TCP: the "_sips" service.
    assert.deepEqual(await locate('sips:alice@example.test;transport=tcp'), [
      t('tls', '10.0.0.1', 5061, 'example.test'),
    ]);
  });

  test('§4.2: an explicit port means A/AAAA only, no NAPTR or SRV', async () => {
    const asked = dns.queries.length;
    assert.deepEqual(await locate('sip:server1.example.test:5080'), [
      t('udp', '10.0.0.2', 5080),
      t('udp', '2001:db8::2', 5080),
    ]);
    assert.deepEqual(
      dns.queries
        .slice(asked)
        .map((q) => q.split(' ')[0])
        .sort(),
      ['A', 'AAAA'],
    );
  });

  test('a name DNS does not know: SIP_LOCATE_NO_TARGET with the DNS error', async () => {
    await assert.rejects(
      locate('sip:nobody@missing.test'),
      (err: unknown) =>
        err instanceof SipTransportError &&
        err.code === 'SIP_LOCATE_NO_TARGET' &&
        /ENOTFOUND/.test(err.message),
    );
  });

  test('§4.3 failover: the first target refuses the connection, the request succeeds on the next', async () => {
    const server = await createSipEndpoint({
      host: '127.0.0.1',
      tcpPort: 0,
      onRequest: (_r, ctx) => ctx.reply(200, 'OK'),
    });
    const live = server.address().tcp!.port;
    const failover = await startDnsServer({
      'failover.test': {},
      '_sip._tcp.failover.test': {
        srv: [
          { priority: 0, weight: 0, port: 9, target: 'lo.failover.test' }, // discard port: refused
          { priority: 10, weight: 0, port: live, target: 'lo.failover.test' },
        ],
      },
      'lo.failover.test': { a: ['127.0.0.1'] },
    });
    const closed: FlowClosedEvent[] = [];
    const responses: SipResponse[] = [];
    const client = await createSipEndpoint({
      host: '127.0.0.1',
      tcpPort: 0,
      onFlowClosed: (e) => closed.push(e),
      onRequest: () => undefined,
      onResponse: (r) => responses.push(r),
    });
    try {
      const r = new Resolver({ timeout: 1000, tries: 1 });
      r.setServers([`127.0.0.1:${failover.port}`]);
      const targets = await locateServer('sip:failover.test;transport=tcp', { resolver: r, lookup: false });
      assert.deepEqual(
        targets.map((x) => x.port),
        [9, live],
      );
      const tried: number[] = [];
      for (const target of targets) {
        tried.push(target.port);
        const request = Buffer.from(sipRequest('OPTIONS', target.port).replace('SIP/2.0/UDP', 'SIP/2.0/TCP'));
        const flowId = client.send(request, target);
        const deadline = Date.now() + 3000;
        while (responses.length === 0 && !closed.some((c) => c.flowId === flowId) && Date.now() < deadline) {
          await new Promise((res) => setTimeout(res, 10));
        }
        if (responses.length > 0) break;
      }
      assert.deepEqual(tried, [9, live]);
      assert.equal(closed[0]?.reason, 'error');
      assert.equal(responses[0]?.status, 200);
    } finally {
      await client.close();
      await server.close();
      await failover.close();
    }
  });
});

describe('RFC 3263 server location without DNS', () => {
  /** A resolver that fails the test if asked anything: numeric targets must not touch DNS. */
  const noDns: DnsResolver = {
    resolveNaptr: () => Promise.reject(new Error('NAPTR query for a numeric target')),
    resolveSrv: () => Promise.reject(new Error('SRV query for a numeric target')),
    resolve4: () => Promise.reject(new Error('A query for a numeric target')),
    resolve6: () => Promise.reject(new Error('AAAA query for a numeric target')),
  };
  const locate = (uri: string) => locateServer(uri, { resolver: noDns, lookup: false });

  test('§4.2: a numeric TARGET is used as is, with the URI port or the transport default', async () => {
    assert.deepEqual(await locate('sip:alice@192.0.2.4'), [t('udp', '192.0.2.4', 5060)]);
    assert.deepEqual(await locate('sips:alice@192.0.2.4'), [t('tls', '192.0.2.4', 5061)]);
    assert.deepEqual(await locate('sip:alice@192.0.2.4:5070;transport=tcp'), [t('tcp', '192.0.2.4', 5070)]);
    assert.deepEqual(await locate('sip:[2001:db8::1]:5080;transport=tls'), [t('tls', '2001:db8::1', 5080)]);
  });

  test('§4: maddr is the TARGET when present', async () => {
    assert.deepEqual(await locate('sip:alice@example.test;maddr=192.0.2.9'), [t('udp', '192.0.2.9', 5060)]);
  });

  test('URIs and transports it cannot resolve: SIP_LOCATE_UNSUPPORTED', async () => {
    for (const uri of [
      'tel:+15551234',
      'sip:alice@192.0.2.4;transport=sctp',
      'sips:alice@192.0.2.4;transport=udp',
    ]) {
      await assert.rejects(
        locate(uri),
        (err: unknown) => err instanceof SipTransportError && err.code === 'SIP_LOCATE_UNSUPPORTED',
        uri,
      );
    }
    await assert.rejects(
      locateServer('sip:alice@192.0.2.4;transport=tls', { resolver: noDns, transports: ['udp', 'tcp'] }),
      (err: unknown) => err instanceof SipTransportError && err.code === 'SIP_LOCATE_UNSUPPORTED',
    );
  });

  test('an injected resolver with node’s dns.promises interface drives the whole chain', async () => {
    const fake: DnsResolver = {
      resolveNaptr: async () => [naptr(10, 'SIP+D2T', '_sip._tcp.fake.test')],
      resolveSrv: async (name) => {
        assert.equal(name, '_sip._tcp.fake.test');
        return [{ priority: 0, weight: 0, port: 5062, name: 'host.fake.test' }];
      },
      resolve4: async () => ['192.0.2.1'],
      resolve6: () => Promise.reject(Object.assign(new Error('no AAAA'), { code: 'ENODATA' })),
    };
    assert.deepEqual(await locateServer('sip:fake.test', { resolver: fake, lookup: false }), [
      t('tcp', '192.0.2.1', 5062),
    ]);
  });

  test('RFC 2782 ordering: priority first, weight-0 records first in the draw, "." targets dropped', () => {
    const srv = (priority: number, weight: number, name: string) => ({ priority, weight, port: 5060, name });
    const records = [
      srv(20, 0, 'late'),
      srv(10, 3, 'heavy'),
      srv(10, 0, 'zero'),
      srv(10, 1, 'light'),
      srv(5, 0, '.'),
    ];
    // random() = 0 picks the first record whose running sum reaches 0: the weight-0 one.
    assert.deepEqual(
      orderSrv(records, () => 0).map((r) => r.name),
      ['zero', 'heavy', 'light', 'late'],
    );
    // Close to 1 picks the end of the running sum each time.
    assert.deepEqual(
      orderSrv(records, () => 0.999).map((r) => r.name),
      ['light', 'heavy', 'zero', 'late'],
    );
    // Over many draws the heavier record comes first more often: 3 of the 5 values of RFC 2782's inclusive
    // draw between 0 and the sum of weights (4) select it.
    let heavyFirst = 0;
    const pair = [srv(0, 1, 'light'), srv(0, 3, 'heavy')];
    for (let i = 0; i < 4000; i++) if (orderSrv(pair)[0]!.name === 'heavy') heavyFirst++;
    assert.ok(heavyFirst > 2200 && heavyFirst < 2600, `heavy first ${heavyFirst}/4000`);
  });
});
