// RFC 3262 (100rel, PRACK) across the B2BUA over real UDP: a callee's reliable provisional responses reach
// the caller reliably on the caller's own leg (own RSeq), the caller's PRACK is re-originated in the callee's
// early dialog with the callee's RSeq, and offer/answer in 18x/PRACK is anchored on the relay.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { header, type SipRequest, type SipResponse } from '../../src/sip/index.js';
import { phoneBook, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { relaySkip, startRelay, type RelayKind, type RunningRelay } from '../helpers/relays.js';
import { sdp } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };
const SUPPORTED = [{ name: 'Supported', value: '100rel' }];
const empty = Buffer.alloc(0);

function rseqOf(r: SipResponse): number {
  return Number(header(r, 'RSeq'));
}

describe('RFC 3262 reliable provisional responses through the B2BUA (no media anchoring)', () => {
  let gw: GatewayHarness;
  const { phone, reset } = phoneBook(() => gw);
  before(async () => {
    gw = await startGateway({ timers: FAST, ringTimeoutMs: 5000 });
  });
  afterEach(() => reset());
  after(() => gw.close());

  test("a reliable 183 is relayed with the caller leg's own RSeq; the PRACK reaches the callee with the callee's RSeq; the dialog CSeq space carries on", async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob', sdp(41000), SUPPORTED);
    const invite = (await bob.request('INVITE')) as SipRequest;
    assert.match(header(invite, 'Supported') ?? '', /\b100rel\b/, 'the callee leg offers 100rel too');
    assert.equal(header(invite, 'Require'), undefined);

    bob.reply(invite, 183, 'Session Progress', 'b1', { Require: '100rel', RSeq: '5000' }, sdp(42000));
    const progress = await alice.response(call.callId, 183);
    assert.match(header(progress, 'Require') ?? '', /\b100rel\b/);
    const rseq = rseqOf(progress);
    assert.ok(rseq >= 1 && rseq < 2 ** 31);
    assert.match(progress.body.toString(), /m=audio 42000 /);

    // The callee retransmits (our PRACK has not come): nothing new reaches the caller, only the gateway's own
    // retransmissions of the same RSeq.
    bob.reply(invite, 183, 'Session Progress', 'b1', { Require: '100rel', RSeq: '5000' }, sdp(42000));
    const again = await alice.response(call.callId, 183);
    assert.equal(rseqOf(again), rseq, 'the caller leg retransmits its reliable 183 until the PRACK');

    const prackSeq = call.prack(progress);
    const prack = (await bob.request('PRACK')) as SipRequest;
    assert.equal(prack.callId, invite.callId);
    assert.equal(prack.toTag, 'b1', "the PRACK is in the callee's early dialog");
    assert.equal(header(prack, 'RAck'), `5000 ${invite.cseq.seq} INVITE`);
    assert.ok(prack.cseq.seq > invite.cseq.seq);
    bob.reply(prack, 200, 'OK', 'b1');
    const prackOk = await alice.response(call.callId, 200, 'PRACK');
    assert.equal(prackOk.cseq.seq, prackSeq);

    // A repeated PRACK (a new CSeq) matches nothing unacknowledged: 481 (§3).
    call.prack(progress);
    assert.equal((await alice.response(call.callId, 481, 'PRACK')).status, 481);

    bob.reply(invite, 200, 'OK', 'b1', {}, sdp(42000));
    const ok = await call.final();
    assert.equal(ok.status, 200);
    assert.equal(ok.toTag, progress.toTag, 'the early dialog became the confirmed one');
    call.ack();
    await bob.request('ACK');
    call.send('BYE');
    const bye = await bob.request('BYE');
    assert.ok(bye.cseq.seq > prack.cseq.seq, "the callee leg's BYE follows its PRACK's CSeq (§12.2.1.1)");
    bob.reply(bye, 200, 'OK', 'b1');
    await alice.response(call.callId, 200, 'BYE');
    assert.equal(await gw.state.calls.count(gw.tenantId), 0);
  });

  test('UPDATE in the early dialog (RFC 3311), both ways, between the caller and the callee that sent the reliable 183', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob', sdp(41010), SUPPORTED);
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 183, 'Session Progress', 'b7', { Require: '100rel', RSeq: '1' }, sdp(42010));
    const progress = await alice.response(call.callId, 183);
    call.prack(progress);
    bob.reply((await bob.request('PRACK')) as SipRequest, 200, 'OK', 'b7');
    await alice.response(call.callId, 200, 'PRACK');

    // The caller updates the early session: the callee gets it in its early dialog.
    const updateSeq = call.send('UPDATE', sdp(41012));
    const update = (await bob.request('UPDATE')) as SipRequest;
    assert.equal(update.callId, invite.callId);
    assert.equal(update.toTag, 'b7');
    assert.match(update.body.toString(), /m=audio 41012 /);
    bob.reply(update, 200, 'OK', 'b7', {}, sdp(42012));
    const updated = await alice.response(call.callId, 200, 'UPDATE');
    assert.equal(updated.cseq.seq, updateSeq);
    assert.match(updated.body.toString(), /m=audio 42012 /);

    // The callee updates it back: the caller gets it in its own early dialog (its Call-ID, its tags).
    bob.send(bob.inDialogAsCallee(invite, 'b7', 'UPDATE', 1, sdp(42014)));
    const back = (await alice.request('UPDATE')) as SipRequest;
    assert.equal(back.callId, call.callId);
    assert.equal(back.toTag, call.fromTag);
    assert.equal(back.fromTag, progress.toTag);
    alice.reply(back, 200, 'OK', call.fromTag, {}, sdp(41014));
    const backOk = await bob.response(invite.callId, 200, 'UPDATE');
    assert.match(backOk.body.toString(), /m=audio 41014 /);

    bob.reply(invite, 200, 'OK', 'b7', {}, sdp(42014));
    assert.equal((await call.final()).status, 200);
    call.ack();
    await bob.request('ACK');
    call.send('BYE');
    const bye = await bob.request('BYE');
    assert.ok(bye.cseq.seq > update.cseq.seq, 'the confirmed dialog continues the early CSeq space');
    bob.reply(bye, 200, 'OK', 'b7');
    await alice.response(call.callId, 200, 'BYE');
  });

  test('UPDATE in an early dialog without reliable provisionals has no peer: 481', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob', sdp(41016));
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 180, 'Ringing', 'b8');
    call.early(await alice.response(call.callId, 180));
    call.send('UPDATE', sdp(41018));
    assert.equal((await alice.response(call.callId, 481, 'UPDATE')).status, 481);
    bob.reply(invite, 486, 'Busy Here', 'b8');
    assert.equal((await call.final()).status, 486);
  });

  test('a second reliable provisional waits for the PRACK of the first; its RSeq is one higher', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob', sdp(41002), SUPPORTED);
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 180, 'Ringing', 'b2', { Require: '100rel', RSeq: '10' });
    const ringing = await alice.response(call.callId, 180);
    bob.reply(invite, 183, 'Session Progress', 'b2', { Require: '100rel', RSeq: '11' }, sdp(42002));
    await assert.rejects(alice.response(call.callId, 183, 'INVITE', 300), 'held until the first is PRACKed');
    call.prack(ringing);
    const prack1 = (await bob.request('PRACK')) as SipRequest;
    assert.equal(header(prack1, 'RAck'), `10 ${invite.cseq.seq} INVITE`);
    bob.reply(prack1, 200, 'OK', 'b2');
    const progress = await alice.response(call.callId, 183);
    assert.equal(rseqOf(progress), rseqOf(ringing) + 1);
    call.prack(progress);
    const prack2 = (await bob.request('PRACK')) as SipRequest;
    assert.equal(header(prack2, 'RAck'), `11 ${invite.cseq.seq} INVITE`);
    assert.ok(prack2.cseq.seq > prack1.cseq.seq);
    bob.reply(prack2, 200, 'OK', 'b2');
    await alice.response(call.callId, 200, 'PRACK');
    call.cancel();
    const cancel = await bob.request('CANCEL');
    bob.reply(cancel, 200, 'OK', 'b2');
    bob.reply(invite, 487, 'Request Terminated', 'b2');
    assert.equal((await call.final()).status, 487);
  });

  test('a caller without 100rel: the callee leg does not offer it', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob', sdp(41004));
    const invite = (await bob.request('INVITE')) as SipRequest;
    assert.doesNotMatch(header(invite, 'Supported') ?? '', /100rel/);
    bob.reply(invite, 180, 'Ringing', 'b3');
    const ringing = await alice.response(call.callId, 180);
    assert.equal(header(ringing, 'RSeq'), undefined);
    bob.reply(invite, 486, 'Busy Here', 'b3');
    assert.equal((await call.final()).status, 486);
  });

  test('Require: 100rel is carried to the callee; its 420 with Unsupported reaches the caller (§8.2.2.3)', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob', sdp(41006), [{ name: 'Require', value: '100rel' }]);
    const invite = (await bob.request('INVITE')) as SipRequest;
    assert.equal(header(invite, 'Require'), '100rel');
    bob.reply(invite, 420, 'Bad Extension', 'b4', { Unsupported: '100rel' });
    const final = await call.final();
    assert.equal(final.status, 420);
    assert.equal(header(final, 'Unsupported'), '100rel');
  });

  test('a PRACK with a wrong or malformed RAck: 481 and 400; without a PRACK the caller gets 500 at 64*T1 and the callee a CANCEL', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob', sdp(41008), SUPPORTED);
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 180, 'Ringing', 'b5', { Require: '100rel', RSeq: '1' });
    const ringing = await alice.response(call.callId, 180);
    call.prack(ringing, undefined, `${rseqOf(ringing) + 1} ${call.inviteSeq} INVITE`);
    assert.equal((await alice.response(call.callId, 481, 'PRACK')).status, 481);
    call.prack(ringing, undefined, 'nonsense');
    assert.equal((await alice.response(call.callId, 400, 'PRACK')).status, 400);

    const cancel = await bob.request('CANCEL', 64 * FAST.t1 + 2000, invite.callId);
    bob.reply(cancel, 200, 'OK', 'b5');
    bob.reply(invite, 487, 'Request Terminated', 'b5');
    const final = await call.final();
    assert.equal(final.status, 500);
    assert.match(header(final, 'Warning') ?? '', /No PRACK/);
  });
});

