import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { createSipEndpoint, header, type SipEndpoint, type SipRequest } from '../../src/sip/index.js';
import { sipRequest, udpRequest } from '../helpers/udp.js';

/** Reads from a TCP socket until `count` SIP messages (by Content-Length) or CRLFs have arrived. */
function collect(socket: Socket): { next: () => Promise<string> } {
  let buffer = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (d: Buffer) => {
    buffer += d.toString('latin1');
    waiters.splice(0).forEach((w) => w());
  });
  const take = (): string | undefined => {
    if (buffer.startsWith('\r\n') && !buffer.startsWith('\r\n\r\n') && !/^\r\nSIP/.test(buffer)) {
      buffer = buffer.slice(2);
      return '\r\n';
    }
    const end = buffer.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const len = Number(/content-length:\s*(\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
    if (buffer.length < end + 4 + len) return undefined;
    const msg = buffer.slice(0, end + 4 + len);
    buffer = buffer.slice(end + 4 + len);
    return msg;
  };
  return {
    next: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no message; buffer=${JSON.stringify(buffer)}`)),
          5000,
        );
        const attempt = () => {
          const m = take();
          if (m === undefined) return void waiters.push(attempt);
          clearTimeout(timer);
          resolve(m);
        };
        attempt();
      }),
  };
}

describe('SIP endpoint over real sockets (RFC 3261 §18)', () => {
  let endpoint: SipEndpoint;
  let port: number;
  const seen: SipRequest[] = [];
  before(async () => {
    endpoint = await createSipEndpoint({
      host: '127.0.0.1',
      udpPort: 0,
      tcpPort: 0,
      onRequest(request, ctx) {
        seen.push(request);
        if (request.method === 'OPTIONS') ctx.reply(200, 'OK', { Allow: 'OPTIONS' });
        else if (request.method === 'THROW') throw new Error('handler bug');
        else ctx.reply(501, 'Not Implemented');
      },
    });
    port = endpoint.address().udp!.port;
  });
  after(() => endpoint.close());

  test('UDP and TCP share one port', () => {
    assert.equal(endpoint.address().tcp?.port, port);
  });

  test('§8.2.6.2: the response copies Via, From, Call-ID, CSeq and adds a To tag', async () => {
    const reply = (await udpRequest(port, sipRequest('OPTIONS', port))).toString('latin1');
    assert.match(reply, /^SIP\/2\.0 200 OK\r\n/);
    assert.match(reply, /\r\nTo: <sip:gateway@127\.0\.0\.1:\d+>;tag=[0-9a-f]{12}\r\n/);
    assert.match(reply, /\r\nCSeq: 1 OPTIONS\r\n/);
    assert.match(reply, /\r\nContent-Length: 0\r\n\r\n$/);
  });

  test('§18.2.1 and RFC 3581: received and rport are stamped on the top Via', async () => {
    const reply = (await udpRequest(port, sipRequest('OPTIONS', port))).toString('latin1');
    const via = /\r\nVia: ([^\r]*)/.exec(reply)?.[1] ?? '';
    assert.match(via, /;rport=\d+/);
    assert.doesNotMatch(via, /received=/, 'sent-by 127.0.0.1 equals the source: no received');
    const withHost = sipRequest('OPTIONS', port).replace(
      'Via: SIP/2.0/UDP 127.0.0.1:9',
      'Via: SIP/2.0/UDP ua.example.com:9',
    );
    const reply2 = (await udpRequest(port, withHost)).toString('latin1');
    assert.match(
      reply2,
      /\r\nVia: SIP\/2\.0\/UDP ua\.example\.com:9;branch=\S+;rport=\d+;received=127\.0\.0\.1\r\n/,
    );
  });

  test('malformed requests get 400, other versions 505; the endpoint keeps answering', async () => {
    const noCallId = sipRequest('OPTIONS', port).replace(/Call-ID: [^\r]*\r\n/, '');
    assert.match((await udpRequest(port, noCallId)).toString('latin1'), /^SIP\/2\.0 400 Bad Request\r\n/);
    const v3 = sipRequest('OPTIONS', port).replace(/SIP\/2\.0\r\n/, 'SIP/3.0\r\n');
    assert.match((await udpRequest(port, v3)).toString('latin1'), /^SIP\/2\.0 505 Version Not Supported\r\n/);
    assert.match(
      (await udpRequest(port, sipRequest('OPTIONS', port))).toString('latin1'),
      /^SIP\/2\.0 200 OK/,
    );
  });

  test('a handler that throws yields 500, not a crash', async () => {
    const reply = await udpRequest(port, sipRequest('THROW', port));
    assert.match(reply.toString('latin1'), /^SIP\/2\.0 500 Server Internal Error\r\n/);
  });

  test('responses that do not parse and garbage are dropped silently', async () => {
    const socket = createSocket('udp4');
    let answered = false;
    socket.on('message', () => (answered = true));
    socket.send('SIP/2.0 999 Nope\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n\r\n', port, '127.0.0.1');
    socket.send(Buffer.from([0, 1, 2, 3, 255]), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    socket.close();
    assert.equal(answered, false);
  });

  test('TCP: partial reads, pipelined messages, CRLF keepalive (RFC 5626 §4.4.1)', async () => {
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const inbox = collect(socket);
    const one = sipRequest('OPTIONS', port).replace('SIP/2.0/UDP', 'SIP/2.0/TCP');
    const two = sipRequest('INVITE', port)
      .replace('SIP/2.0/UDP', 'SIP/2.0/TCP')
      .replace('Content-Length: 0', 'Content-Length: 4');
    socket.write(one.slice(0, 30));
    await new Promise((r) => setTimeout(r, 20));
    socket.write(one.slice(30) + two + 'v=0\r'.slice(0, 2));
    await new Promise((r) => setTimeout(r, 20));
    socket.write('v=0\r'.slice(2) + '\r\n\r\n');
    assert.match(await inbox.next(), /^SIP\/2\.0 200 OK/);
    assert.match(await inbox.next(), /^SIP\/2\.0 501 Not Implemented/);
    assert.equal(await inbox.next(), '\r\n', 'a double-CRLF ping is answered with a CRLF pong');
    assert.equal(seen.at(-1)?.body.toString(), 'v=0\r');
    assert.equal(header(seen.at(-1)!, 'Content-Length'), '4');
    socket.destroy();
  });

  test('TCP: a request without Content-Length gets 400 and the connection is closed (§18.3)', async () => {
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const inbox = collect(socket);
    const closed = new Promise((r) => socket.once('close', r));
    socket.write(
      sipRequest('OPTIONS', port).replace('SIP/2.0/UDP', 'SIP/2.0/TCP').replace('Content-Length: 0\r\n', ''),
    );
    assert.match(await inbox.next(), /^SIP\/2\.0 400 Bad Request/);
    await closed;
  });
});
