// Click-to-call over real sockets (issue #16): POST /v1/tenants/{t}/calls publishes an `originate` command that
// a gateway replica takes from the shared consumer group; the gateway rings `from` with the relay's offer (a
// Caller-ID naming `to`), and once `from` answers calls `to` as if `from` had dialled it, media anchored on
// voxgate's relay (RTP checked through it). Failures of either party end the call with a CDR-bearing event.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { followPlacedCalls } from '../../src/gateway/index.js';
import { header } from '../../src/sip/index.js';
import { createRouteRepository, createTrunkRepository } from '../../src/store/index.js';
import { FakeCarrier } from '../helpers/fake-carrier.js';
import { startApiApp, type ApiApp } from '../helpers/api-app.js';
import {
  callEventLog,
  followHarnessCallCommands,
  HARNESS_USERS,
  phoneBook,
  startGateway,
  type GatewayHarness,
} from '../helpers/gateway-harness.js';
import {
  runSipp,
  sippInstalled,
  sippMediaPort,
  sippPort,
  sippRegisterArgs,
  startSipp,
} from '../helpers/sipp.js';
import { startRelay, type RunningRelay } from '../helpers/relays.js';
import { mPort, partyPool, talks } from '../helpers/rtp-party.js';
import { sdp, type SipPhone } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };

