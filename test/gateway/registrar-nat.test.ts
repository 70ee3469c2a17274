import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { decideReach, natEvidence, type RegisterFacts } from '../../src/gateway/nat-detection.js';
import { bindingTarget } from '../../src/gateway/sip-outbound.js';
import {
  answerChallenge,
  buildRequest,
  buildResponse,
  headerValues,
  newTag,
  parseMessage,
  type SipMessage,
  type SipRequest,
} from '../../src/sip/index.js';
import { createSipUserRepository } from '../../src/store/index.js';
import type { Binding } from '../../src/store/shared-state/index.js';
import { phoneBook, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';

/** A UDP socket on 127.0.0.1 that keeps what it receives. */
class Endpoint {
  readonly received: SipMessage[] = [];
  private waiters: ((m: SipMessage) => void)[] = [];
  private constructor(
    readonly socket: Socket,
    readonly port: number,
  ) {
    socket.on('message', (bytes) => {
      const m = parseMessage(bytes, { datagram: true });
      this.received.push(m);
      for (const w of this.waiters.splice(0)) w(m);
    });
  }
  static async open(): Promise<Endpoint> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new Endpoint(socket, socket.address().port);
  }
  /** The first message `match` accepts, or undefined after `ms`. */
  async next(match: (m: SipMessage) => boolean, ms: number): Promise<SipMessage | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.received.findIndex(match);
      if (i >= 0) return this.received.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
  private closed = false;
  close() {
    if (!this.closed) this.socket.close();
    this.closed = true;
  }
}

const isRequest = (method: string) => (m: SipMessage) => m.kind === 'request' && m.method === method;

/**
 * alice REGISTERs from `from` with the Via sent-by and Contact given (as a phone behind NAT or not would), and
 * answers the digest challenge.
 */
