import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import {
  createSipEndpoint,
  type FlowClosedEvent,
  type InboundContext,
  type SipEndpoint,
  type SipResponse,
} from '../../src/sip/index.js';
import { sipRequest } from '../helpers/udp.js';
import { selfSigned } from '../helpers/self-signed.js';

describe('SIP over TLS (RFC 3261 §26.2, sips)', () => {
  let endpoint: SipEndpoint;
  let cert: Buffer;
  const transports: string[] = [];
  before(async () => {
    const pair = selfSigned();
    cert = pair.cert;
    endpoint = await createSipEndpoint({
      host: '127.0.0.1',
      tls: { port: 0, key: pair.key, cert: pair.cert },
      onRequest(request, ctx) {
        transports.push(ctx.transport);
        ctx.reply(200, 'OK');
      },
    });
  });
  after(() => endpoint.close());

  test('an OPTIONS over a verified TLS connection is answered on it; pipelined messages too', async () => {
    const port = endpoint.address().tls!.port;
    const socket = connect({ host: '127.0.0.1', port, ca: cert, servername: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    assert.equal(socket.authorized, true);
    let data = '';
    const two = new Promise<void>((resolve) =>
      socket.on('data', (d: Buffer) => {
        data += d.toString('latin1');
        if ((data.match(/SIP\/2\.0 200 OK/g) ?? []).length === 2) resolve();
      }),
    );
    const tls = (m: string) => sipRequest(m, port).replace('SIP/2.0/UDP', 'SIP/2.0/TLS');
    socket.write(tls('OPTIONS') + tls('OPTIONS'));
    await two;
    socket.destroy();
    assert.deepEqual(transports, ['tls', 'tls']);
  });
});

describe('outbound TLS (sips:, transport=tls): the endpoint opens verified connections', () => {
  let server: SipEndpoint;
  let port: number;
  let pair: { key: Buffer; cert: Buffer };
  const inbound: InboundContext[] = [];
  before(async () => {
    pair = selfSigned('DNS:sip.test,IP:127.0.0.1', 'sip.test');
    server = await createSipEndpoint({
      host: '127.0.0.1',
      tls: { port: 0, key: pair.key, cert: pair.cert },
      onRequest(_request, ctx) {
        inbound.push(ctx);
        ctx.reply(200, 'OK');
      },
    });
    port = server.address().tls!.port;
  });
  after(() => server.close());

  const tls = (m: string) => Buffer.from(sipRequest(m, port).replace('SIP/2.0/UDP', 'SIP/2.0/TLS'));

  async function client(ca?: Buffer) {
    const responses: SipResponse[] = [];
    const closed: FlowClosedEvent[] = [];
    const endpoint = await createSipEndpoint({
      host: '127.0.0.1',
      tlsClient: ca ? { ca } : {},
      onFlowClosed: (e) => closed.push(e),
      onRequest: () => undefined,
      onResponse: (r) => responses.push(r),
    });
    return { endpoint, responses, closed };
  }

  async function settle(until: () => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!until() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  test('a client-only endpoint (tlsClient, no listener) sends over TLS verified by server name', async () => {
    const { endpoint, responses } = await client(pair.cert);
    try {
      const before = inbound.length;
      const flowId = endpoint.send(tls('OPTIONS'), {
        transport: 'tls',
        address: '127.0.0.1',
        port,
        serverName: 'sip.test',
      });
      await settle(() => responses.length === 1);
      assert.equal(responses[0]?.status, 200, 'the answer came back on the TLS flow');
      assert.equal(inbound.length, before + 1);
      assert.equal(inbound.at(-1)!.transport, 'tls');
      // The open connection is reused for the next request to that peer.
      assert.equal(endpoint.send(tls('OPTIONS'), { transport: 'tls', address: '127.0.0.1', port }), flowId);
      await settle(() => responses.length === 2);
      assert.equal(responses.length, 2);
    } finally {
      await endpoint.close();
    }
  });

  test('without a server name the certificate must match the address (IP SAN)', async () => {
    const { endpoint, responses } = await client(pair.cert);
    try {
      endpoint.send(tls('OPTIONS'), { transport: 'tls', address: '127.0.0.1', port });
      await settle(() => responses.length === 1);
      assert.equal(responses[0]?.status, 200);
    } finally {
      await endpoint.close();
    }
  });

  test('a certificate for another name, or from an untrusted issuer, fails the connection', async () => {
    const before = inbound.length;
    for (const [ca, serverName] of [
      [pair.cert, 'other.test'],
      [undefined, 'sip.test'],
    ] as const) {
      const { endpoint, responses, closed } = await client(ca);
      try {
        endpoint.send(tls('OPTIONS'), { transport: 'tls', address: '127.0.0.1', port, serverName });
        await settle(() => closed.length === 1);
        assert.equal(closed[0]?.reason, 'error', `${serverName} with ${ca ? 'the CA' : 'no CA'}`);
        assert.equal(responses.length, 0);
      } finally {
        await endpoint.close();
      }
    }
    assert.equal(inbound.length, before, 'nothing reached the server');
  });
});
