// Calls to and from carriers: outbound routes over ordered trunks with failover and digest answers to the
// carrier's challenge, inbound calls matched by source CIDR and routed by DID. The carriers are FakeCarriers on
// other loopback addresses (127.0.0.2, 127.0.0.3), so that the phones on 127.0.0.1 are not mistaken for them.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import {
  computeHa1,
  createDigestServer,
  header,
  headerValues,
  type SipRequest,
} from '../../src/sip/index.js';
import {
  CALL_EVENTS_STREAM,
  createRouteRepository,
  createTrunkRepository,
  decodeCallEvent,
  type CallEvent,
} from '../../src/store/index.js';
import { FakeCarrier } from '../helpers/fake-carrier.js';
import { startGateway, HARNESS_USERS, type GatewayHarness } from '../helpers/gateway-harness.js';
import { assignNumber } from '../helpers/harness-numbers.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };

async function eventsOf(gw: GatewayHarness, callId: string, count: number): Promise<CallEvent[]> {
  const out: CallEvent[] = [];
  const deadline = Date.now() + 5000;
  while (out.length < count && Date.now() < deadline) {
    for (const e of await gw.state.events.consume(CALL_EVENTS_STREAM, `t-${callId}`, 'c', { blockMs: 200 })) {
      const event = decodeCallEvent(e.fields);
      // The first 18x's `ringing` event is not what these tests count.
      if (event.callId === callId && event.type !== 'ringing') out.push(event);
    }
  }
  return out;
}

describe('calls through carrier trunks', () => {
  let gw: GatewayHarness;
  let carrierA: FakeCarrier;
  let carrierB: FakeCarrier;
  const phones: SipPhone[] = [];
  before(async () => {
    gw = await startGateway({ timers: FAST });
    carrierA = await FakeCarrier.open(gw.port, '127.0.0.2');
    carrierB = await FakeCarrier.open(gw.port, '127.0.0.3');
    const trunks = createTrunkRepository(gw.db);
    const a = await trunks.create({
      tenantId: gw.tenantId,
      name: 'carrier-a',
      host: '127.0.0.2',
      port: carrierA.port,
      credentials: { username: 'acme-out', password: 'carrier-secret' },
      inboundCidrs: ['127.0.0.2/32'],
    });
    const b = await trunks.create({
      tenantId: gw.tenantId,
      name: 'carrier-b',
      host: '127.0.0.3',
      port: carrierB.port,
    });
    await createRouteRepository(gw.db).create({
      tenantId: gw.tenantId,
      name: 'national',
      pattern: '0[1-9]\\d{8,9}',
      stripDigits: 1,
      prefix: '+44',
      trunkIds: [a.id, b.id],
    });
    await assignNumber(gw, 'bob', '+442079460000');
  });
  afterEach(() => {
    for (const p of phones.splice(0)) p.close();
  });
  after(async () => {
    carrierA.close();
    carrierB.close();
    await gw.close();
  });
  const phone = async (user: keyof typeof HARNESS_USERS) => {
    const p = await SipPhone.open(user, HARNESS_USERS[user], gw.port);
    phones.push(p);
    await p.register();
    return p;
  };

  test('outbound: the number is rewritten, the first trunk answers 503, the call fails over to the second', async () => {
    const alice = await phone('alice');
    const call = await alice.invite('02079461234');
    const first = await carrierA.next('INVITE');
    assert.equal(first.uri, `sip:+442079461234@127.0.0.2:${carrierA.port}`);
    assert.match(header(first, 'To') ?? '', /^<sip:\+442079461234@127\.0\.0\.2>$/);
    assert.match(header(first, 'From') ?? '', /"alice" <sip:alice@127\.0\.0\.1>;tag=/);
    carrierA.reply(first, 503);
    const second = await carrierB.next('INVITE');
    assert.equal(second.uri, `sip:+442079461234@127.0.0.3:${carrierB.port}`);
    carrierB.reply(second, 200, { body: sdp(43000), toTag: 'cb1' });
    assert.equal((await call.final()).status, 200);
    call.ack();
    await carrierB.next('ACK');
    call.send('BYE');
    carrierB.reply(await carrierB.next('BYE'), 200);
    const [started, , ended] = await eventsOf(gw, call.callId, 3);
    assert.equal(started?.direction, 'outbound');
    assert.equal(started?.to, '+442079461234');
    assert.equal(ended?.disposition, 'answered');
  });

  test("outbound: the carrier's 407 is answered with the trunk credentials (§22.3), same Call-ID, higher CSeq", async () => {
    const carrierAuth = createDigestServer({
      realm: 'carrier.example',
      secret: randomBytes(32),
      algorithms: ['MD5'],
    });
    const alice = await phone('alice');
    const call = await alice.invite('01134960000');
    const first = await carrierA.next('INVITE');
    carrierA.reply(first, 407, { headers: { 'Proxy-Authenticate': carrierAuth.challenges()[0]! } });
    const retry = await carrierA.next('INVITE');
    assert.equal(retry.callId, first.callId);
    assert.equal(retry.cseq.seq, first.cseq.seq + 1);
    const verdict = await carrierAuth.verify('INVITE', headerValues(retry, 'Proxy-Authorization'), (user) =>
      user === 'acme-out' ? computeHa1('MD5', 'acme-out', 'carrier.example', 'carrier-secret') : undefined,
    );
    assert.ok(verdict.ok, 'the credentials are right');
    carrierA.reply(retry, 486);
    assert.equal((await call.final()).status, 486, 'a 486 is final: no failover');
    assert.equal(carrierB.requests.filter((m) => m.method === 'INVITE').length, 0);
  });

  test('inbound: a call from the carrier address to a DID rings the user it is assigned to, unchallenged', async () => {
    const bob = await phone('bob');
    const inbound = carrierA.invite('+442079460000', { body: sdp(44000) });
    const invite = (await bob.request('INVITE')) as SipRequest;
    assert.equal(invite.uri, bob.contact.slice(1, -1));
    bob.reply(invite, 200, 'OK', 'bin', {}, sdp(44002));
    const ok = await inbound.response(200);
    assert.match(ok.body.toString(), /m=audio 44002 /);
    const [started] = await eventsOf(gw, inbound.callId, 1);
    assert.equal(started?.direction, 'inbound');
    assert.equal(started?.to, '+442079460000');
    assert.ok(started?.trunkId);
  });

  test('inbound: a trunk on an address no CIDR matches authenticates with digest (realm "voxgate") and its DID call rings the user', async () => {
    const bob = await phone('bob');
    // A PBX on 127.0.0.4 (no trunk's CIDR) with trunk carrier-a's credentials; its From names no tenant domain.
    const pbx = await SipPhone.open('acme-out', 'carrier-secret', gw.port, 'pbx.example', '127.0.0.4');
    phones.push(pbx);
    const call = await pbx.invite('+442079460000', sdp(44010));
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'bdig', {}, sdp(44012));
    assert.equal((await call.final()).status, 200);
    call.ack();
    const [started] = await eventsOf(gw, call.callId, 1);
    assert.equal(started?.direction, 'inbound');
    assert.equal(started?.to, '+442079460000');
    const carrierA = (await createTrunkRepository(gw.db).list(gw.tenantId, { limit: 10 })).find(
      (t) => t.name === 'carrier-a',
    );
    assert.equal(started?.trunkId, carrierA?.id);
    call.send('BYE');
    const bye = await bob.request('BYE');
    bob.reply(bye, 200, 'OK', 'bdig');
  });

  test('inbound digest: the challenge names realm "voxgate"; a wrong trunk password is challenged again, never routed', async () => {
    const pbx = await SipPhone.open('acme-out', 'wrong-secret', gw.port, 'pbx.example', '127.0.0.4');
    phones.push(pbx);
    const call = await pbx.invite('+442079460000', sdp(44014));
    const again = await call.final();
    assert.equal(again.status, 407);
    assert.match(header(again, 'Proxy-Authenticate') ?? '', /realm="voxgate"/);
  });

  test('inbound: an unassigned DID gets 404', async () => {
    const inbound = carrierA.invite('+442079469999');
    assert.equal((await inbound.response(404)).status, 404);
  });

  test('a number no route matches gets 404 without reaching any carrier', async () => {
    const alice = await phone('alice');
    const call = await alice.invite('999');
    assert.equal((await call.final()).status, 404);
  });
});

