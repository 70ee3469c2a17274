import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { WebSocket } from 'ws';
import {
  createSipEndpoint,
  type ConnectionClosedEvent,
  type ConnectionRefusedEvent,
  type SipEndpoint,
  type SipEndpointOptions,
} from '../../src/sip/index.js';
import { sipRequest } from '../helpers/udp.js';
import { selfSigned } from '../helpers/self-signed.js';

/*
 * The limits of the stream listeners (RFC 3261 §18 leaves connection management to the implementation): the
 * idle timeout, the message timeout a slowloris sender runs into, and the connections per source and in all.
 * Timings are short settings with generous bounds: only "closed, and before the bound" is asserted.
 */

/** Generous bound on "closed by a limit of a few hundred ms". */
const BOUND_MS = 5000;

/** The idle timeout of most endpoints here. */
const IDLE_MS = 1500;

const tcpRequest = (method: string, port: number) =>
  sipRequest(method, port).replace('SIP/2.0/UDP', 'SIP/2.0/TCP');

/** Events published on a diagnostics channel while the test runs. */
function recorder<T>(name: string): { events: T[]; stop: () => void } {
  const events: T[] = [];
  const onMessage = (m: unknown) => events.push(m as T);
  subscribe(name, onMessage);
  return { events, stop: () => unsubscribe(name, onMessage) };
}

/** A TCP (or TLS) client that collects what it receives and knows when it was closed. */
function client(socket: Socket): { received: () => string; closed: Promise<number> } {
  let data = '';
  const openedAt = Date.now();
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - openedAt)));
  return { received: () => data, closed };
}

