// Call control through the API against a real gateway: the API's command reaches the replica holding the call
// over shared state (the call command stream) and the B2BUA ends it — BYE on both legs once answered, CANCEL
// and 487 while it rings, recorded as ended by the API — and a registration removed through the API no longer
// receives calls.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENDED_THROUGH_API, followCallCommands } from '../../src/gateway/index.js';
import { header, type SipRequest } from '../../src/sip/index.js';
import { createCdrRepository, type CallCommand } from '../../src/store/index.js';
import { startApiApp, type ApiApp } from '../helpers/api-app.js';
import { endedEvent, phoneBook, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { sdp } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };

async function until<T>(read: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${what}`);
}

describe('call control through the API, carried out by the gateway replica holding the call', () => {
  let gw: GatewayHarness;
  let api: ApiApp;
  let operator: string;
  let follower: { stop(): Promise<void> };
  const carried: { command: CallCommand; done: boolean }[] = [];
  const phones = phoneBook(() => gw);

  before(async () => {
    gw = await startGateway({ timers: FAST });
    // The API and the gateway share nothing but the store and shared state, as separate processes would.
    api = await startApiApp(gw.db, { state: gw.state });
    operator = await api.key(gw.tenantId, 'operator');
    follower = followCallCommands({
      events: gw.state.events,
      b2bua: gw.gateway.b2bua,
      gatewayId: 'test-gateway',
      group: 'gateway-calls:test-gateway',
      onCommand: (command, done) => carried.push({ command, done }),
      onError: (err) => assert.fail(String(err)),
      blockMs: 50,
    });
  });
  afterEach(() => phones.reset());
  after(async () => {
    await follower?.stop();
    await api?.app.close();
    await gw?.close();
  });

  const live = (callId: string, state: string) =>
    until(async () => {
      const call = await gw.state.calls.get(callId);
      return call?.state === state ? call : undefined;
    }, `live call ${callId} ${state}`);

  const hangUp = (callId: string) =>
    api.call(operator, 'DELETE', `/v1/tenants/${gw.tenantId}/calls/live/${encodeURIComponent(callId)}`);

  test('an answered call: both phones get BYE, the CDR says the API ended it', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const { call, invite } = await alice.answeredCall(bob, sdp(43000), sdp(43100), 'cc1');
    const answered = await live(call.callId, 'answered');
    assert.equal(answered.gateway, 'test-gateway');

    const res = await hangUp(call.callId);
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json<{ callId: string }>().callId, call.callId);

    const byeToCallee = await bob.request('BYE');
    assert.equal(byeToCallee.callId, invite.callId);
    assert.equal(header(byeToCallee, 'Reason'), `SIP;cause=200;text="${ENDED_THROUGH_API}"`);
    bob.reply(byeToCallee, 200, 'OK', 'cc1');
    const byeToCaller = await alice.request('BYE');
    assert.equal(byeToCaller.callId, call.callId);
    alice.reply(byeToCaller, 200, 'OK', call.fromTag);

    const ended = await endedEvent(gw, 'cc-answered', (e) => e.callId === call.callId);
    assert.deepEqual(
      [ended.disposition, ended.sipCode, ended.hangupBy, ended.reason],
      ['answered', 200, 'api', ENDED_THROUGH_API],
    );
    await until(async () => ((await gw.state.calls.get(call.callId)) ? undefined : true), 'live call gone');
    assert.deepEqual(
      carried.filter((c) => c.command.callId === call.callId).map((c) => c.done),
      [true],
    );
    // The worker's CDR keeps it, and the API shows it.
    assert.equal(await createCdrRepository(gw.db).upsertFromEvent(ended), true);
    const cdr = await api.call(operator, 'GET', `/v1/tenants/${gw.tenantId}/calls/${call.callId}`);
    assert.deepEqual(
      [cdr.json<{ hangupBy: string }>().hangupBy, cdr.json<{ reason: string }>().reason],
      ['api', ENDED_THROUGH_API],
    );

    // Once it is over, it is no longer live: 404.
    assert.equal((await hangUp(call.callId)).statusCode, 404);
  });

  test('a ringing call: CANCEL to the callee and 487 to the caller, recorded as ended by the API', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const call = await alice.invite('bob');
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 180, 'Ringing', 'cc2');
    await alice.response(call.callId, 180);
    await live(call.callId, 'ringing');

    assert.equal((await hangUp(call.callId)).statusCode, 202);
    const final = await call.final();
    assert.equal(final.status, 487);
    assert.equal(header(final, 'Reason'), `SIP;cause=487;text="${ENDED_THROUGH_API}"`);
    const cancel = await bob.request('CANCEL');
    assert.equal(cancel.callId, invite.callId);
    bob.reply(cancel, 200, 'OK', 'cc2');
    bob.reply(invite, 487, 'Request Terminated', 'cc2');

    const ended = await endedEvent(gw, 'cc-ringing', (e) => e.callId === call.callId);
    assert.deepEqual(
      [ended.disposition, ended.sipCode, ended.hangupBy, ended.reason],
      ['cancelled', 487, 'api', ENDED_THROUGH_API],
    );
  });

  test('a command for another replica, or for a call this replica does not hold, ends nothing here', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const call = await alice.invite('bob', sdp(43002));
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'cc3', {}, sdp(43102));
    await call.final();
    call.ack();
    await bob.request('ACK');
    const answered = await live(call.callId, 'answered');
    // The live call names another replica: that one is addressed, and this one leaves the call alone.
    await gw.state.calls.put({ ...answered, gateway: 'other-replica' });
    assert.equal((await hangUp(call.callId)).statusCode, 202);
    await assert.rejects(bob.request('BYE', 500), /no BYE/);
    assert.equal(carried.filter((c) => c.command.callId === call.callId).length, 0);
    // A call this replica no longer holds (ended meanwhile): told, nothing sent.
    await gw.state.calls.put({ ...answered, callId: 'ended-meanwhile' });
    assert.equal((await hangUp('ended-meanwhile')).statusCode, 202);
    const told = await until(
      async () => carried.find((c) => c.command.callId === 'ended-meanwhile'),
      'command for ended-meanwhile',
    );
    assert.equal(told.done, false);
    await gw.state.calls.remove('ended-meanwhile');
    call.send('BYE');
    bob.reply(await bob.request('BYE'), 200, 'OK', 'cc3');
  });

  test('a kicked registration no longer receives calls: one contact, then all (480)', async () => {
    const alice = await phones.phone('alice');
    const desk = await phones.phone('bob');
    const mobile = await phones.phone('bob');
    const aor = 'sip:bob@acme.example';
    const deskContact = `sip:bob@127.0.0.1:${desk.port}`;
    const url = `/v1/tenants/${gw.tenantId}/registrations/${encodeURIComponent(aor)}`;
    assert.deepEqual(
      (await gw.state.registrations.list(aor)).map((b) => b.contact).sort(),
      [deskContact, `sip:bob@127.0.0.1:${mobile.port}`].sort(),
    );

    const one = await api.call(operator, 'DELETE', `${url}?contact=${encodeURIComponent(deskContact)}`);
    assert.equal(one.statusCode, 204, one.body);
    const call = await alice.invite('bob', sdp(43004));
    const invite = (await mobile.request('INVITE')) as SipRequest;
    await assert.rejects(desk.request('INVITE', 300), /no INVITE/, 'the kicked contact is not rung');
    mobile.reply(invite, 486, 'Busy Here', 'cc4');
    assert.equal((await call.final()).status, 486);

    assert.equal((await api.call(operator, 'DELETE', url)).statusCode, 204);
    const again = await alice.invite('bob', sdp(43006));
    assert.equal((await again.final()).status, 480, 'no contact left: not registered');
    await assert.rejects(
      mobile.waitFor(
        (m) => m.kind === 'request' && m.method === 'INVITE' && m.callId !== invite.callId,
        300,
        'new INVITE',
      ),
      /no new INVITE/,
    );
    assert.equal((await api.call(operator, 'DELETE', url)).statusCode, 404);
  });
});
