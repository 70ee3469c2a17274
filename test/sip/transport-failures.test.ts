import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type AddressInfo } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import {
  buildRequest,
  createSipEndpoint,
  createTransactionLayer,
  header,
  newBranch,
  refusedDestination,
  type SendFailure,
  type SendTarget,
  type SipEndpoint,
  type SipResponse,
  type TransactionLayer,
} from '../../src/sip/index.js';
import { sipRequest } from '../helpers/udp.js';

/** Collects what the stack publishes on voxgate:sip:transport-error while a test runs. */
function transportErrors(): { seen: SendFailure[]; stop: () => void } {
  const seen: SendFailure[] = [];
  const onError = (m: unknown) => seen.push(m as SendFailure);
  subscribe('voxgate:sip:transport-error', onError);
  return { seen, stop: () => unsubscribe('voxgate:sip:transport-error', onError) };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
}

/** Sends one datagram from a fresh socket to the endpoint and resolves with the first answer, if any. */
function datagram(port: number, payload: string, waitMs = 300): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket: UdpSocket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, waitMs);
    socket.once('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg.toString('latin1'));
    });
    socket.send(Buffer.from(payload, 'latin1'), port, '127.0.0.1');
  });
}

/** A request whose top Via sends responses to `sentBy` (no rport: §18.2.2 uses the Via's port). */
function withVia(method: string, port: number, sentBy: string): string {
  return sipRequest(method, port, method === 'INVITE' ? ['Contact: <sip:u@127.0.0.1:9>'] : []).replace(
    /^Via: .*$/m,
    `Via: SIP/2.0/UDP ${sentBy};branch=${newBranch()}`,
  );
}

describe('destinations the transport refuses (RFC 3261 §18, §8.1.3.1)', () => {
  const cases: [string, number, ReturnType<typeof refusedDestination>][] = [
    ['127.0.0.1', 0, 'bad-port'],
    ['127.0.0.1', 65_536, 'bad-port'],
    ['127.0.0.1', 1.5, 'bad-port'],
    ['0.0.0.0', 5060, 'unspecified-address'],
    ['0.1.2.3', 5060, 'unspecified-address'],
    ['::', 5060, 'unspecified-address'],
    ['255.255.255.255', 5060, 'broadcast'],
    ['224.0.0.1', 5060, 'multicast'],
    ['239.255.255.250', 5060, 'multicast'],
    ['ff02::1', 5060, 'multicast'],
    ['fe80::1', 5060, 'scoped-address'],
    ['fe80::1%eth0', 5060, 'scoped-address'],
    ['::ffff:255.255.255.255', 5060, 'broadcast'],
    ['bad host', 5060, 'unresolved-host'],
    ['a..b', 5060, 'unresolved-host'],
    ['127.0.0.1', 5060, undefined],
    ['2001:db8::1', 5060, undefined],
    ['carrier.example.net', 5060, undefined],
  ];
  for (const [address, port, expected] of cases) {
    test(`${address}:${port} → ${expected ?? 'sent'}`, () => {
      assert.equal(refusedDestination({ address, port }), expected);
    });
  }
});

describe('a request whose responses cannot be sent does not stop the stack (§17.2.4)', () => {
  let endpoint: SipEndpoint;
  let layer: TransactionLayer;
  let port: number;
  before(async () => {
    layer = createTransactionLayer({
      tu: {
        // Every request is answered statefully, as the gateway does for REGISTER and INVITE.
        onRequest(request, tx) {
          if (request.method === 'INVITE') tx?.respond(486, 'Busy Here');
          else tx?.respond(200, 'OK');
        },
      },
    });
    endpoint = await createSipEndpoint({
      host: '127.0.0.1',
      udpPort: 0,
      onRequest: (request, ctx) =>
        request.method === 'OPTIONS' && request.topVia.includes('rport')
          ? ctx.reply(200, 'OK')
          : layer.handleRequest(request, ctx),
    });
    port = endpoint.address().udp!.port;
  });
  after(async () => {
    layer.close();
    await endpoint.close();
  });

  // The datagram that killed the whole process: §18.2.2 sends the response to the Via's port, 0 here, and
  // dgram threw ERR_SOCKET_BAD_PORT through the transaction's respond into the event loop.
  for (const method of ['REGISTER', 'INVITE', 'BYE', 'MESSAGE', 'OPTIONS']) {
    test(`${method} with top Via 127.0.0.1:0 and no rport: counted, transaction ended, stack alive`, async () => {
      const errors = transportErrors();
      try {
        assert.equal(await datagram(port, withVia(method, port, '127.0.0.1:0')), undefined);
        await until(() => errors.seen.length > 0, 'a transport error is published');
        assert.deepEqual(
          errors.seen.map((f) => [f.transport, f.reason]),
          [['udp', 'bad-port']],
        );
        await until(() => layer.size.server === 0, 'the server transaction is terminated');
      } finally {
        errors.stop();
      }
      const alive = await datagram(port, sipRequest('OPTIONS', port), 2000);
      assert.match(alive ?? '', /^SIP\/2\.0 200 OK\r\n/);
    });
  }

  test('Via ports past 65535 and unparseable requests with a bad Via port are dropped and counted', async () => {
    const errors = transportErrors();
    try {
      await datagram(port, withVia('REGISTER', port, '127.0.0.1:99999'));
      // A request that does not parse is answered statelessly (400) from what could be read: its Via too.
      const broken = withVia('REGISTER', port, '127.0.0.1:0').replace(/^CSeq: .*$/m, 'CSeq: x REGISTER');
      await datagram(port, broken);
      await until(() => errors.seen.length >= 2, 'both failures published');
      assert.ok(errors.seen.every((f) => f.reason === 'bad-port'));
    } finally {
      errors.stop();
    }
    assert.match((await datagram(port, sipRequest('OPTIONS', port), 2000)) ?? '', /^SIP\/2\.0 200 /);
  });
});

