// Call transfer through the B2BUA over real sockets (issue #16): a REFER in an answered call (RFC 3515) is
// carried out by the gateway — authorized as a call from the transferor, NOTIFYs with message/sipfrag, the
// target called with the relay's media re-pointed, the transferor's leg released — and the same through the
// API's call command stream. Media is anchored on voxgate's relay, and RTP is checked through it.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { header, type SipHeader, type SipRequest } from '../../src/sip/index.js';
import { createSipUserRepository } from '../../src/store/index.js';
import { startApiApp, type ApiApp } from '../helpers/api-app.js';
import {
  callEventLog,
  followHarnessCallCommands,
  HARNESS_USERS,
  phoneBook,
  startGateway,
  type GatewayHarness,
} from '../helpers/gateway-harness.js';
import { startRelay, type RunningRelay } from '../helpers/relays.js';
import { mPort, partyPool, talks } from '../helpers/rtp-party.js';
import { sdp, type SipPhone } from '../helpers/sip-phone.js';
import { sippCallerArgs, sippInstalled, startSipp } from '../helpers/sipp.js';

const FAST = { t1: 50, t2: 400, t4: 500 };
const referTo = (uri: string): SipHeader[] => [{ name: 'Refer-To', value: uri }];

describe('call transfer: REFER carried out by the B2BUA, and through the API', () => {
  let relay: RunningRelay;
  let gw: GatewayHarness;
  let api: ApiApp;
  let follower: { stop(): Promise<void> };
  const media = partyPool();
  const phones = phoneBook(() => gw);
  const calls = callEventLog(() => gw, 'transfer-test');

  before(async () => {
    relay = await startRelay('voxgate');
    gw = await startGateway({ timers: FAST, relays: [{ host: '127.0.0.1', port: relay.ngPort }] });
    api = await startApiApp(gw.db, { state: gw.state });
    follower = followHarnessCallCommands(gw);
    calls.start();
  });
  afterEach(async () => {
    await phones.reset();
    media.closeAll();
  });
  after(async () => {
    await calls.stop();
    await follower?.stop();
    await api?.app.close();
    await gw?.close();
    await relay?.stop();
  });

  /** alice calls bob, bob answers: the call, bob's INVITE, and the relay ports each was given. */
  async function answered(alice: SipPhone, bob: SipPhone, tag: string) {
    const aliceRtp = await media.open();
    const bobRtp = await media.open();
    const call = await alice.invite('bob', sdp(aliceRtp.port));
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', tag, {}, sdp(bobRtp.port, 7));
    const ok = await call.final();
    assert.equal(ok.status, 200);
    call.ack();
    await bob.request('ACK');
    return {
      call,
      invite,
      aliceRtp,
      bobRtp,
      relayForAlice: mPort(ok.body),
      relayForBob: mPort(invite.body),
    };
  }

  async function notify(phone: SipPhone, toTag: string): Promise<SipRequest> {
    const n = await phone.request('NOTIFY');
    phone.reply(n, 200, 'OK', toTag);
    return n;
  }

  test('blind transfer by the callee: 202, NOTIFY 100 then 200, the caller talks to the target through the relay, the transferor is released; both calls recorded', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const carol = await phones.phone('carol');
    const a = await answered(alice, bob, 't1');
    await talks(a.aliceRtp, a.relayForAlice, a.bobRtp, 0xa1);

    bob.send(bob.inDialogAsCallee(a.invite, 't1', 'REFER', 1, undefined, referTo('sip:carol@example.test')));
    const accepted = await bob.response(a.invite.callId, 202, 'REFER');
    assert.equal(header(accepted, 'Expires'), '60');
    const trying = await notify(bob, 't1');
    assert.equal(header(trying, 'Event'), 'refer;id=1');
    assert.equal(header(trying, 'Subscription-State'), 'active;expires=60');
    assert.equal(header(trying, 'Content-Type'), 'message/sipfrag');
    assert.equal(trying.body.toString(), 'SIP/2.0 100 Trying\r\n');

    const toCarol = (await carol.request('INVITE')) as SipRequest;
    assert.match(
      header(toCarol, 'From') ?? '',
      /<sip:alice@acme\.example>/,
      'the target sees the transferee',
    );
    assert.notEqual(
      mPort(toCarol.body),
      a.aliceRtp.port,
      'the target never sees the transferee media address',
    );
    const carolRtp = await media.open();
    carol.reply(toCarol, 180, 'Ringing', 'c1');
    carol.reply(toCarol, 200, 'OK', 'c1', {}, sdp(carolRtp.port, 9));
    await carol.request('ACK');

    const done = await notify(bob, 't1');
    assert.equal(done.body.toString(), 'SIP/2.0 200 OK\r\n');
    assert.equal(header(done, 'Subscription-State'), 'terminated;reason=noresource');
    assert.equal(header(done, 'Event'), 'refer;id=1');
    const released = await bob.request('BYE');
    assert.equal(released.callId, a.invite.callId);
    bob.reply(released, 200, 'OK', 't1');
    // baresip sends its own BYE on the 2xx sipfrag: it crosses ours and is answered.
    bob.send(bob.inDialogAsCallee(a.invite, 't1', 'BYE', 2));
    assert.equal((await bob.response(a.invite.callId, 200, 'BYE')).status, 200);

    // alice sends to the relay port she always had, and hears carol; carol hears alice.
    await talks(a.aliceRtp, a.relayForAlice, carolRtp, 0xa2);
    await talks(carolRtp, mPort(toCarol.body), a.aliceRtp, 0xc1);

    const original = await calls.event(
      (e) => e.type === 'ended' && e.callId === a.call.callId,
      'original ended',
    );
    assert.deepEqual(
      [original.disposition, original.hangupBy, original.reason],
      ['answered', 'callee', 'transferred'],
    );
    const transferred = await calls.event(
      (e) => e.type === 'answered' && e.transferredFrom === a.call.callId,
      'transferred answered',
    );
    assert.deepEqual(
      [transferred.from, transferred.to, transferred.direction],
      ['sip:alice@acme.example', 'sip:carol@acme.example', 'internal'],
    );
    const live = await gw.state.calls.get(transferred.callId);
    assert.equal(live?.state, 'answered');
    assert.equal(await gw.state.calls.get(a.call.callId), undefined, 'the original is no longer live');

    a.call.send('BYE');
    const bye = await carol.request('BYE');
    assert.equal(bye.callId, toCarol.callId);
    carol.reply(bye, 200, 'OK', 'c1');
    const ended = await calls.event(
      (e) => e.type === 'ended' && e.callId === transferred.callId,
      'transferred ended',
    );
    assert.deepEqual(
      [ended.hangupBy, ended.transferredFrom, ended.disposition],
      ['caller', a.call.callId, 'answered'],
    );
    assert.ok((ended.media?.callerToCallee?.packets ?? 0) > 0, JSON.stringify(ended.media));
  });

  test('blind transfer by the caller: the callee is connected to the target; the new record reads from the callee to the target', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const carol = await phones.phone('carol');
    const a = await answered(alice, bob, 't2');

    const seq = a.call.send('REFER', undefined, referTo('<sip:carol@acme.example>'));
    await alice.response(a.call.callId, 202, 'REFER');
    assert.equal(header(await notify(alice, a.call.fromTag), 'Event'), `refer;id=${seq}`);
    const toCarol = (await carol.request('INVITE')) as SipRequest;
    assert.match(header(toCarol, 'From') ?? '', /<sip:bob@acme\.example>/);
    const carolRtp = await media.open();
    carol.reply(toCarol, 200, 'OK', 'c2', {}, sdp(carolRtp.port, 9));
    await carol.request('ACK');
    assert.equal((await notify(alice, a.call.fromTag)).body.toString(), 'SIP/2.0 200 OK\r\n');
    const released = await alice.request('BYE');
    assert.equal(released.callId, a.call.callId);
    alice.reply(released, 200, 'OK', a.call.fromTag);

    await talks(a.bobRtp, a.relayForBob, carolRtp, 0xb1);
    await talks(carolRtp, mPort(toCarol.body), a.bobRtp, 0xc2);

    // carol hangs up: bob gets the BYE, and the transferred call says its target (callee) ended it.
    carol.send(carol.inDialogAsCallee(toCarol, 'c2', 'BYE', 1));
    const bye = await bob.request('BYE');
    assert.equal(bye.callId, a.invite.callId);
    bob.reply(bye, 200, 'OK', 't2');
    const ended = await calls.event(
      (e) => e.type === 'ended' && e.transferredFrom === a.call.callId,
      'transferred ended',
    );
    assert.deepEqual(
      [ended.from, ended.to, ended.hangupBy],
      ['sip:bob@acme.example', 'sip:carol@acme.example', 'callee'],
    );
    assert.ok((ended.media?.callerToCallee?.packets ?? 0) > 0, `bob→carol: ${JSON.stringify(ended.media)}`);
  });

  test(
    'SIPp as the transferor: call, REFER, 202, both NOTIFYs checked by the scenario, released by BYE',
    {
      skip: sippInstalled() ? false : 'SIPp not installed',
    },
    async () => {
      const bob = await phones.phone('bob');
      const carol = await phones.phone('carol');
      const alice = startSipp(
        'uac-refer.xml',
        `127.0.0.1:${gw.port}`,
        await sippCallerArgs(HARNESS_USERS.alice, { keys: { target: 'carol' }, timeout: '20s' }),
      );
      try {
        const invite = (await bob.request('INVITE', 10_000)) as SipRequest;
        const bobRtp = await media.open();
        bob.reply(invite, 200, 'OK', 's1', {}, sdp(bobRtp.port, 7));
        await bob.request('ACK');
        const toCarol = (await carol.request('INVITE', 10_000)) as SipRequest;
        const carolRtp = await media.open();
        carol.reply(toCarol, 200, 'OK', 's2', {}, sdp(carolRtp.port, 9));
        await carol.request('ACK');
        assert.equal(await alice.exited, 0, alice.logs());
        // bob, the transferee, talks to carol through the relay port he always had.
        await talks(bobRtp, mPort(invite.body), carolRtp, 0xb7);
        bob.send(bob.inDialogAsCallee(invite, 's1', 'BYE', 1));
        carol.reply(await carol.request('BYE'), 200, 'OK', 's2');
      } finally {
        alice.kill();
      }
    },
  );

  test('a transferor that hangs up right after the 202 leaves the transfer going; the target answers the transferee', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const carol = await phones.phone('carol');
    const a = await answered(alice, bob, 't10');
    bob.send(bob.inDialogAsCallee(a.invite, 't10', 'REFER', 1, undefined, referTo('sip:carol@acme.example')));
    await bob.response(a.invite.callId, 202, 'REFER');
    bob.send(bob.inDialogAsCallee(a.invite, 't10', 'BYE', 2));
    await bob.response(a.invite.callId, 200, 'BYE');
    const toCarol = (await carol.request('INVITE')) as SipRequest;
    const carolRtp = await media.open();
    carol.reply(toCarol, 200, 'OK', 'c10', {}, sdp(carolRtp.port, 9));
    await carol.request('ACK');
    await talks(a.aliceRtp, a.relayForAlice, carolRtp, 0xa10);
    // Gone already: no NOTIFY 200 and no BYE for bob (only the 100 Trying sent before his BYE).
    await assert.rejects(bob.request('BYE', 300), /no BYE/);
    a.call.send('BYE');
    carol.reply(await carol.request('BYE'), 200, 'OK', 'c10');
  });

  test('a transfer that fails after the transferor hung up ends the call for the transferee', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const carol = await phones.phone('carol');
    const a = await answered(alice, bob, 't11');
    bob.send(bob.inDialogAsCallee(a.invite, 't11', 'REFER', 1, undefined, referTo('sip:carol@acme.example')));
    await bob.response(a.invite.callId, 202, 'REFER');
    bob.send(bob.inDialogAsCallee(a.invite, 't11', 'BYE', 2));
    await bob.response(a.invite.callId, 200, 'BYE');
    const toCarol = (await carol.request('INVITE')) as SipRequest;
    carol.reply(toCarol, 603, 'Decline', 'c11');
    const bye = await alice.request('BYE');
    assert.equal(bye.callId, a.call.callId);
    alice.reply(bye, 200, 'OK', a.call.fromTag);
    const original = await calls.event(
      (e) => e.type === 'ended' && e.callId === a.call.callId,
      'original ended',
    );
    assert.deepEqual([original.hangupBy, original.reason], ['callee', 'transfer failed']);
  });

  test('a REFER to a target the transferor could not call gets 403, and the call stays up', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const a = await answered(alice, bob, 't3');
    bob.send(bob.inDialogAsCallee(a.invite, 't3', 'REFER', 1, undefined, referTo('sip:nobody@acme.example')));
    const refused = await bob.response(a.invite.callId, 403, 'REFER');
    assert.match(header(refused, 'Warning') ?? '', /voxgate/);
    // No route, no such user: no NOTIFY, and no INVITE anywhere.
    await assert.rejects(bob.request('NOTIFY', 300), /no NOTIFY/);
    // A REFER without a Refer-To is malformed (§2.4.2): 400.
    bob.send(bob.inDialogAsCallee(a.invite, 't3', 'REFER', 2));
    await bob.response(a.invite.callId, 400, 'REFER');
    a.call.send('INFO');
    const info = await bob.request('INFO');
    bob.reply(info, 200, 'OK', 't3');
    await talks(a.aliceRtp, a.relayForAlice, a.bobRtp, 0xa3);
    a.call.send('BYE');
    bob.reply(await bob.request('BYE'), 200, 'OK', 't3');
  });

  test("a target over its concurrent-call limit is refused 403 like the transferor's own INVITE would be", async () => {
    const users = createSipUserRepository(gw.db);
    const carolId = (await users.findCredentials('acme.example', 'carol'))!.userId;
    await users.update(gw.tenantId, carolId, { maxConcurrentCalls: 0 });
    try {
      const alice = await phones.phone('alice');
      const bob = await phones.phone('bob');
      await phones.phone('carol');
      const a = await answered(alice, bob, 't12');
      bob.send(
        bob.inDialogAsCallee(a.invite, 't12', 'REFER', 1, undefined, referTo('sip:carol@acme.example')),
      );
      const refused = await bob.response(a.invite.callId, 403, 'REFER');
      assert.match(header(refused, 'Warning') ?? '', /User concurrent call limit reached/);
      a.call.send('INFO');
      bob.reply(await bob.request('INFO'), 200, 'OK', 't12');
      a.call.send('BYE');
      bob.reply(await bob.request('BYE'), 200, 'OK', 't12');
    } finally {
      await users.update(gw.tenantId, carolId, { maxConcurrentCalls: null });
    }
  });

  test('the transferee hangs up while the target rings: the target is cancelled (§9.1, after its 180)', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const carol = await phones.phone('carol');
    const a = await answered(alice, bob, 't8');
    bob.send(bob.inDialogAsCallee(a.invite, 't8', 'REFER', 1, undefined, referTo('sip:carol@acme.example')));
    await bob.response(a.invite.callId, 202, 'REFER');
    await notify(bob, 't8');
    const toCarol = (await carol.request('INVITE')) as SipRequest;
    carol.reply(toCarol, 180, 'Ringing', 'c8');
    await calls.event(
      (e) => e.type === 'ringing' && e.to === 'sip:carol@acme.example' && e.transferredFrom === a.call.callId,
      'transfer ringing',
    );
    a.call.send('BYE');
    const cancel = await carol.request('CANCEL');
    assert.equal(cancel.callId, toCarol.callId);
    carol.reply(cancel, 200, 'OK', 'c8');
    carol.reply(toCarol, 487, 'Request Terminated', 'c8');
  });

  test('a busy target: the transferor gets the failure sipfrag, and the call stays up with its media', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const carol = await phones.phone('carol');
    const a = await answered(alice, bob, 't4');
    bob.send(bob.inDialogAsCallee(a.invite, 't4', 'REFER', 1, undefined, referTo('sip:carol@acme.example')));
    await bob.response(a.invite.callId, 202, 'REFER');
    await notify(bob, 't4');
    const toCarol = (await carol.request('INVITE')) as SipRequest;
    carol.reply(toCarol, 486, 'Busy Here', 'c4');
    await carol.request('ACK');
    const failed = await notify(bob, 't4');
    assert.equal(failed.body.toString(), 'SIP/2.0 486 Busy Here\r\n');
    assert.equal(header(failed, 'Subscription-State'), 'terminated;reason=noresource');
    const attempt = await calls.event(
      (e) => e.type === 'ended' && e.transferredFrom === a.call.callId,
      'failed transfer ended',
    );
    assert.deepEqual([attempt.disposition, attempt.sipCode], ['busy', 486]);

    // Still alice ↔ bob, signalling and media.
    await talks(a.aliceRtp, a.relayForAlice, a.bobRtp, 0xa4);
    await talks(a.bobRtp, a.relayForBob, a.aliceRtp, 0xb4);
    assert.equal((await gw.state.calls.get(a.call.callId))?.state, 'answered');
    a.call.send('BYE');
    bob.reply(await bob.request('BYE'), 200, 'OK', 't4');
    const original = await calls.event(
      (e) => e.type === 'ended' && e.callId === a.call.callId,
      'original ended',
    );
    assert.equal(original.hangupBy, 'caller');
  });

  test("INVITE with Replaces (RFC 3891) naming a dialog the gateway holds: its sender takes that party's place", async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const carol = await phones.phone('carol');
    const a = await answered(alice, bob, 't6');
    // bob's leg as the gateway sees it: our From tag is the local tag (to-tag), bob's To tag the remote one.
    const replaces = `${a.invite.callId};to-tag=${a.invite.fromTag};from-tag=t6`;
    const carolRtp = await media.open();
    const pickup = await carol.invite('alice', sdp(carolRtp.port, 9), [
      { name: 'Replaces', value: replaces },
    ]);
    const ok = await pickup.final();
    assert.equal(ok.status, 200);
    assert.equal(mPort(ok.body), a.relayForBob, 'the newcomer gets the relay port the replaced party had');
    pickup.ack();
    const released = await bob.request('BYE');
    assert.equal(released.callId, a.invite.callId);
    assert.match(header(released, 'Reason') ?? '', /replaced/);
    bob.reply(released, 200, 'OK', 't6');

    await talks(a.aliceRtp, a.relayForAlice, carolRtp, 0xa6);
    await talks(carolRtp, a.relayForBob, a.aliceRtp, 0xc6);
    const original = await calls.event(
      (e) => e.type === 'ended' && e.callId === a.call.callId,
      'original ended',
    );
    assert.deepEqual([original.hangupBy, original.reason], ['callee', 'replaced']);
    const joined = await calls.event(
      (e) => e.type === 'answered' && e.transferredFrom === a.call.callId,
      'joined answered',
    );
    assert.deepEqual([joined.from, joined.to], ['sip:alice@acme.example', 'sip:carol@acme.example']);

    // The newcomer's dialog is the call's now: its BYE ends it, and alice gets hers.
    pickup.send('BYE');
    await carol.response(pickup.callId, 200, 'BYE');
    const bye = await alice.request('BYE');
    alice.reply(bye, 200, 'OK', a.call.fromTag);
    const ended = await calls.event((e) => e.type === 'ended' && e.callId === joined.callId, 'joined ended');
    assert.equal(ended.hangupBy, 'callee');
  });

  test('INVITE with Replaces for a dialog the gateway does not hold: 481', async () => {
    const carol = await phones.phone('carol');
    const alice = await phones.phone('alice');
    const a = await answered(alice, await phones.phone('bob'), 't7');
    // The right Call-ID with a wrong tag is no match either.
    for (const value of ['no-such-call;to-tag=x;from-tag=y', `${a.invite.callId};to-tag=x;from-tag=t7`]) {
      const attempt = await carol.invite('alice', sdp(41000), [{ name: 'Replaces', value }]);
      assert.equal((await attempt.final()).status, 481);
    }
    a.call.send('BYE');
  });

  test("attended transfer: a REFER whose Refer-To embeds Replaces joins the transferee and the target of the transferor's other call", async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const carol = await phones.phone('carol');
    const a = await answered(alice, bob, 't8');
    // alice's consultation call to carol.
    const consult = await alice.invite('carol', sdp(42000));
    const toCarol = (await carol.request('INVITE')) as SipRequest;
    const carolRtp = await media.open();
    carol.reply(toCarol, 200, 'OK', 'c8', {}, sdp(carolRtp.port, 9));
    assert.equal((await consult.final()).status, 200);
    consult.ack();
    await carol.request('ACK');

    // The dialog alice has with carol, as carol's side (the gateway) sees it: to-tag its tag, from-tag alice's.
    const replaces = `${consult.callId};to-tag=${consult.toTag};from-tag=${consult.fromTag}`;
    a.call.send(
      'REFER',
      undefined,
      referTo(`<sip:carol@acme.example?Replaces=${encodeURIComponent(replaces)}>`),
    );
    await alice.response(a.call.callId, 202, 'REFER');
    assert.equal((await notify(alice, a.call.fromTag)).body.toString(), 'SIP/2.0 100 Trying\r\n');
    // carol is re-INVITEd in her dialog with this call's relay offer, and answers.
    const reinvite = (await carol.request('INVITE')) as SipRequest;
    assert.equal(reinvite.callId, toCarol.callId);
    carol.reply(reinvite, 200, 'OK', 'c8', {}, sdp(carolRtp.port, 10));
    await carol.request('ACK');
    assert.equal((await notify(alice, a.call.fromTag)).body.toString(), 'SIP/2.0 200 OK\r\n');
    for (const callId of [a.call.callId, consult.callId]) {
      const bye = (await alice.waitFor(
        (m) => m.kind === 'request' && m.method === 'BYE' && m.callId === callId,
      )) as SipRequest;
      alice.reply(bye, 200, 'OK', a.call.fromTag);
    }

    await talks(a.bobRtp, a.relayForBob, carolRtp, 0xb8);
    await talks(carolRtp, mPort(reinvite.body), a.bobRtp, 0xc8);
    const joined = await calls.event(
      (e) => e.type === 'answered' && e.transferredFrom === a.call.callId,
      'joined answered',
    );
    assert.deepEqual([joined.from, joined.to], ['sip:bob@acme.example', 'sip:carol@acme.example']);
    const consultEnded = await calls.event(
      (e) => e.type === 'ended' && e.callId === consult.callId,
      'consult ended',
    );
    assert.deepEqual([consultEnded.hangupBy, consultEnded.reason], ['caller', 'transferred']);

    // bob hangs up: carol gets the BYE in her dialog.
    bob.send(bob.inDialogAsCallee(a.invite, 't8', 'BYE', 1));
    const bye = await carol.request('BYE');
    assert.equal(bye.callId, toCarol.callId);
    carol.reply(bye, 200, 'OK', 'c8');
    const ended = await calls.event((e) => e.type === 'ended' && e.callId === joined.callId, 'joined ended');
    assert.equal(ended.hangupBy, 'caller');
  });

  test('attended transfer naming a dialog the gateway does not hold: the final sipfrag is 481 and the call stays', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const a = await answered(alice, bob, 't9');
    const replaces = encodeURIComponent('nowhere;to-tag=x;from-tag=y');
    a.call.send('REFER', undefined, referTo(`<sip:carol@acme.example?Replaces=${replaces}>`));
    await alice.response(a.call.callId, 202, 'REFER');
    await notify(alice, a.call.fromTag);
    const failed = await notify(alice, a.call.fromTag);
    assert.equal(failed.body.toString(), 'SIP/2.0 481 Call/Transaction Does Not Exist\r\n');
    await talks(a.aliceRtp, a.relayForAlice, a.bobRtp, 0xa9);
    a.call.send('BYE');
    bob.reply(await bob.request('BYE'), 200, 'OK', 't9');
  });

  test('API transfer: 202 and the replica holding the call carries it out; a viewer gets 403, another tenant 404', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const carol = await phones.phone('carol');
    const a = await answered(alice, bob, 't5');
    const deadline = Date.now() + 5000;
    while ((await gw.state.calls.get(a.call.callId))?.state !== 'answered') {
      assert.ok(Date.now() < deadline, 'the live call is answered');
      await new Promise((r) => setTimeout(r, 20));
    }
    const path = (tenant: string) =>
      `/v1/tenants/${tenant}/calls/live/${encodeURIComponent(a.call.callId)}/transfer`;

    const viewer = await api.key(gw.tenantId, 'viewer');
    const asViewer = await api.call(viewer, 'POST', path(gw.tenantId), { party: 'caller', target: 'carol' });
    assert.equal(asViewer.statusCode, 403, asViewer.body);
    const other = await api.tenant('Other');
    const otherOperator = await api.key(other, 'operator');
    const asOther = await api.call(otherOperator, 'POST', path(other), { party: 'caller', target: 'carol' });
    assert.equal(asOther.statusCode, 404, asOther.body);
    const operator = await api.key(gw.tenantId, 'operator');
    const bad = await api.call(operator, 'POST', path(gw.tenantId), { party: 'nobody', target: 'carol' });
    assert.equal(bad.statusCode, 400, bad.body);

    const res = await api.call(operator, 'POST', path(gw.tenantId), { party: 'caller', target: 'carol' });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json<{ callId: string }>().callId, a.call.callId);
    const toCarol = (await carol.request('INVITE')) as SipRequest;
    const carolRtp = await media.open();
    carol.reply(toCarol, 200, 'OK', 'c5', {}, sdp(carolRtp.port, 9));
    await carol.request('ACK');
    const released = await bob.request('BYE');
    assert.equal(released.callId, a.invite.callId);
    bob.reply(released, 200, 'OK', 't5');
    await talks(a.aliceRtp, a.relayForAlice, carolRtp, 0xa5);
    const transferred = await calls.event(
      (e) => e.type === 'answered' && e.transferredFrom === a.call.callId,
      'transferred answered',
    );
    // The transferred call is live under its own id, and the API can end it.
    const end = await api.call(
      operator,
      'DELETE',
      `/v1/tenants/${gw.tenantId}/calls/live/${encodeURIComponent(transferred.callId)}`,
    );
    assert.equal(end.statusCode, 202, end.body);
    const [toAlice, toCarolBye] = await Promise.all([alice.request('BYE'), carol.request('BYE')]);
    alice.reply(toAlice, 200, 'OK', a.call.fromTag);
    carol.reply(toCarolBye, 200, 'OK', 'c5');
    const ended = await calls.event(
      (e) => e.type === 'ended' && e.callId === transferred.callId,
      'transferred ended',
    );
    assert.equal(ended.hangupBy, 'api');
  });
});