for (const kind of ['voxgate', 'rtpengine'] as RelayKind[])
  describe(
    `RFC 3262 §5 offer/answer in 18x and PRACK, anchored on ${kind === 'voxgate' ? "voxgate's relay" : 'RTPengine'}`,
    { skip: relaySkip(kind) },
    () => {
      let engine: RunningRelay;
      let gw: GatewayHarness;
      const { phone, reset } = phoneBook(() => gw);
      before(async () => {
        engine = await startRelay(kind);
        gw = await startGateway({ timers: FAST, relays: [{ host: '127.0.0.1', port: engine.ngPort }] });
      });
      after(async () => {
        await gw?.close();
        await engine?.stop();
      });
      afterEach(() => reset());

      test("a late-offer INVITE: the reliable 183 carries the callee's offer and the PRACK the caller's answer, both through the relay", async () => {
        const alice = await phone('alice');
        const bob = await phone('bob');
        await alice.register();
        await bob.register();
        const call = await alice.invite('bob', empty, SUPPORTED);
        const invite = (await bob.request('INVITE')) as SipRequest;
        assert.equal(invite.body.length, 0);
        bob.reply(invite, 183, 'Session Progress', 'b6', { Require: '100rel', RSeq: '77' }, sdp(43000));
        const progress = await alice.response(call.callId, 183);
        assert.match(progress.body.toString(), /m=audio \d+ /);
        assert.doesNotMatch(progress.body.toString(), /m=audio 43000 /, "the caller sees the relay's port");

        call.prack(progress, sdp(44000));
        const prack = (await bob.request('PRACK')) as SipRequest;
        assert.equal(header(prack, 'RAck'), `77 ${invite.cseq.seq} INVITE`);
        assert.match(prack.body.toString(), /m=audio \d+ /, 'the answer reaches the callee in the PRACK');
        assert.doesNotMatch(prack.body.toString(), /m=audio 44000 /, "the callee sees the relay's port");
        bob.reply(prack, 200, 'OK', 'b6');
        await alice.response(call.callId, 200, 'PRACK');

        bob.reply(invite, 200, 'OK', 'b6', {}, sdp(43000));
        const ok = await call.final();
        assert.equal(ok.status, 200);
        assert.equal(ok.body.toString(), progress.body.toString(), 'the 2xx repeats the negotiated session');
        call.ack();
        const ack = await bob.request('ACK');
        assert.equal(ack.body.length, 0, 'no second answer: offer/answer completed in the early dialog');
        call.send('BYE');
        const bye = await bob.request('BYE');
        bob.reply(bye, 200, 'OK', 'b6');
        await alice.response(call.callId, 200, 'BYE');
      });
    },
  );