async function register(
  gw: GatewayHarness,
  from: Endpoint,
  options: { via: string; contact: string },
): Promise<void> {
  const callId = randomBytes(8).toString('hex');
  let seq = 1;
  const build = (extra: { name: string; value: string }[]) =>
    buildRequest('REGISTER', 'sip:acme.example', [
      {
        name: 'Via',
        value: `SIP/2.0/UDP ${options.via};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
      },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `<sip:alice@acme.example>;tag=${newTag()}` },
      { name: 'To', value: '<sip:alice@acme.example>' },
      { name: 'Call-ID', value: callId },
      { name: 'CSeq', value: `${seq++} REGISTER` },
      { name: 'Contact', value: options.contact },
      { name: 'Expires', value: '600' },
      { name: 'User-Agent', value: 'nat-test/1.0' },
      ...extra,
    ]);
  const isReply = (status: number) => (m: SipMessage) =>
    m.kind === 'response' && m.callId === callId && m.status === status;
  from.socket.send(build([]), gw.port, '127.0.0.1');
  const challenge = await from.next(isReply(401), 5000);
  assert.ok(challenge, 'challenged');
  const answer = answerChallenge({
    challenges: headerValues(challenge, 'WWW-Authenticate'),
    method: 'REGISTER',
    uri: 'sip:acme.example',
    username: 'alice',
    password: 's3cret',
  });
  assert.ok(answer);
  from.socket.send(build([{ name: 'Authorization', value: answer.authorization }]), gw.port, '127.0.0.1');
  assert.ok(await from.next(isReply(200), 5000), 'registered');
}

describe('where calls to a registered phone go: its Contact or its source (NAT), over real UDP', () => {
  let gw: GatewayHarness;
  const book = phoneBook(() => gw);
  let a: Endpoint; // sends the REGISTER: the address the gateway sees (the NAT's public side)
  let b: Endpoint; // what the Contact names
  before(async () => {
    gw = await startGateway({ keepaliveMs: 60_000 });
  });
  after(() => gw.close());
  afterEach(async () => {
    a?.close();
    b?.close();
    await book.reset();
    await setNat('auto');
  });

  async function setNat(nat: 'auto' | 'force' | 'off') {
    const users = createSipUserRepository(gw.db);
    const alice = (await users.list(gw.tenantId, { limit: 10 })).find((u) => u.username === 'alice')!;
    await users.update(gw.tenantId, alice.id, { nat });
  }

  /** Registers alice from `a` with a Contact naming `b`; bob calls her; which socket rang. */
  async function callLandsOn(options: {
    nat: 'auto' | 'force' | 'off';
    via: (a: Endpoint, b: Endpoint) => string;
    contact?: (a: Endpoint, b: Endpoint) => string;
  }): Promise<{ on: 'a' | 'b' | 'none'; binding: Binding | undefined }> {
    a = await Endpoint.open();
    b = await Endpoint.open();
    await setNat(options.nat);
    await register(gw, a, {
      via: options.via(a, b),
      contact: options.contact?.(a, b) ?? `<sip:alice@127.0.0.1:${b.port}>`,
    });
    const [binding] = await gw.state.registrations.list('sip:alice@acme.example');
    const bob = await book.phone('bob');
    const call = await bob.invite('alice');
    const landed = await Promise.race([
      a.next(isRequest('INVITE'), 3000).then((m) => m && { on: 'a' as const, m, at: a }),
      b.next(isRequest('INVITE'), 3000).then((m) => m && { on: 'b' as const, m, at: b }),
    ]);
    if (landed) {
      // Busy, so that the call ends at once.
      landed.at.socket.send(
        buildResponse(landed.m as SipRequest, 486, 'Busy Here', {}, undefined, 'alicetag'),
        gw.port,
        '127.0.0.1',
      );
      const final = await call.final();
      assert.equal(final.status, 486);
      call.ack();
    }
    return { on: landed?.on ?? 'none', binding };
  }

  test('auto, a phone not behind NAT (its Via is its source) whose Contact names another socket: the Contact', async () => {
    const { on, binding } = await callLandsOn({ nat: 'auto', via: (a) => `127.0.0.1:${a.port}` });
    assert.equal(binding?.reach, 'contact');
    assert.equal(on, 'b');
  });

  test('auto, the Via port is not the source port (nathelper flag 16, a NAT mapped it): the source', async () => {
    const { on, binding } = await callLandsOn({ nat: 'auto', via: (_a, b) => `127.0.0.1:${b.port}` });
    assert.equal(binding?.reach, 'source');
    assert.equal(on, 'a');
  });

  test('auto, the Contact is a private address (flag 1): the source', async () => {
    const { on, binding } = await callLandsOn({
      nat: 'auto',
      via: (a) => `127.0.0.1:${a.port}`,
      contact: () => '<sip:alice@192.168.1.20:5060>',
    });
    assert.equal(binding?.reach, 'source');
    assert.equal(on, 'a');
  });

  test('auto, RFC 5626 outbound (+sip.instance and reg-id): the flow it registered on', async () => {
    const { on, binding } = await callLandsOn({
      nat: 'auto',
      via: (a) => `127.0.0.1:${a.port}`,
      contact: (_a, b) =>
        `<sip:alice@127.0.0.1:${b.port};ob>;reg-id=1;+sip.instance="<urn:uuid:00000000-0000-4000-8000-000000000001>"`,
    });
    assert.equal(binding?.reach, 'source');
    assert.equal(on, 'a');
  });

  test('force: the source, even for a phone that is not behind NAT', async () => {
    const { on, binding } = await callLandsOn({ nat: 'force', via: (a) => `127.0.0.1:${a.port}` });
    assert.equal(binding?.reach, 'source');
    assert.equal(on, 'a');
  });

  test('off: the Contact, even for a phone that looks behind NAT', async () => {
    const { on, binding } = await callLandsOn({ nat: 'off', via: (_a, b) => `127.0.0.1:${b.port}` });
    assert.equal(binding?.reach, 'contact');
    assert.equal(on, 'b');
  });

  test('the keepalive pings where calls go: the Contact under auto for a phone not behind NAT, the source under force', async () => {
    for (const [nat, expected] of [
      ['auto', 'b'],
      ['force', 'a'],
    ] as const) {
      a = await Endpoint.open();
      b = await Endpoint.open();
      await setNat(nat);
      await register(gw, a, { via: `127.0.0.1:${a.port}`, contact: `<sip:alice@127.0.0.1:${b.port}>` });
      const ping = gw.gateway.keepalive!.pingAll();
      const [onA, onB] = await Promise.all([
        a.next(isRequest('OPTIONS'), 1500),
        b.next(isRequest('OPTIONS'), 1500),
      ]);
      const got = onA ? a : onB ? b : undefined;
      const options = (onA ?? onB) as SipRequest | undefined;
      assert.ok(got && options, `${nat}: an OPTIONS was sent`);
      got.socket.send(buildResponse(options, 200, 'OK', {}), gw.port, '127.0.0.1');
      await ping;
      assert.equal(got === a ? 'a' : 'b', expected, `${nat}: pinged at ${expected}`);
      a.close();
      b.close();
      await book.reset();
    }
  });
});

describe('NAT detection (the auto rule)', () => {
  const base: RegisterFacts = {
    source: { address: '203.0.113.5', port: 5060 },
    transport: 'udp',
    contact: '<sip:alice@203.0.113.5:5060>',
    via: { host: '203.0.113.5', port: 5060 },
  };

  test('a UA whose Via and Contact are its source address: no evidence, the Contact', () => {
    assert.deepEqual(natEvidence(base), []);
    assert.equal(decideReach('auto', base).reach, 'contact');
    assert.equal(decideReach('force', base).reach, 'source');
  });

  test('each nat_uac_test flag and flow on its own', () => {
    const cases: [Partial<RegisterFacts>, string][] = [
      [{ contact: '<sip:alice@10.0.0.7:5060>' }, 'contact-private'],
      [{ contact: '<sip:alice@172.20.1.1>' }, 'contact-private'],
      [{ contact: '<sip:alice@100.64.3.3>' }, 'contact-private'],
      [{ contact: '<sip:alice@[fd00::1]:5060>' }, 'contact-private'],
      [{ contact: '<sip:alice@127.0.0.1:5060>' }, 'contact-private'],
      [{ via: { host: '192.168.0.2', port: 5060 } }, 'via-address'],
      [{ via: { host: '203.0.113.5', port: 5062 } }, 'via-port'],
      [
        { via: { host: '203.0.113.5', port: undefined }, source: { address: '203.0.113.5', port: 40000 } },
        'via-port',
      ],
      [{ webSocket: 'wss', transport: 'tls' }, 'websocket'],
      [{ transport: 'tcp' }, 'stream-flow'],
      [{ contact: '<sip:alice@203.0.113.5:5060;ob>' }, 'outbound'],
      [{ contact: '<sip:alice@phone.example.com>' }, 'contact-not-address'],
    ];
    for (const [change, reason] of cases) {
      const facts = { ...base, ...change };
      assert.ok(
        natEvidence(facts).some((r) => r === reason),
        `${JSON.stringify(change)} → ${reason}`,
      );
      assert.equal(decideReach('auto', facts).reach, 'source');
    }
  });

  test('not evidence: a Contact on another public address or port, a private Contact equal to the source, no Via port on 5060', () => {
    assert.deepEqual(natEvidence({ ...base, contact: '<sip:alice@198.51.100.9:5080>' }), []);
    assert.deepEqual(
      natEvidence({
        source: { address: '10.1.1.1', port: 5060 },
        transport: 'udp',
        contact: '<sip:alice@10.1.1.1:5060>',
        via: { host: '10.1.1.1', port: undefined },
      }),
      [],
    );
    assert.deepEqual(
      natEvidence({
        ...base,
        source: { address: '::ffff:203.0.113.5', port: 5060 },
      }),
      [],
    );
  });

  test('off goes to the Contact unless nothing but the flow reaches the UA', () => {
    assert.equal(decideReach('off', { ...base, contact: '<sip:alice@10.0.0.7>' }).reach, 'contact');
    assert.equal(decideReach('off', { ...base, transport: 'tls', webSocket: 'wss' }).reach, 'source');
    assert.equal(decideReach('off', { ...base, contact: '<sip:alice@phone.example.com>' }).reach, 'source');
  });

  test('bindingTarget: the Contact (transport parameter, sips, default ports) or the source and its flow', () => {
    const b: Binding = {
      contact: 'sip:alice@198.51.100.9:5080;transport=tcp',
      expiresAt: Date.now() + 60_000,
      source: { address: '203.0.113.5', port: 40000 },
      transport: 'tcp',
      flowId: 'flow-1',
      callId: 'c',
      cseq: 1,
      tenantId: 't',
    };
    assert.deepEqual(bindingTarget({ ...b, reach: 'contact' }), {
      transport: 'tcp',
      address: '198.51.100.9',
      port: 5080,
    });
    assert.deepEqual(bindingTarget({ ...b, reach: 'contact', contact: 'sips:alice@198.51.100.9' }), {
      transport: 'tls',
      address: '198.51.100.9',
      port: 5061,
    });
    assert.deepEqual(bindingTarget({ ...b, reach: 'source' }), {
      transport: 'tcp',
      address: '203.0.113.5',
      port: 40000,
      flowId: 'flow-1',
    });
    assert.deepEqual(
      bindingTarget(b),
      bindingTarget({ ...b, reach: 'source' }),
      'older bindings: the source',
    );
    assert.equal(
      bindingTarget({ ...b, reach: 'contact', contact: 'sip:alice@host.example' }).address,
      '203.0.113.5',
    );
    assert.deepEqual(bindingTarget({ ...b, transport: 'wss', reach: 'contact' }), {
      transport: 'tls',
      address: '203.0.113.5',
      port: 40000,
      flowId: 'flow-1',
      webSocket: 'wss',
    });
  });
});
