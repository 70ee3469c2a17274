import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import {
  buildRequest,
  createSipEndpoint,
  header,
  newBranch,
  type InboundContext,
  type SendFailure,
  type SipEndpoint,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/index.js';
import { selfSigned } from '../helpers/self-signed.js';

/** A request as a browser SIP stack sends it over WebSocket (RFC 7118 §5.2: Via WS, a .invalid sent-by). */
function wsRequest(
  method: string,
  port: number,
  opts: { contentLength?: boolean; via?: string } = {},
): string {
  const lines = [
    `${method} sip:gateway@127.0.0.1:${port};transport=ws SIP/2.0`,
    `Via: SIP/2.0/${opts.via ?? 'WS'} df7jal23ls0d.invalid;branch=${newBranch()};rport`,
    'Max-Forwards: 70',
    `From: <sip:alice@example.com>;tag=${Math.random().toString(36).slice(2)}`,
    `To: <sip:gateway@127.0.0.1:${port}>`,
    `Call-ID: ${Math.random().toString(36).slice(2)}`,
    `CSeq: 1 ${method}`,
    `Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>`,
  ];
  if (opts.contentLength !== false) lines.push('Content-Length: 0');
  return lines.join('\r\n') + '\r\n\r\n';
}

interface Client {
  readonly socket: WebSocket;
  next(): Promise<{ text: string; binary: boolean }>;
}

/** Opens a WebSocket offering the "sip" subprotocol and queues what arrives, one entry per WebSocket message. */
async function openClient(url: string, options: { ca?: Buffer; protocol?: string } = {}): Promise<Client> {
  const socket = new WebSocket(url, options.protocol ?? 'sip', options.ca ? { ca: options.ca } : {});
  const inbox: { text: string; binary: boolean }[] = [];
  const waiters: (() => void)[] = [];
  socket.on('message', (data: Buffer, binary: boolean) => {
    inbox.push({ text: data.toString('utf8'), binary });
    waiters.splice(0).forEach((w) => w());
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    next: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no WebSocket message within 5 s')), 5000);
        const attempt = () => {
          const m = inbox.shift();
          if (m === undefined) return void waiters.push(attempt);
          clearTimeout(timer);
          resolve(m);
        };
        attempt();
      }),
  };
}

