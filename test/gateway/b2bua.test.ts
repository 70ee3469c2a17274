import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { header, headerValues, type SipRequest } from '../../src/sip/index.js';
import { CALL_EVENTS_STREAM, decodeCallEvent, type CallEvent } from '../../src/store/index.js';
import { HARNESS_USERS, phoneBook, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };

async function events(gw: GatewayHarness, callId: string, count: number): Promise<CallEvent[]> {
  const out: CallEvent[] = [];
  const deadline = Date.now() + 5000;
  while (out.length < count && Date.now() < deadline) {
    const entries = await gw.state.events.consume(CALL_EVENTS_STREAM, `test-${callId}`, 'c', {
      count: 100,
      blockMs: 200,
    });
    for (const e of entries) {
      const event = decodeCallEvent(e.fields);
      // The first 18x's `ringing` event is not what these tests count.
      if (event.callId === callId && event.type !== 'ringing') out.push(event);
    }
  }
  return out;
}

describe('B2BUA (RFC 3261 §12-§16 across two legs) over real UDP, without media anchoring', () => {
  let gw: GatewayHarness;
  const { phone, track, reset } = phoneBook(() => gw);
  before(async () => {
    gw = await startGateway({ timers: FAST, ringTimeoutMs: 1500, tenantLimits: { maxConcurrentCalls: 2 } });
  });
  afterEach(() => reset());
  after(() => gw.close());

  test('a user-to-user call: separate legs, 180/200/ACK relayed, BYE from the caller ends both, events emitted', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob', sdp(41000));
    const invite = (await bob.request('INVITE')) as SipRequest;

    // Topology hiding: the callee sees a new Call-ID, the gateway's Via and Contact, none of the caller's.
    assert.notEqual(invite.callId, call.callId);
    assert.equal(headerValues(invite, 'Via').length, 1);
    assert.doesNotMatch(invite.raw!.toString('latin1'), new RegExp(`127\\.0\\.0\\.1:${alice.port}`));
    assert.match(header(invite, 'Contact') ?? '', new RegExp(`:${gw.port}>`));
    assert.equal(header(invite, 'Max-Forwards'), '69');
    assert.match(invite.body.toString(), /m=audio 41000 /, 'without a relay, the SDP passes unchanged');
    assert.match(header(invite, 'From') ?? '', /sip:alice@acme\.example/);

    bob.reply(invite, 180, 'Ringing', 'bobtag');
    assert.equal((await alice.response(call.callId, 180)).status, 180);
    bob.reply(invite, 200, 'OK', 'bobtag', {}, sdp(42000));
    const ok = await call.final();
    assert.equal(ok.status, 200);
    assert.match(ok.body.toString(), /m=audio 42000 /);
    assert.notEqual(ok.toTag, 'bobtag', 'the caller sees the gateway tag, not the callee one');
    call.ack();
    const ack = await bob.request('ACK');
    assert.equal(ack.callId, invite.callId);
    assert.equal(ack.cseq.seq, invite.cseq.seq);

    const byeSeq = call.send('BYE');
    assert.equal((await alice.response(call.callId, 200, 'BYE')).cseq.seq, byeSeq);
    const bye = await bob.request('BYE');
    assert.equal(bye.callId, invite.callId);
    bob.reply(bye, 200, 'OK', 'bobtag');

    const seen = await events(gw, call.callId, 3);
    assert.deepEqual(
      seen.map((e) => e.type),
      ['started', 'answered', 'ended'],
    );
    const ended = seen[2]!;
    assert.equal(ended.disposition, 'answered');
    assert.equal(ended.hangupBy, 'caller');
    assert.equal(ended.from, 'sip:alice@acme.example');
    assert.equal(ended.to, 'sip:bob@acme.example');
    assert.equal(await gw.state.calls.count(gw.tenantId), 0);
  });

  test('RFC 6026: an ACK of the 2xx that reuses the INVITE branch still stops the 2xx retransmissions', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob', sdp(41020));
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'bta', {}, sdp(42020));
    await call.final();
    call.ack(undefined, call.branch);
    await bob.request('ACK');
    // The ACK reached bob, so the gateway has taken it. Counted from here (a retransmission the gateway sent
    // before it, on a slow machine, is no failure); T1 is 50 ms: unacknowledged, the 2xx would come again at 50,
    // 150 and 350 ms.
    const okCount = () =>
      alice.received.filter((m) => m.kind === 'response' && m.status === 200 && m.cseq.method === 'INVITE')
        .length;
    await new Promise((r) => setTimeout(r, 10));
    const before = okCount();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(okCount(), before, 'no 2xx retransmission after the ACK');
    call.send('BYE');
    const bye = await bob.request('BYE');
    bob.reply(bye, 200, 'OK', 'bta');
    await alice.response(call.callId, 200, 'BYE');
  });

  test('the callee hangs up: the caller gets the BYE in its own dialog', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob');
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'bt2', {}, sdp(42002));
    await call.final();
    call.ack();
    await bob.request('ACK');
    bob.send(bob.inDialogAsCallee(invite, 'bt2', 'BYE', 1));
    const bye = await alice.request('BYE');
    assert.equal(bye.callId, call.callId);
    assert.equal(bye.toTag, call.fromTag);
    assert.equal(bye.fromTag, call.toTag);
    const [, , ended] = await events(gw, call.callId, 3);
    assert.equal(ended?.hangupBy, 'callee');
  });

  test('§16.7 forking: every contact rings, the first 2xx wins, the other fork is cancelled (§9.1)', async () => {
    const alice = await phone('alice');
    const desk = await phone('bob');
    const mobile = await phone('bob');
    const call = await alice.invite('bob');
    const [a, b] = [
      (await desk.request('INVITE')) as SipRequest,
      (await mobile.request('INVITE')) as SipRequest,
    ];
    assert.notEqual(a.callId, b.callId);
    desk.reply(a, 180, 'Ringing', 'desk');
    mobile.reply(b, 180, 'Ringing', 'mob');
    await alice.response(call.callId, 180);
    mobile.reply(b, 200, 'OK', 'mob', {}, sdp(42004));
    assert.equal((await call.final()).status, 200);
    const cancel = await desk.request('CANCEL');
    assert.equal(cancel.callId, a.callId);
    assert.equal(cancel.topVia, a.topVia, '§9.1: the CANCEL has the INVITE top Via');
    desk.reply(cancel, 200, 'OK', 'desk');
    desk.reply(a, 487, 'Request Terminated', 'desk');
    assert.equal((await desk.request('ACK')).cseq.method, 'ACK', '§17.1.1.3: the 487 is acknowledged');
    call.ack();
    await mobile.request('ACK');
    call.send('BYE');
    mobile.reply(await mobile.request('BYE'), 200, 'OK', 'mob');
  });

  test('§9.2: the caller cancels while the callee rings: 487 to the caller, CANCEL to the callee', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob');
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 180, 'Ringing', 'b3');
    await alice.response(call.callId, 180);
    call.cancel();
    assert.equal((await alice.response(call.callId, 200, 'CANCEL')).status, 200);
    assert.equal((await alice.response(call.callId, 487, 'INVITE')).status, 487);
    const cancel = await bob.request('CANCEL');
    bob.reply(cancel, 200, 'OK', 'b3');
    bob.reply(invite, 487, 'Request Terminated', 'b3');
    const [, ended] = await events(gw, call.callId, 2);
    assert.equal(ended?.disposition, 'cancelled');
    assert.equal(ended?.sipCode, 487);
  });

  test('a busy callee: 486 reaches the caller, recorded as busy', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob');
    bob.reply((await bob.request('INVITE')) as SipRequest, 486, 'Busy Here', 'b4');
    assert.equal((await call.final()).status, 486);
    const [, ended] = await events(gw, call.callId, 2);
    assert.equal(ended?.disposition, 'busy');
  });

  test('no answer: after the ring timeout the caller gets 480 and the callee a CANCEL', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob');
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 180, 'Ringing', 'b5');
    assert.equal((await call.final(4000)).status, 480);
    const cancel = await bob.request('CANCEL');
    bob.reply(cancel, 200, 'OK', 'b5');
    bob.reply(invite, 487, 'Request Terminated', 'b5');
    const [, ended] = await events(gw, call.callId, 2);
    assert.equal(ended?.disposition, 'no-answer');
  });

  test('hold and resume: re-INVITEs cross the B2BUA in both dialogs, ACKed on each leg', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob');
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'b6', {}, sdp(42006));
    await call.final();
    call.ack();
    await bob.request('ACK');

    const hold = Buffer.from(sdp(41000, 2).toString().replace('a=sendrecv', 'a=sendonly'));
    const seq = call.send('INVITE', hold);
    const reinvite = (await bob.request('INVITE')) as SipRequest;
    assert.equal(reinvite.callId, invite.callId);
    assert.equal(reinvite.toTag, 'b6');
    assert.match(reinvite.body.toString(), /a=sendonly/);
    bob.reply(
      reinvite,
      200,
      'OK',
      'b6',
      {},
      Buffer.from(sdp(42006, 2).toString().replace('a=sendrecv', 'a=recvonly')),
    );
    const ok = await alice.response(call.callId, 200, 'INVITE');
    assert.equal(ok.cseq.seq, seq);
    assert.match(ok.body.toString(), /a=recvonly/);
    call.ackSeq(seq);
    assert.equal((await bob.request('ACK')).cseq.seq, reinvite.cseq.seq);

    const resume = call.send('INVITE', sdp(41000, 3));
    const second = (await bob.request('INVITE')) as SipRequest;
    assert.ok(second.cseq.seq > reinvite.cseq.seq);
    bob.reply(second, 200, 'OK', 'b6', {}, sdp(42006, 3));
    assert.equal((await alice.response(call.callId, 200, 'INVITE')).cseq.seq, resume);
    call.ackSeq(resume);
    await bob.request('ACK');
    call.send('BYE');
    bob.reply(await bob.request('BYE'), 200, 'OK', 'b6');
  });

  test('INFO is relayed in the dialog and its answer comes back', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob');
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'b7', {}, sdp(42008));
    await call.final();
    call.ack();
    const seq = call.send('INFO');
    const info = await bob.request('INFO');
    bob.reply(info, 200, 'OK', 'b7');
    assert.equal((await alice.response(call.callId, 200, 'INFO')).cseq.seq, seq);
    call.send('BYE');
    bob.reply(await bob.request('BYE'), 200, 'OK', 'b7');
  });

  test('a REFER without a Refer-To is malformed (400, RFC 3515 §2.4.2); a BYE outside any dialog gets 481', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob');
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'b8', {}, sdp(42010));
    await call.final();
    call.ack();
    call.send('REFER');
    await alice.response(call.callId, 400, 'REFER');
    call.send('BYE');
    bob.reply(await bob.request('BYE'), 200, 'OK', 'b8');
    call.send('BYE');
    assert.equal((await alice.response(call.callId, 481, 'BYE')).status, 481);
  });

  test('who cannot be reached: an offline user gets 480, an unknown one 404', async () => {
    const alice = await phone('alice');
    const offline = await alice.invite('carol');
    assert.equal((await offline.final()).status, 480);
    const unknown = await alice.invite('nobody');
    assert.equal((await unknown.final()).status, 404);
  });

  test('§22.3: a caller with a wrong password is challenged again and never reaches the callee', async () => {
    await phone('bob');
    const mallory = track(await SipPhone.open('alice', 'wrong', gw.port));
    const call = await mallory.invite('bob');
    assert.equal((await mallory.response(call.callId, 407)).status, 407);
  });

  test("the tenant's concurrent call limit: the call over it gets 503 with a Warning", async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const first = await alice.invite('bob');
    const i1 = (await bob.request('INVITE')) as SipRequest;
    const second = await alice.invite('bob');
    const i2 = (await bob.request('INVITE')) as SipRequest;
    bob.reply(i1, 180, 'Ringing', 'l1');
    bob.reply(i2, 180, 'Ringing', 'l2');
    await alice.response(first.callId, 180);
    await alice.response(second.callId, 180);
    const third = await alice.invite('bob');
    const refused = await third.final();
    assert.equal(refused.status, 503);
    assert.match(header(refused, 'Warning') ?? '', /concurrent call limit/);
    first.cancel();
    second.cancel();
    await alice.response(first.callId, 487, 'INVITE');
    await alice.response(second.callId, 487, 'INVITE');
  });
});