/** A TCP port nothing listens on (bound, then closed). */
async function closedTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('trunk health checks (OPTIONS)', () => {
  test('§8.1.3.1: a TCP trunk that refuses the connection is out of routing, its local 503 not taken as an answer', async () => {
    const gw = await startGateway({ timers: { t1: 20, t2: 160, t4: 500 }, trunkCheckMs: 3_600_000 });
    try {
      const trunk = await createTrunkRepository(gw.db).create({
        tenantId: gw.tenantId,
        name: 'refusing',
        host: '127.0.0.1',
        port: await closedTcpPort(),
        transport: 'tcp',
      });
      await gw.gateway.trunkMonitor!.checkAll();
      assert.deepEqual([...gw.gateway.trunkMonitor!.down], [trunk.id]);
      assert.ok(
        gw.warnings.some(
          (w) => w.message.startsWith('trunk out of routing') && w.detail.trunkId === trunk.id,
        ),
      );
    } finally {
      await gw.close();
    }
  });

  test('a carrier that stops answering OPTIONS leaves routing: calls go straight to the next trunk', async () => {
    const gw = await startGateway({ timers: { t1: 20, t2: 160, t4: 500 }, trunkCheckMs: 3_600_000 });
    const silent = await FakeCarrier.open(gw.port, '127.0.0.2');
    const alive = await FakeCarrier.open(gw.port, '127.0.0.3');
    const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
    try {
      const trunks = createTrunkRepository(gw.db);
      const a = await trunks.create({
        tenantId: gw.tenantId,
        name: 'a',
        host: '127.0.0.2',
        port: silent.port,
      });
      const b = await trunks.create({
        tenantId: gw.tenantId,
        name: 'b',
        host: '127.0.0.3',
        port: alive.port,
      });
      await createRouteRepository(gw.db).create({
        tenantId: gw.tenantId,
        name: 'all',
        pattern: '\\d+',
        trunkIds: [a.id, b.id],
      });
      silent.answer('OPTIONS', 'ignore');
      alive.answer('OPTIONS', { status: 200 });
      await gw.gateway.trunkMonitor!.checkAll();
      assert.deepEqual([...gw.gateway.trunkMonitor!.down], [a.id]);
      assert.ok(
        gw.warnings.some((w) => w.message.startsWith('trunk out of routing') && w.detail.trunkId === a.id),
      );

      await alice.register();
      const call = await alice.invite('5551234');
      const invite = await alive.next('INVITE');
      assert.equal(invite.uri, `sip:5551234@127.0.0.3:${alive.port}`);
      alive.reply(invite, 486);
      assert.equal((await call.final()).status, 486);
    } finally {
      alice.close();
      silent.close();
      alive.close();
      await gw.close();
    }
  });
});