async function open(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

async function waitFor(condition: () => boolean, ms = BOUND_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Closed within `BOUND_MS`, else the test fails (and the socket is destroyed). */
async function closedInTime(socket: Socket, closed: Promise<number>): Promise<number> {
  const timer = setTimeout(() => socket.destroy(new Error('not closed in time')), BOUND_MS);
  const ms = await closed;
  clearTimeout(timer);
  assert.ok(ms < BOUND_MS, `closed after ${ms} ms`);
  return ms;
}

/** Sends an OPTIONS on the connection and waits for its 200 (`port` names the listener in the Via). */
async function answersOptions(socket: Socket, port: number): Promise<void> {
  const peer = client(socket);
  socket.write(tcpRequest('OPTIONS', port));
  await waitFor(() => /^SIP\/2\.0 200 OK/m.test(peer.received()));
}

/** Writes `bytes` a byte every 50 ms (a slowloris sender); the socket must close in time, before the last byte. */
async function dripUntilClosed(socket: Socket, closed: Promise<number>, bytes: Buffer): Promise<void> {
  let sent = 0;
  const drip = setInterval(() => {
    if (!socket.destroyed && sent < bytes.length) socket.write(bytes.subarray(sent, ++sent));
  }, 50);
  try {
    await closedInTime(socket, closed);
    assert.ok(sent < bytes.length, 'closed before the message was complete');
  } finally {
    clearInterval(drip);
  }
}

/** Runs `body` while recording connection-closed events, then expects these closes: [transport, reason]. */
async function expectCloses(expected: [string, string][], body: () => Promise<void>): Promise<void> {
  const closes = recorder<ConnectionClosedEvent>('voxgate:sip:connection-closed');
  try {
    await body();
    await waitFor(() => closes.events.length > 0);
    assert.deepEqual(
      closes.events.map((e) => [e.transport, e.reason]),
      expected,
    );
  } finally {
    closes.stop();
  }
}

/** A client's opening handshake (RFC 6455 §4.1) asking for the `sip` subprotocol. */
const WS_UPGRADE =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n';

async function endpointWith(options: Partial<SipEndpointOptions>): Promise<SipEndpoint> {
  return createSipEndpoint({
    host: '127.0.0.1',
    tcpPort: 0,
    onRequest: (_request, ctx) => ctx.reply(200, 'OK'),
    ...options,
  });
}

describe('stream limits: timeouts (TCP)', () => {
  let endpoint: SipEndpoint;
  let port: number;
  before(async () => {
    // The idle timeout well above the message timeout: a slowloris sender must meet the latter first, even on a
    // busy machine.
    endpoint = await endpointWith({ tcpIdleTimeoutMs: IDLE_MS, messageTimeoutMs: 300 });
    port = endpoint.address().tcp!.port;
  });
  after(() => endpoint.close());

  test('a REGISTER and an OPTIONS over TCP are answered on the connection', async () => {
    const socket = await open(port);
    const peer = client(socket);
    socket.write(tcpRequest('REGISTER', port));
    socket.write(tcpRequest('OPTIONS', port));
    await waitFor(() => (peer.received().match(/^SIP\/2\.0 200 OK/gm) ?? []).length === 2);
    socket.destroy();
  });

  test('a slowloris sender (one byte at a time) is closed at the message timeout, not kept by its bytes', async () => {
    await expectCloses([['tcp', 'message-timeout']], async () => {
      const socket = await open(port);
      const peer = client(socket);
      // One byte every 50 ms: the whole request would take several seconds, far past the 300 ms timeout.
      await dripUntilClosed(socket, peer.closed, Buffer.from(tcpRequest('OPTIONS', port)));
      assert.equal(peer.received(), '', 'nothing answered');
    });
  });

  test('a connection that sends nothing is closed at the idle timeout', async () => {
    await expectCloses([['tcp', 'idle']], async () => {
      const socket = await open(port);
      const peer = client(socket);
      const ms = await closedInTime(socket, peer.closed);
      assert.ok(ms >= IDLE_MS - 500, `closed after ${ms} ms, before the idle timeout`);
    });
  });

  test('RFC 5626 §4.4.1 keepalive pings keep a connection past the idle timeout, each answered', async () => {
    const socket = await open(port);
    const peer = client(socket);
    let closed = false;
    void peer.closed.then(() => (closed = true));
    for (let i = 0; i < 16; i++) {
      socket.write('\r\n\r\n');
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.equal(closed, false, 'open after 2.4 s of pings with a 1.5 s idle timeout');
    assert.equal(peer.received(), '\r\n'.repeat(16));
    socket.destroy();
  });

  test('a flow held (a registration on it) outlives the idle timeout; released, it closes', async () => {
    const flows: string[] = [];
    const held = await endpointWith({
      tcpIdleTimeoutMs: 300,
      messageTimeoutMs: 300,
      onRequest: (_request, ctx) => {
        flows.push(ctx.flowId!);
        ctx.reply(200, 'OK');
      },
    });
    try {
      const heldPort = held.address().tcp!.port;
      const socket = await open(heldPort);
      const peer = client(socket);
      let closed = false;
      void peer.closed.then(() => (closed = true));
      socket.write(tcpRequest('REGISTER', heldPort));
      await waitFor(() => flows.length === 1);
      assert.equal(held.holdFlow(flows[0]!, 'alice', Date.now() + 60_000), true);
      assert.equal(held.holdFlow('tcp-999', 'bob', Date.now() + 60_000), false, 'no such flow');
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(closed, false, 'held past three idle timeouts');
      held.releaseFlow('alice');
      await closedInTime(socket, peer.closed);
    } finally {
      await held.close();
    }
  });
});

describe('stream limits: connections per source and in all', () => {
  test('beyond the per-source cap a connection is closed at accept, the earlier ones keep working', async () => {
    const refusals = recorder<ConnectionRefusedEvent>('voxgate:sip:connection-refused');
    const endpoint = await endpointWith({ maxConnectionsPerSource: 3, maxConnections: 100 });
    const port = endpoint.address().tcp!.port;
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) sockets.push(await open(port));
      const extra = await open(port);
      const refused = client(extra);
      await closedInTime(extra, refused.closed);
      assert.equal(refused.received(), '');
      assert.deepEqual(
        refusals.events.map((e) => [e.transport, e.reason, e.remote.address]),
        [['tcp', 'per-source', '127.0.0.1']],
      );
      assert.equal(endpoint.connections().tcp, 3);
      for (const socket of sockets) await answersOptions(socket, port);
      // A connection closed frees its place.
      const first = sockets.shift()!;
      first.destroy();
      await waitFor(() => endpoint.connections().tcp === 2);
      const again = await open(port);
      sockets.push(again);
      await answersOptions(again, port);
    } finally {
      refusals.stop();
      for (const socket of sockets) socket.destroy();
      await endpoint.close();
    }
  });

  test('the cap in all counts TCP, TLS and WebSocket connections together', async () => {
    const refusals = recorder<ConnectionRefusedEvent>('voxgate:sip:connection-refused');
    const pair = selfSigned();
    const endpoint = await endpointWith({
      tls: { port: 0, key: pair.key, cert: pair.cert },
      ws: { port: 0 },
      maxConnections: 2,
      maxConnectionsPerSource: 100,
    });
    const sockets: Socket[] = [];
    try {
      sockets.push(await open(endpoint.address().tcp!.port));
      const tls = tlsConnect({ port: endpoint.address().tls!.port, host: '127.0.0.1', ca: pair.cert });
      sockets.push(tls);
      await new Promise((r) => tls.once('secureConnect', r));
      const ws = new WebSocket(`ws://127.0.0.1:${endpoint.address().ws!.port}`, 'sip');
      ws.on('error', () => undefined);
      await new Promise((r) => ws.once('close', r));
      const refusedTls = tlsConnect({ port: endpoint.address().tls!.port, host: '127.0.0.1', ca: pair.cert });
      refusedTls.on('error', () => undefined);
      await new Promise((r) => refusedTls.once('close', r));
      assert.deepEqual(
        refusals.events.map((e) => [e.transport, e.reason]),
        [
          ['ws', 'total'],
          ['tls', 'total'],
        ],
      );
      await answersOptions(tls, endpoint.address().tls!.port);
      // Places are given back when connections close, TLS ones included (counted on their TCP connection).
      tls.destroy();
      await waitFor(() => endpoint.connections().tls === 0);
      const ws2 = new WebSocket(`ws://127.0.0.1:${endpoint.address().ws!.port}`, 'sip');
      await new Promise((r) => ws2.once('open', r));
      ws2.close();
    } finally {
      refusals.stop();
      for (const socket of sockets) socket.destroy();
      await endpoint.close();
    }
  });
});

describe('stream limits: TLS and WebSocket', () => {
  let endpoint: SipEndpoint;
  let cert: Buffer;
  before(async () => {
    const pair = selfSigned();
    cert = pair.cert;
    endpoint = await endpointWith({
      tcpPort: undefined,
      tls: { port: 0, key: pair.key, cert: pair.cert },
      ws: { port: 0 },
      tcpIdleTimeoutMs: IDLE_MS,
      messageTimeoutMs: 300,
    });
  });
  after(() => endpoint.close());

  test('a TLS handshake never begun is closed at the message timeout', async () => {
    await expectCloses([['tls', 'message-timeout']], async () => {
      const socket = await open(endpoint.address().tls!.port);
      await closedInTime(socket, client(socket).closed);
    });
  });

  test('a slowloris sender over TLS is closed at the message timeout', async () => {
    await expectCloses([['tls', 'message-timeout']], async () => {
      const port = endpoint.address().tls!.port;
      const socket = tlsConnect({ port, host: '127.0.0.1', ca: cert });
      const peer = client(socket);
      await new Promise((r) => socket.once('secureConnect', r));
      await dripUntilClosed(socket, peer.closed, Buffer.from(tcpRequest('OPTIONS', port)));
    });
  });

  test('a WebSocket upgrade request sent a byte at a time is closed at the message timeout', async () => {
    await expectCloses([['ws', 'message-timeout']], async () => {
      const socket = await open(endpoint.address().ws!.port);
      await dripUntilClosed(socket, client(socket).closed, Buffer.from(WS_UPGRADE));
    });
  });

  test('a WebSocket message sent a byte at a time is closed at the message timeout', async () => {
    await expectCloses([['ws', 'message-timeout']], async () => {
      const socket = await open(endpoint.address().ws!.port);
      const peer = client(socket);
      socket.write(WS_UPGRADE);
      await waitFor(() => peer.received().includes('\r\n\r\n'));
      assert.match(peer.received(), /^HTTP\/1\.1 101 /);
      // A masked text frame (RFC 6455 §5.2) of 100 bytes, written one byte every 50 ms.
      const payload = Buffer.alloc(100, 0x41);
      const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
      await dripUntilClosed(socket, peer.closed, frame);
    });
  });

  test('an idle WebSocket is closed at the idle timeout; one sending SIP messages is not', async () => {
    const port = endpoint.address().ws!.port;
    const idle = new WebSocket(`ws://127.0.0.1:${port}`, 'sip');
    const busy = new WebSocket(`ws://127.0.0.1:${port}`, 'sip');
    let busyClosed = false;
    busy.on('close', () => (busyClosed = true));
    await Promise.all([idle, busy].map((ws) => new Promise((r) => ws.once('open', r))));
    const openedAt = Date.now();
    const idleClosed = new Promise((r) => idle.once('close', r));
    for (let i = 0; i < 16; i++) {
      busy.send(tcpRequest('OPTIONS', port).replace('SIP/2.0/TCP', 'SIP/2.0/WS'));
      await new Promise((r) => setTimeout(r, 150));
    }
    await idleClosed;
    assert.ok(Date.now() - openedAt < BOUND_MS);
    assert.equal(busyClosed, false, 'open after 2.4 s of messages with a 1.5 s idle timeout');
    busy.close();
  });
});