describe('B2BUA timers that end calls on both legs', () => {
  let gw: GatewayHarness;
  before(async () => {
    // 64*T1 = 1.28 s without ACK comes before the 2.5 s maximum duration.
    gw = await startGateway({ timers: { t1: 20, t2: 160, t4: 500 }, maxDurationMs: 2500 });
  });
  after(() => gw.close());

  const answered = async () => {
    const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
    const bob = await SipPhone.open('bob', HARNESS_USERS.bob, gw.port);
    await alice.register();
    await bob.register();
    const call = await alice.invite('bob');
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'tm', {}, sdp(42020));
    await call.final();
    return { alice, bob, call, invite };
  };

  test('a call past the maximum duration gets a BYE on each leg', async () => {
    const { alice, bob, call } = await answered();
    try {
      call.ack();
      await bob.request('ACK');
      const [toAlice, toBob] = await Promise.all([alice.request('BYE', 5000), bob.request('BYE', 5000)]);
      assert.equal(toAlice.callId, call.callId);
      assert.match(header(toBob, 'Reason') ?? '', /maximum call duration/);
      const [, , ended] = await events(gw, call.callId, 3);
      assert.equal(ended?.hangupBy, 'system');
    } finally {
      alice.close();
      bob.close();
    }
  });

  test('§13.3.1.4: a 2xx never acknowledged is retransmitted, then the call is ended with BYE', async () => {
    const { alice, bob, call } = await answered();
    try {
      // No ACK from alice: the gateway retransmits its 200 (T1, 2T1 …) for 64*T1, then hangs up both legs.
      await alice.response(call.callId, 200, 'INVITE', 2000);
      const [toAlice, toBob] = await Promise.all([alice.request('BYE', 6000), bob.request('BYE', 6000)]);
      assert.match(header(toAlice, 'Reason') ?? '', /no ACK/);
      assert.equal(toBob.method, 'BYE');
    } finally {
      alice.close();
      bob.close();
    }
  });
});

