import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import {
  answerChallenge,
  buildRequest,
  headerValues,
  newBranch,
  newTag,
  StreamFramer,
  parseMessage,
  type SipResponse,
} from '../../src/sip/index.js';
import { startGateway, HARNESS_USERS, type GatewayHarness } from '../helpers/gateway-harness.js';

/*
 * The idle timeout of stream connections and registrations on them: RFC 5626 §5.2, requests to a UA that
 * registered over a connection go on that connection, so the gateway keeps it open while the registration lives,
 * even when nothing else crosses it (no keepalive here); an unregistered connection closes when idle.
 */

const IDLE_MS = 800;
const BOUND_MS = 5000;

/** A TCP client speaking SIP to the gateway: sends requests, reads the responses framed (§18.3). */
class TcpUa {
  private readonly responses: SipResponse[] = [];
  readonly closed: Promise<void>;
  private cseq = 1;

  private constructor(
    readonly socket: Socket,
    private readonly gatewayPort: number,
  ) {
    const framer = new StreamFramer(65_535);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of framer.push(chunk)) {
        if (frame.kind !== 'message') continue;
        const message = parseMessage(frame.bytes, { datagram: false });
        if (message.kind === 'response') this.responses.push(message);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async open(port: number): Promise<TcpUa> {
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    return new TcpUa(socket, port);
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  async register(user: keyof typeof HARNESS_USERS, expires: number): Promise<SipResponse> {
    const uri = 'sip:acme.example';
    const callId = newTag();
    const local = this.socket.address() as { port: number };
    const build = (extra: { name: string; value: string }[]) =>
      buildRequest('REGISTER', uri, [
        { name: 'Via', value: `SIP/2.0/TCP 127.0.0.1:${local.port};branch=${newBranch()};rport` },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `<sip:${user}@acme.example>;tag=${newTag()}` },
        { name: 'To', value: `<sip:${user}@acme.example>` },
        { name: 'Call-ID', value: callId },
        { name: 'CSeq', value: `${this.cseq++} REGISTER` },
        { name: 'Contact', value: `<sip:${user}@127.0.0.1:${local.port};transport=tcp>` },
        { name: 'Expires', value: String(expires) },
        ...extra,
      ]);
    this.socket.write(build([]));
    const challenge = await this.response(callId, 401);
    const answer = answerChallenge({
      challenges: headerValues(challenge, 'WWW-Authenticate'),
      method: 'REGISTER',
      uri,
      username: user,
      password: HARNESS_USERS[user],
    });
    assert.ok(answer, 'a usable challenge');
    this.socket.write(build([{ name: 'Authorization', value: answer.authorization }]));
    return this.response(callId, 200);
  }

  async options(): Promise<SipResponse> {
    const callId = newTag();
    this.socket.write(
      buildRequest('OPTIONS', `sip:127.0.0.1:${this.gatewayPort}`, [
        { name: 'Via', value: `SIP/2.0/TCP 127.0.0.1:9;branch=${newBranch()};rport` },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `<sip:probe@acme.example>;tag=${newTag()}` },
        { name: 'To', value: `<sip:127.0.0.1:${this.gatewayPort}>` },
        { name: 'Call-ID', value: callId },
        { name: 'CSeq', value: '1 OPTIONS' },
      ]),
    );
    return this.response(callId, (status) => status >= 200);
  }

  private async response(callId: string, status: number | ((s: number) => boolean)): Promise<SipResponse> {
    const wanted = typeof status === 'number' ? (s: number) => s === status : status;
    const deadline = Date.now() + BOUND_MS;
    for (;;) {
      const i = this.responses.findIndex((r) => r.callId === callId && wanted(r.status));
      if (i !== -1) return this.responses.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no response to ${callId}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

async function closedWithin(ua: TcpUa, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    ua.closed,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
    }),
  ]);
  clearTimeout(timer);
}

describe('registrations over TCP and the idle timeout (RFC 5626 §5.2)', () => {
  let gw: GatewayHarness;
  let tcpPort: number;
  before(async () => {
    gw = await startGateway({ streams: { idleTimeoutMs: IDLE_MS, messageTimeoutMs: IDLE_MS } });
    tcpPort = gw.gateway.endpoint.address().tcp!.port;
  });
  after(() => gw.close());

  test('REGISTER and OPTIONS over TCP are answered; the connection then closes when idle', async () => {
    const ua = await TcpUa.open(tcpPort);
    const ok = await ua.options();
    assert.equal(ok.status, 200);
    await closedWithin(ua, BOUND_MS);
  });

  test('a connection a registration came on stays open past the idle timeout until it is unregistered', async () => {
    const ua = await TcpUa.open(tcpPort);
    const registered = await ua.register('alice', 600);
    assert.equal(registered.status, 200);
    await new Promise((r) => setTimeout(r, 3 * IDLE_MS));
    assert.equal(ua.isClosed, false, 'open after three idle timeouts');
    assert.equal((await ua.options()).status, 200);
    const unregistered = await ua.register('alice', 0);
    assert.equal(unregistered.status, 200);
    await closedWithin(ua, BOUND_MS);
  });
});