describe('a request that cannot be sent is a 503 for its client transaction (§8.1.3.1, §17.1.4)', () => {
  let endpoint: SipEndpoint;
  let layer: TransactionLayer;
  let closedTcpPort: number;
  before(async () => {
    layer = createTransactionLayer({ tu: { onRequest: () => undefined } });
    // UDP and TCP only: no TLS listener and no TLS client settings.
    endpoint = await createSipEndpoint({
      host: '127.0.0.1',
      udpPort: 0,
      tcpPort: 0,
      onRequest: (request, ctx) => layer.handleRequest(request, ctx),
      onResponse: (response) => layer.handleResponse(response),
    });
    // A port nothing listens on: bound once, then closed.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closedTcpPort = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  after(async () => {
    layer.close();
    await endpoint.close();
  });

  const send = (method: string, target: SendTarget): Promise<SipResponse> =>
    new Promise((resolve, reject) => {
      const bytes = buildRequest(`${method}`, 'sip:carrier@example.net', [
        { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:5060;branch=${newBranch()};rport` },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: '<sip:gw@example.com>;tag=1' },
        { name: 'To', value: '<sip:carrier@example.net>' },
        { name: 'Call-ID', value: `${newBranch()}@test` },
        { name: 'CSeq', value: `1 ${method}` },
      ]);
      let sentSynchronously = true;
      const tx = layer.sendRequest(
        bytes,
        (out, onFailure) => endpoint.send(out, target, onFailure),
        { reliable: (target.transport ?? 'udp') !== 'udp' },
        {
          response: (response) => {
            if (sentSynchronously) reject(new Error('the TU was called before sendRequest returned'));
            resolve(response);
          },
          timeout: () => reject(new Error('timed out instead of failing fast')),
        },
      );
      sentSynchronously = false;
      assert.ok(tx);
    });

  const cases: [string, string, () => SendTarget, string][] = [
    ['INVITE', 'to port 0 over UDP', () => ({ address: '127.0.0.1', port: 0 }), 'bad-port'],
    ['OPTIONS', 'to a broadcast address', () => ({ address: '255.255.255.255', port: 5060 }), 'broadcast'],
    [
      'INVITE',
      'over TLS with no TLS client',
      () => ({ transport: 'tls', address: '127.0.0.1', port: 5061 }),
      'no-transport',
    ],
    [
      'INVITE',
      'over TCP to a closed port',
      () => ({ transport: 'tcp', address: '127.0.0.1', port: closedTcpPort }),
      'connect-failed',
    ],
    [
      'OPTIONS',
      'to a host name that does not resolve',
      () => ({ address: 'no-such-host.invalid', port: 5060 }),
      'unresolved-host',
    ],
  ];
  for (const [method, what, target, reason] of cases) {
    test(`${method} ${what}: 503 to the TU, transaction terminated`, async () => {
      const response = await send(method, target());
      assert.equal(response.status, 503);
      assert.equal(response.cseq.method, method);
      assert.match(header(response, 'Warning') ?? '', new RegExp(`Transport failure: ${reason}`));
      await until(() => layer.size.client === 0, 'the client transaction is gone');
    });
  }

  test('endpoint.send never throws, whatever the destination', () => {
    const bytes = Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n');
    for (const to of [
      { address: '127.0.0.1', port: 0 },
      { address: '127.0.0.1', port: -1 },
      { address: '::1', port: 5060 },
      { address: 'fe80::1%lo', port: 5060 },
      { transport: 'tls', address: '127.0.0.1', port: 5061 },
      { transport: 'wss', address: '127.0.0.1', port: 5061 },
      { transport: 'tcp', address: '0.0.0.0', port: 5060 },
      { transport: 'tcp', address: '127.0.0.1', port: 70_000 },
    ] as const) {
      assert.doesNotThrow(() => endpoint.send(bytes, to));
    }
  });
});
