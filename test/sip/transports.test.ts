import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import {
  createSipEndpoint,
  type SendFailure,
  type ResponseContext,
  type SipEndpoint,
  type SipResponse,
} from '../../src/sip/index.js';

const options = (port: number, branch: string) =>
  Buffer.from(
    [
      `OPTIONS sip:peer@127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK${branch}`,
      'Max-Forwards: 70',
      'From: <sip:uac@example.com>;tag=t1',
      `To: <sip:peer@127.0.0.1:${port}>`,
      `Call-ID: ${branch}@transports`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );

/** A 200 to `request` text, written the way a peer would. */
function okFor(request: string): string {
  const pick = (name: string) => new RegExp(`\\r\\n(${name}: [^\\r]*)`).exec(request)?.[1] ?? '';
  return [
    'SIP/2.0 200 OK',
    pick('Via'),
    pick('From'),
    `${pick('To')};tag=p1`,
    pick('Call-ID'),
    pick('CSeq'),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

describe('transports: one class per channel behind createSipEndpoint (RFC 3261 §18)', () => {
  let endpoint: SipEndpoint;
  const responses: { response: SipResponse; ctx: ResponseContext }[] = [];
  before(async () => {
    endpoint = await createSipEndpoint({
      host: '127.0.0.1',
      udpPort: 0,
      tcpPort: 0,
      maxMessageSize: 2000,
      tcpIdleTimeoutMs: 200,
      onRequest: (request, ctx) => ctx.reply(200, 'OK'),
      onResponse: (response, ctx) => responses.push({ response, ctx }),
    });
  });
  after(() => endpoint.close());

  test('the UDP listener keeps the system receive buffer unless asked; asked, it gets what net.core.rmem_max allows', async (t) => {
    const kept = endpoint.udpReceiveBuffer();
    assert.ok(kept);
    assert.equal(kept.asked, undefined);
    let rmemDefault: number;
    let rmemMax: number;
    try {
      rmemDefault = Number(readFileSync('/proc/sys/net/core/rmem_default', 'utf8').trim());
      rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
    } catch {
      t.skip('no /proc/sys/net/core (not Linux)');
      return;
    }
    assert.equal(kept.reported, rmemDefault);
    const asked = 8 * 2 ** 20;
    const big = await createSipEndpoint({
      host: '127.0.0.1',
      udpPort: 0,
      udpReceiveBufferBytes: asked,
      onRequest: (request, ctx) => ctx.reply(200, 'OK'),
      onResponse: () => undefined,
    });
    try {
      // Linux grants min(asked, rmem_max) and reports twice that.
      assert.deepEqual(big.udpReceiveBuffer(), { asked, reported: 2 * Math.min(asked, rmemMax) });
    } finally {
      await big.close();
    }
  });

  test('send over TCP opens a connection (§18.1.1), the answer on it reaches onResponse, the flow is reused', async () => {
    const accepted: Socket[] = [];
    const peer: Server = createServer((socket) => {
      accepted.push(socket);
      let buffer = '';
      socket.on('data', (d: Buffer) => {
        buffer += d.toString('latin1');
        for (let end = buffer.indexOf('\r\n\r\n'); end !== -1; end = buffer.indexOf('\r\n\r\n')) {
          socket.write(okFor(buffer.slice(0, end + 4)));
          buffer = buffer.slice(end + 4);
        }
      });
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    const peerPort = (peer.address() as { port: number }).port;
    try {
      const before = responses.length;
      const flow = endpoint.send(options(peerPort, 'out1'), {
        address: '127.0.0.1',
        port: peerPort,
        transport: 'tcp',
      });
      assert.match(flow ?? '', /^tcp-/);
      while (responses.length === before) await new Promise((r) => setTimeout(r, 10));
      const first = responses.at(-1)!;
      assert.equal(first.response.status, 200);
      assert.equal(first.response.callId, 'out1@transports');
      assert.deepEqual([first.ctx.transport, first.ctx.flowId, first.ctx.reliable], ['tcp', flow, true]);
      assert.equal(
        endpoint.send(options(peerPort, 'out2'), {
          address: '127.0.0.1',
          port: peerPort,
          transport: 'tcp',
          flowId: flow,
        }),
        flow,
      );
      while (responses.length === before + 1) await new Promise((r) => setTimeout(r, 10));
      assert.equal(responses.at(-1)!.response.callId, 'out2@transports');
      assert.equal(accepted.length, 1, 'one connection for both requests');
    } finally {
      accepted.forEach((s) => s.destroy());
      await new Promise((r) => peer.close(r));
    }
  });

  test('a TCP message larger than maxMessageSize gets 513 and the connection is closed', async () => {
    const port = endpoint.address().tcp!.port;
    const big = options(port, 'big')
      .toString('latin1')
      .replace('Content-Length: 0', `Content-Length: 3000\r\nX-Pad: ${'p'.repeat(10)}`);
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    await new Promise((r) => socket.once('connect', r));
    socket.write(big);
    await new Promise((r) => socket.once('close', r));
    assert.match(data, /^SIP\/2\.0 513 Message Too Large\r\n/);
    assert.match(
      data,
      /\r\nVia: SIP\/2\.0\/TCP 127\.0\.0\.1;branch=z9hG4bKbig\r\n/, // sent-by is the source: no received (§18.2.1)
    );
  });

  test('an idle TCP connection is closed after tcpIdleTimeoutMs', async () => {
    const socket = connect(endpoint.address().tcp!.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    await new Promise((r) => socket.once('close', r));
    assert.equal(socket.destroyed, true);
  });

  test('an oversized datagram is dropped (parse-error published), the endpoint keeps answering', async () => {
    const port = endpoint.address().udp!.port;
    const errors: unknown[] = [];
    const onError = (m: unknown) => errors.push(m);
    const outs: unknown[] = [];
    const onOut = (m: unknown) => outs.push(m);
    subscribe('voxgate:sip:parse-error', onError);
    subscribe('voxgate:sip:message-out', onOut);
    const socket = createSocket('udp4');
    try {
      await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
      const replies: string[] = [];
      socket.on('message', (m) => replies.push(m.toString('latin1')));
      const huge = Buffer.concat([options(port, 'huge'), Buffer.alloc(3000, 0x41)]);
      socket.send(huge, port, '127.0.0.1');
      while (errors.length === 0) await new Promise((r) => setTimeout(r, 10));
      const ok = Buffer.from(
        options(port, 'ok')
          .toString('latin1')
          .replace('SIP/2.0/TCP 127.0.0.1', `SIP/2.0/UDP 127.0.0.1:${socket.address().port}`),
      );
      socket.send(ok, port, '127.0.0.1');
      while (replies.length === 0) await new Promise((r) => setTimeout(r, 10));
      assert.equal(replies.length, 1);
      assert.match(replies[0]!, /^SIP\/2\.0 200 OK\r\n/);
      assert.ok(outs.length >= 1, 'message-out published for the answer');
    } finally {
      unsubscribe('voxgate:sip:parse-error', onError);
      unsubscribe('voxgate:sip:message-out', onOut);
      socket.close();
    }
  });

  test('send on a transport that is not open is a failure told to the sender, not an exception', async () => {
    let returned = false;
    const failure = await new Promise<SendFailure>((resolve) => {
      const flow = endpoint.send(
        Buffer.from('x'),
        { address: '127.0.0.1', port: 9, transport: 'tls' },
        (f) => {
          assert.ok(returned, 'told after send returned');
          resolve(f);
        },
      );
      assert.equal(flow, undefined);
      returned = true;
    });
    assert.equal(failure.reason, 'no-transport');
    assert.equal(failure.transport, 'tls');
  });
});