describe('per-user concurrent call limits', () => {
  let gw: GatewayHarness;
  before(async () => {
    gw = await startGateway({ timers: FAST });
    await gw.db.query(`UPDATE sip_users SET max_concurrent_calls = 1 WHERE username IN ('bob', 'carol')`);
  });
  after(() => gw.close());

  test('a callee at its limit is busy (486); a caller at its limit is refused (403); ended calls free the slot', async () => {
    const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
    const bob = await SipPhone.open('bob', HARNESS_USERS.bob, gw.port);
    const carol = await SipPhone.open('carol', HARNESS_USERS.carol, gw.port);
    try {
      for (const p of [alice, bob, carol]) await p.register();
      const first = await alice.invite('bob');
      bob.reply((await bob.request('INVITE')) as SipRequest, 180, 'Ringing', 'u1');
      await alice.response(first.callId, 180);
      const second = await alice.invite('bob');
      const busy = await second.final();
      assert.equal(busy.status, 486);
      assert.match(header(busy, 'Warning') ?? '', /User concurrent call limit/);

      // carol (limit 1) calls alice, then tries bob while her first call rings: she is at her limit.
      const c1 = await carol.invite('alice');
      alice.reply((await alice.request('INVITE')) as SipRequest, 180, 'Ringing', 'u2');
      await carol.response(c1.callId, 180);
      const c2 = await carol.invite('alice');
      assert.equal((await c2.final()).status, 403);

      first.cancel();
      await alice.response(first.callId, 487, 'INVITE');
      const third = await alice.invite('bob');
      assert.ok((await bob.request('INVITE')).kind === 'request', 'the slot is free again');
      third.cancel();
      c1.cancel();
      await alice.response(third.callId, 487, 'INVITE');
      await carol.response(c1.callId, 487, 'INVITE');
    } finally {
      alice.close();
      bob.close();
      carol.close();
    }
  });
});