describe('click-to-call: POST /v1/tenants/{t}/calls rings `from`, then connects it to `to`', () => {
  let relay: RunningRelay;
  let gw: GatewayHarness;
  let api: ApiApp;
  let placed: { stop(): Promise<void> };
  let commands: { stop(): Promise<void> };
  let operator: string;
  const media = partyPool();
  const phones = phoneBook(() => gw);
  const calls = callEventLog(() => gw, 'click-to-call-test');

  before(async () => {
    relay = await startRelay('voxgate');
    gw = await startGateway({ timers: FAST, relays: [{ host: '127.0.0.1', port: relay.ngPort }] });
    api = await startApiApp(gw.db, { state: gw.state });
    operator = await api.key(gw.tenantId, 'operator');
    placed = followPlacedCalls({
      events: gw.state.events,
      b2bua: gw.gateway.b2bua,
      consumer: 'test-gateway',
      onError: (err) => assert.fail(String(err)),
      blockMs: 50,
    });
    commands = followHarnessCallCommands(gw);
    calls.start();
  });
  afterEach(async () => {
    await phones.reset();
    media.closeAll();
  });
  after(async () => {
    await calls.stop();
    await placed?.stop();
    await commands?.stop();
    await api?.app.close();
    await gw?.close();
    await relay?.stop();
  });

  const place = (key: string, body: unknown, tenant = gw.tenantId) =>
    api.call(key, 'POST', `/v1/tenants/${tenant}/calls`, body);

  /** alice is rung and answers: her INVITE, her RTP end, and the relay port she was given. */
  async function aliceAnswers(alice: SipPhone, tag: string) {
    const invite = await alice.request('INVITE');
    const aliceRtp = await media.open();
    alice.reply(invite, 180, 'Ringing', tag);
    alice.reply(invite, 200, 'OK', tag, {}, sdp(aliceRtp.port, 3));
    const ack = await alice.request('ACK');
    assert.equal(ack.callId, invite.callId);
    return { invite, aliceRtp, relayForAlice: mPort(invite.body) };
  }

  test('alice is rung first (Caller-ID: bob, the relay’s offer), then bob (From: alice); they talk through the relay; the API hangs up both', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const res = await place(operator, { from: 'alice', to: 'bob' });
    assert.equal(res.statusCode, 202, res.body);
    const { callId, state } = res.json<{ callId: string; state: string }>();
    assert.equal(state, 'placing');
    assert.match(res.headers.location as string, new RegExp(`/calls/${callId}$`));

    const a = await aliceAnswers(alice, 'a1');
    assert.match(header(a.invite, 'From') ?? '', /sip:bob@acme\.example/);
    assert.match(header(a.invite, 'To') ?? '', /sip:alice@acme\.example/);
    assert.equal(header(a.invite, 'Content-Type'), 'application/sdp');
    // The relay's offer: its own address, not the placeholder's 0.0.0.0.
    assert.match(a.invite.body.toString(), /c=IN IP4 127\.0\.0\.1/);
    assert.notEqual(a.relayForAlice, 9);
    await calls.event((e) => e.type === 'ringing' && e.callId === callId, 'ringing');

    const toBob = await bob.request('INVITE');
    assert.match(header(toBob, 'From') ?? '', /sip:alice@acme\.example/);
    assert.match(header(toBob, 'To') ?? '', /sip:bob@acme\.example/);
    const bobRtp = await media.open();
    bob.reply(toBob, 180, 'Ringing', 'b1');
    bob.reply(toBob, 200, 'OK', 'b1', {}, sdp(bobRtp.port, 4));
    await bob.request('ACK');
    const relayForBob = mPort(toBob.body);
    const answered = await calls.event((e) => e.type === 'answered' && e.callId === callId, 'answered');
    // It rang once: when alice did (bob's ringing is not a second `ringing` of the call).
    assert.equal(calls.seen.filter((e) => e.type === 'ringing' && e.callId === callId).length, 1);
    assert.equal(answered.from, 'sip:alice@acme.example');
    assert.equal(answered.to, 'sip:bob@acme.example');
    assert.equal((await gw.state.calls.get(callId))?.state, 'answered');

    await talks(a.aliceRtp, a.relayForAlice, bobRtp, 0xc1);
    await talks(bobRtp, relayForBob, a.aliceRtp, 0xc2);

    const end = await api.call(operator, 'DELETE', `/v1/tenants/${gw.tenantId}/calls/live/${callId}`);
    assert.equal(end.statusCode, 202, end.body);
    const [toAlice, toBobBye] = await Promise.all([alice.request('BYE'), bob.request('BYE')]);
    assert.equal(toAlice.callId, a.invite.callId);
    // Our INVITE was CSeq 1 in this dialog: the BYE goes on from there (§12.2.1.1).
    assert.ok(Number(header(toAlice, 'CSeq')?.split(' ')[0]) > 1);
    alice.reply(toAlice, 200, 'OK', 'a1');
    bob.reply(toBobBye, 200, 'OK', 'b1');
    const ended = await calls.event((e) => e.type === 'ended' && e.callId === callId, 'ended');
    assert.equal(ended.disposition, 'answered');
    assert.equal(ended.hangupBy, 'api');
    assert.ok(ended.media?.callerToCallee?.packets, 'media counted');
  });

  test('`to` busy: alice, who answered, gets a BYE whose Reason says 486; the call ends busy', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const res = await place(operator, { from: 'alice', to: 'bob' });
    assert.equal(res.statusCode, 202, res.body);
    const { callId } = res.json<{ callId: string }>();
    const a = await aliceAnswers(alice, 'a2');
    const toBob = await bob.request('INVITE');
    bob.reply(toBob, 486, 'Busy Here', 'b2');
    const bye = await alice.request('BYE');
    assert.equal(bye.callId, a.invite.callId);
    assert.match(header(bye, 'Reason') ?? '', /^SIP;cause=486;text="Busy Here"$/);
    alice.reply(bye, 200, 'OK', 'a2');
    const ended = await calls.event((e) => e.type === 'ended' && e.callId === callId, 'ended');
    assert.equal(ended.disposition, 'busy');
    assert.equal(ended.sipCode, 486);
    assert.equal(ended.hangupBy, 'callee');
    assert.equal(await gw.state.calls.get(callId), undefined);
  });

  test('`from` busy: bob is never rung, and the call ends busy by the caller', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const res = await place(operator, { from: 'alice', to: 'bob' });
    const { callId } = res.json<{ callId: string }>();
    const invite = await alice.request('INVITE');
    alice.reply(invite, 486, 'Busy Here', 'a3');
    const ended = await calls.event((e) => e.type === 'ended' && e.callId === callId, 'ended');
    assert.equal(ended.disposition, 'busy');
    assert.equal(ended.hangupBy, 'caller');
    await assert.rejects(bob.request('INVITE', 300));
  });

  test('`from` a number: the carrier is rung through the tenant’s route (Caller-ID: bob), then bob, from that number', async () => {
    const bob = await phones.phone('bob');
    const carrier = await FakeCarrier.open(gw.port, '127.0.0.2');
    try {
      const trunk = await createTrunkRepository(gw.db).create({
        tenantId: gw.tenantId,
        name: 'carrier',
        host: '127.0.0.2',
        port: carrier.port,
      });
      await createRouteRepository(gw.db).create({
        tenantId: gw.tenantId,
        name: 'uk',
        pattern: '\\+44\\d{10}',
        trunkIds: [trunk.id],
      });
      const res = await place(operator, { from: '+442079461234', to: 'bob' });
      assert.equal(res.statusCode, 202, res.body);
      const { callId } = res.json<{ callId: string }>();
      const out = await carrier.next('INVITE');
      assert.equal(out.uri, `sip:+442079461234@127.0.0.2:${carrier.port}`);
      assert.match(header(out, 'From') ?? '', /<sip:bob@127\.0\.0\.1>;tag=/);
      const far = await media.open();
      carrier.reply(out, 200, { body: sdp(far.port, 5), toTag: 'k1' });
      await carrier.next('ACK');
      const toBob = await bob.request('INVITE');
      assert.match(header(toBob, 'From') ?? '', /sip:\+442079461234@acme\.example/);
      const bobRtp = await media.open();
      bob.reply(toBob, 200, 'OK', 'b4', {}, sdp(bobRtp.port, 6));
      await bob.request('ACK');
      const answered = await calls.event((e) => e.type === 'answered' && e.callId === callId, 'answered');
      assert.equal(answered.direction, 'outbound');
      assert.equal(answered.from, '+442079461234');
      assert.equal(answered.trunkId, trunk.id);
      await talks(far, mPort(out.body), bobRtp, 0xc4);
      bob.send(bob.inDialogAsCallee(toBob, 'b4', 'BYE', 1));
      const bye = await carrier.next('BYE');
      carrier.reply(bye, 200);
      const ended = await calls.event((e) => e.type === 'ended' && e.callId === callId, 'ended');
      assert.equal(ended.hangupBy, 'callee');
    } finally {
      carrier.close();
    }
  });

  test(
    'two SIPp phones: alice (rung first) and bob answer, the API hangs up, both scenarios complete',
    { skip: sippInstalled() ? false : 'sipp not installed' },
    async () => {
      const phonesUp = [];
      for (const user of ['alice', 'bob'] as const) {
        const port = await sippPort();
        const reg = await runSipp('register-digest.xml', `127.0.0.1:${gw.port}`, [
          ...sippRegisterArgs(user, HARNESS_USERS[user], port),
        ]);
        assert.equal(reg.code, 0, `${user} did not register\n${reg.logs}`);
        const uas = startSipp('uas-answer.xml', `127.0.0.1:${gw.port}`, [
          ...['-p', String(port), '-m', '1', '-mi', '127.0.0.1', '-mp', String(await sippMediaPort())],
          ...['-rtp_echo', '-timeout', '30s', '-timeout_error'],
        ]);
        phonesUp.push(uas);
      }
      try {
        await new Promise((r) => setTimeout(r, 300)); // SIPp binds
        const res = await place(operator, { from: 'alice', to: 'bob' });
        assert.equal(res.statusCode, 202, res.body);
        const { callId } = res.json<{ callId: string }>();
        await calls.event((e) => e.type === 'answered' && e.callId === callId, 'answered');
        const end = await api.call(operator, 'DELETE', `/v1/tenants/${gw.tenantId}/calls/live/${callId}`);
        assert.equal(end.statusCode, 202, end.body);
        for (const uas of phonesUp) assert.equal(await uas.exited, 0, uas.logs());
        const ended = await calls.event((e) => e.type === 'ended' && e.callId === callId, 'ended');
        assert.equal(ended.hangupBy, 'api');
      } finally {
        for (const uas of phonesUp) uas.kill();
      }
    },
  );

  test('hung up through the API while alice rings: her INVITE is cancelled, the call ends cancelled by the API', async () => {
    const alice = await phones.phone('alice');
    await phones.phone('bob');
    const res = await place(operator, { from: 'alice', to: 'bob' });
    const { callId } = res.json<{ callId: string }>();
    const invite = await alice.request('INVITE');
    alice.reply(invite, 180, 'Ringing', 'a5');
    await calls.event((e) => e.type === 'ringing' && e.callId === callId, 'ringing');
    const end = await api.call(operator, 'DELETE', `/v1/tenants/${gw.tenantId}/calls/live/${callId}`);
    assert.equal(end.statusCode, 202, end.body);
    const cancel = await alice.request('CANCEL');
    assert.equal(cancel.callId, invite.callId);
    alice.reply(cancel, 200, 'OK', 'a5');
    alice.reply(invite, 487, 'Request Terminated', 'a5');
    const ended = await calls.event((e) => e.type === 'ended' && e.callId === callId, 'ended');
    assert.equal(ended.disposition, 'cancelled');
    assert.equal(ended.hangupBy, 'api');
  });

  test('`from` not registered: the call is refused and recorded (480)', async () => {
    await phones.phone('bob');
    const res = await place(operator, { from: 'carol', to: 'bob' });
    assert.equal(res.statusCode, 202, res.body);
    const { callId } = res.json<{ callId: string }>();
    const ended = await calls.event((e) => e.type === 'ended' && e.callId === callId, 'ended');
    assert.equal(ended.sipCode, 480);
    assert.equal(ended.refused, true);
  });

  test('the OpenAPI document has the route, its body and an example', async () => {
    const doc = (await api.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
    }>();
    const post = doc.paths['/v1/tenants/{tenantId}/calls']?.post;
    const body = JSON.stringify(post?.requestBody?.content['application/json']);
    assert.match(body, /"from":"alice","to":"bob"/, body);
    assert.match(body, /timeoutSeconds/);
  });

  test('authorization and validation: a viewer gets 403, another tenant 404, a bad body 400', async () => {
    const viewer = await api.key(gw.tenantId, 'viewer');
    assert.equal((await place(viewer, { from: 'alice', to: 'bob' })).statusCode, 403);
    const other = await api.tenant('Other');
    const otherOperator = await api.key(other, 'operator');
    // Another tenant's key does not see this tenant at all.
    assert.equal((await place(otherOperator, { from: 'alice', to: 'bob' }, gw.tenantId)).statusCode, 404);
    for (const body of [
      { from: 'alice' },
      { from: 'alice', to: 'bob', extra: 1 },
      { from: 'alice', to: 'sip:bob@evil.example' },
      { from: 'alice', to: 'bob', timeoutSeconds: 0 },
    ]) {
      const res = await place(operator, body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json<{ type: string }>().type.endsWith('validation-failed'), true, res.body);
    }
  });
});