describe('SIP over WebSocket (RFC 7118)', () => {
  let endpoint: SipEndpoint;
  let port: number;
  const seen: { request: SipRequest; ctx: InboundContext }[] = [];
  before(async () => {
    endpoint = await createSipEndpoint({
      host: '127.0.0.1',
      ws: { port: 0 },
      onRequest(request, ctx) {
        seen.push({ request, ctx });
        if (request.method === 'BYE') return;
        ctx.reply(
          200,
          'OK',
          { 'X-Body': 'é' },
          request.method === 'MESSAGE' ? Buffer.from([0xff, 0]) : undefined,
        );
      },
    });
    port = endpoint.address().ws!.port;
  });
  after(() => endpoint.close());

  test('§4.1/§5.1: one request per WebSocket message, answered in one text message on the same connection', async () => {
    const client = await openClient(`ws://127.0.0.1:${port}`);
    assert.equal(client.socket.protocol, 'sip', 'the server selected the sip subprotocol');
    client.socket.send(wsRequest('OPTIONS', port));
    const reply = await client.next();
    assert.equal(reply.binary, false, 'UTF-8 messages go in text frames');
    assert.match(reply.text, /^SIP\/2\.0 200 OK\r\n/);
    assert.equal((reply.text.match(/^SIP\/2\.0/gm) ?? []).length, 1, 'exactly one SIP message');
    // §18.2.1 / RFC 3581 apply as on any transport: the .invalid sent-by gets received, rport the port.
    assert.match(
      reply.text,
      /\r\nVia: SIP\/2\.0\/WS df7jal23ls0d\.invalid;branch=\S+;rport=\d+;received=127\.0\.0\.1\r\n/,
    );
    const { ctx } = seen.at(-1)!;
    assert.equal(ctx.webSocket, 'ws');
    assert.equal(ctx.transport, 'tcp', 'ws runs on TCP: code written for udp/tcp/tls keeps working');
    assert.equal(ctx.reliable, true);
    assert.match(ctx.flowId ?? '', /^ws-\d+$/);
    client.socket.close();
  });

  test('§5.1: Content-Length may be omitted; a body that is not UTF-8 goes back in a binary frame', async () => {
    const client = await openClient(`ws://127.0.0.1:${port}`);
    client.socket.send(wsRequest('MESSAGE', port, { contentLength: false }));
    const reply = await client.next();
    assert.equal(reply.binary, true);
    assert.match(reply.text, /^SIP\/2\.0 200 OK\r\n/);
    assert.equal(seen.at(-1)!.request.method, 'MESSAGE');
    assert.equal(seen.at(-1)!.request.body.length, 0);
    client.socket.close();
  });

  test('§4.1: a handshake that does not offer the sip subprotocol is refused', async () => {
    await assert.rejects(openClient(`ws://127.0.0.1:${port}`, { protocol: 'chat' }), /400/);
    const plain = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(plain.status, 426, 'plain HTTP gets 426 Upgrade Required');
  });

  test('requests to a WebSocket client go back on its flow, also when recorded as transport tcp', async () => {
    const client = await openClient(`ws://127.0.0.1:${port}`);
    client.socket.send(wsRequest('REGISTER', port));
    await client.next();
    const { ctx } = seen.at(-1)!;
    // What the gateway stores for a binding: the inbound transport ('tcp'), the source and the flow.
    const target = { transport: ctx.transport, address: ctx.remote.address, port: ctx.remote.port };
    const invite = buildRequest('INVITE', 'sip:alice@df7jal23ls0d.invalid;transport=ws', [
      { name: 'Via', value: `SIP/2.0/WS 127.0.0.1:${port};branch=${newBranch()}` },
      { name: 'From', value: '<sip:gw@127.0.0.1>;tag=1' },
      { name: 'To', value: '<sip:alice@example.com>' },
      { name: 'Call-ID', value: 'ws-invite' },
      { name: 'CSeq', value: '1 INVITE' },
      { name: 'Max-Forwards', value: '70' },
    ]);
    assert.equal(endpoint.send(invite, { ...target, flowId: ctx.flowId }), ctx.flowId);
    assert.match(
      (await client.next()).text,
      /^INVITE sip:alice@df7jal23ls0d\.invalid;transport=ws SIP\/2\.0\r\n/,
    );
    // Without the flow id, the open connection to that peer is found by its address.
    assert.equal(endpoint.send(invite, { ...target, transport: 'ws' }), ctx.flowId);
    assert.match((await client.next()).text, /^INVITE /);
    const closed = new Promise((r) => client.socket.once('close', r));
    client.socket.close();
    await closed;
    await new Promise((r) => setTimeout(r, 50));
    // Once closed, the flow is not replaced by a TCP connection to the browser's source port: the message is
    // not sent, and the sender is told the flow has closed.
    const failure = await new Promise<SendFailure>((resolve) => {
      assert.equal(endpoint.send(invite, { ...target, flowId: ctx.flowId }, resolve), undefined);
    });
    assert.equal(failure.reason, 'flow-closed');
  });

  test('RFC 5626 §4.4.1 over WebSocket: a double-CRLF message is answered with a CRLF', async () => {
    const client = await openClient(`ws://127.0.0.1:${port}`);
    client.socket.send('\r\n\r\n');
    assert.equal((await client.next()).text, '\r\n');
    client.socket.send('\r\n'); // a pong: nothing comes back, the connection stays usable
    client.socket.send(wsRequest('OPTIONS', port));
    assert.match((await client.next()).text, /^SIP\/2\.0 200 OK/);
    client.socket.close();
  });

  test('a malformed request gets 400 on its WebSocket, and the connection stays up', async () => {
    const client = await openClient(`ws://127.0.0.1:${port}`);
    client.socket.send(wsRequest('OPTIONS', port).replace(/Call-ID: [^\r]*\r\n/, ''));
    assert.match((await client.next()).text, /^SIP\/2\.0 400 Bad Request\r\n/);
    client.socket.send(wsRequest('OPTIONS', port));
    assert.match((await client.next()).text, /^SIP\/2\.0 200 OK/);
    client.socket.close();
  });

  test('an endpoint opens WebSocket connections too: request out, response back on the flow', async () => {
    const responses: { response: SipResponse; webSocket?: string; flowId?: string }[] = [];
    const uac = await createSipEndpoint({
      host: '127.0.0.1',
      ws: { port: 0 },
      onRequest: () => undefined,
      onResponse: (response, ctx) =>
        responses.push({ response, webSocket: ctx.webSocket, flowId: ctx.flowId }),
    });
    try {
      const request = Buffer.from(wsRequest('OPTIONS', port));
      const flowId = uac.send(request, { transport: 'ws', address: '127.0.0.1', port });
      while (responses.length === 0) await new Promise((r) => setTimeout(r, 10));
      assert.equal(responses[0]!.response.status, 200);
      assert.equal(responses[0]!.webSocket, 'ws');
      assert.equal(responses[0]!.flowId, flowId);
      assert.equal(header(seen.at(-1)!.request, 'CSeq'), '1 OPTIONS');
    } finally {
      await uac.close();
    }
  });
});

describe('SIP over secure WebSocket (RFC 7118, wss)', () => {
  let endpoint: SipEndpoint;
  let cert: Buffer;
  const contexts: InboundContext[] = [];
  before(async () => {
    const pair = selfSigned();
    cert = pair.cert;
    endpoint = await createSipEndpoint({
      host: '127.0.0.1',
      wss: { port: 0, key: pair.key, cert: pair.cert },
      onRequest(_request, ctx) {
        contexts.push(ctx);
        ctx.reply(200, 'OK');
      },
    });
  });
  after(() => endpoint.close());

  test('an OPTIONS over a verified wss connection is answered on it', async () => {
    const port = endpoint.address().wss!.port;
    const client = await openClient(`wss://127.0.0.1:${port}`, { ca: cert });
    client.socket.send(wsRequest('OPTIONS', port, { via: 'WSS' }));
    assert.match((await client.next()).text, /^SIP\/2\.0 200 OK\r\nVia: SIP\/2\.0\/WSS /);
    assert.equal(contexts[0]!.webSocket, 'wss');
    assert.equal(contexts[0]!.transport, 'tls');
    assert.match(contexts[0]!.flowId ?? '', /^wss-\d+$/);
    client.socket.close();
  });
});
