import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { connect } from 'node:tls';
import {
  createSipEndpoint,
  StreamFramer,
  type FlowClosedEvent,
  type SipEndpoint,
  type SipEndpointOptions,
} from '../../src/sip/index.js';
import { sipRequest } from '../helpers/udp.js';
import { selfSigned } from '../helpers/self-signed.js';

const tcp = (method: string, port: number) =>
  Buffer.from(sipRequest(method, port).replace('SIP/2.0/UDP', 'SIP/2.0/TCP'));

/** A TCP peer that counts double-CRLF pings and answers them with a CRLF unless `silent`. */
async function pingPeer(silent: boolean): Promise<{ server: Server; port: number; pings: () => number }> {
  let pings = 0;
  const server = createServer((socket: Socket) => {
    let buffer = '';
    socket.on('data', (d: Buffer) => {
      buffer += d.toString('latin1');
      // Drop the SIP request the endpoint opened the flow with; count and answer the pings after it.
      buffer = buffer.replace(/^[A-Z]+ [^]*?Content-Length: 0\r\n\r\n/, '');
      while (buffer.startsWith('\r\n\r\n')) {
        buffer = buffer.slice(4);
        pings++;
        if (!silent) socket.write('\r\n');
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, pings: () => pings };
}

/** A TCP endpoint that pings its outbound flows every `intervalMs`; the flows it closes are pushed to `closed`. */
function keepaliveEndpoint(
  intervalMs: number,
  pongTimeoutMs: number,
  closed: FlowClosedEvent[],
  onRequest: SipEndpointOptions['onRequest'] = () => undefined,
): Promise<SipEndpoint> {
  return createSipEndpoint({
    host: '127.0.0.1',
    tcpPort: 0,
    keepalive: { intervalMs, pongTimeoutMs },
    onFlowClosed: (e) => closed.push(e),
    onRequest,
  });
}

/** Sends an OPTIONS over TCP to 127.0.0.1:`port`; returns the flow it went on. */
const optionsTo = (endpoint: SipEndpoint, port: number) =>
  endpoint.send(tcp('OPTIONS', port), { transport: 'tcp', address: '127.0.0.1', port });

async function waitFor(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('CRLF keepalive (RFC 5626 §4.4.1)', () => {
  test('StreamFramer reports a lone CRLF as a pong, never a ping', () => {
    let pongs = 0;
    const framer = new StreamFramer(65_535, () => pongs++);
    assert.deepEqual(framer.push(Buffer.from('\r\n\r\n')), [{ kind: 'ping' }]);
    assert.equal(pongs, 0);
    assert.deepEqual(framer.push(Buffer.from('\r\n')), []);
    assert.equal(pongs, 1, 'a lone CRLF is a pong, reported at once');
    assert.deepEqual(framer.push(Buffer.from('\r\n')), [], 'two quick pongs do not make a ping');
    assert.equal(pongs, 2);
    assert.equal(framer.push(Buffer.from('\r\nOPTIONS')).length, 0);
    assert.equal(pongs, 3, 'a CRLF before a start line counts too');
    // Without onPong (a flow that is pinged, not pinging) a CRLF split from its pair still makes a ping.
    const server = new StreamFramer(65_535);
    assert.deepEqual(server.push(Buffer.from('\r\n')), []);
    assert.deepEqual(server.push(Buffer.from('\r\n')), [{ kind: 'ping' }]);
  });

  test('TLS: a double-CRLF ping is answered with a single CRLF', async () => {
    const pair = selfSigned();
    const endpoint = await createSipEndpoint({
      host: '127.0.0.1',
      tls: { port: 0, key: pair.key, cert: pair.cert },
      onRequest: (_r, ctx) => ctx.reply(200, 'OK'),
    });
    try {
      const socket = connect({ host: '127.0.0.1', port: endpoint.address().tls!.port, ca: pair.cert });
      await new Promise((r) => socket.once('secureConnect', r));
      const answer = new Promise<string>((r) => socket.once('data', (d: Buffer) => r(d.toString('latin1'))));
      socket.write('\r\n\r\n');
      assert.equal(await answer, '\r\n');
      socket.destroy();
    } finally {
      await endpoint.close();
    }
  });

  test('keepalive option: outbound flows are pinged, answered pings keep the flow', async () => {
    const peer = await pingPeer(false);
    const closed: FlowClosedEvent[] = [];
    const endpoint = await keepaliveEndpoint(40, 1000, closed);
    try {
      const flowId = optionsTo(endpoint, peer.port);
      await waitFor(() => peer.pings() >= 4, 2000);
      assert.deepEqual(closed, [], 'every ping was answered: the flow lives');
      // The same flow is still the one used toward that peer.
      assert.equal(optionsTo(endpoint, peer.port), flowId);
    } finally {
      await endpoint.close();
      peer.server.close();
    }
  });

  test('"If a pong is not received within 10 seconds ... the flow as failed": the flow is closed', async () => {
    const peer = await pingPeer(true);
    const closed: FlowClosedEvent[] = [];
    const endpoint = await keepaliveEndpoint(40, 100, closed);
    try {
      const flowId = optionsTo(endpoint, peer.port);
      await waitFor(() => closed.length === 1, 2000);
      assert.equal(peer.pings(), 1, 'one unanswered ping is enough');
      assert.deepEqual(closed[0], {
        flowId,
        transport: 'tcp',
        remote: { address: '127.0.0.1', port: peer.port },
        reason: 'keepalive',
      });
    } finally {
      await endpoint.close();
      peer.server.close();
    }
  });

  test('between two endpoints: the UA pings the flow it opened, the server answers; inbound flows are not pinged', async () => {
    let serverSawPing = 0;
    let server: SipEndpoint | undefined;
    const closed: FlowClosedEvent[] = [];
    const ua = await keepaliveEndpoint(30, 1000, closed);
    try {
      server = await keepaliveEndpoint(30, 1000, closed, (_r, ctx) => ctx.reply(200, 'OK'));
      const port = server.address().tcp!.port;
      const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
      let uaSawPing = 0;
      const onOut = (m: unknown) => {
        const { transport, bytes, to } = m as { transport: string; bytes: Buffer; to: { port: number } };
        if (transport !== 'tcp' || bytes.toString() !== '\r\n') return;
        // A pong toward the server's port would answer a ping the server sent on its inbound flow.
        if (to.port === port) uaSawPing++;
        else serverSawPing++;
      };
      subscribe('voxgate:sip:message-out', onOut);
      try {
        optionsTo(ua, port);
        await waitFor(() => serverSawPing >= 3, 2000);
        assert.equal(uaSawPing, 0, 'the server does not ping the flow it accepted');
      } finally {
        unsubscribe('voxgate:sip:message-out', onOut);
      }
      assert.deepEqual(closed, []);
    } finally {
      await ua.close();
      await server?.close();
    }
  });
});
