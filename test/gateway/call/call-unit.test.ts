// The B2BUA's call without sockets: a fake SipOutbound records every request the call originates and lets the
// test answer it as the callee would, the caller's INVITE server transaction records what the caller is told,
// and a fake relay anchors (or refuses) the SDP. Each scenario runs in milliseconds.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  B2buaCall,
  type CallSettings,
  type ForkMode,
  type ForkTarget,
} from '../../../src/gateway/b2bua-call.js';
import { header, parseRAck } from '../../../src/sip/index.js';
import {
  CALLER,
  FAST,
  FakeMedia,
  FakeOutbound,
  FakeServerTransaction,
  calleeRequest,
  callerRequest,
  recordingHooks,
  sdp,
  settle,
  until,
  sleep,
  target,
} from './fake-sip.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function setup(
  options: {
    media?: FakeMedia;
    settings?: Partial<CallSettings>;
    headers?: string[];
    body?: Buffer;
    redirect?: Parameters<typeof recordingHooks>[0];
  } = {},
) {
  const outbound = new FakeOutbound();
  const hooks = recordingHooks(options.redirect);
  const invite = callerRequest('INVITE', {
    cseq: 1,
    headers: options.headers ?? [],
    body: options.body ?? sdp('alice'),
  });
  const inviteTx = new FakeServerTransaction(invite);
  const call = new B2buaCall(
    invite,
    inviteTx,
    CALLER,
    { tenantId: 't1', direction: 'internal', from: 'alice', to: 'bob' },
    outbound,
    options.media,
    { ...FAST, ...options.settings },
    hooks,
  );
  const start = async (targets: ForkTarget[], mode: ForkMode = 'parallel') => {
    await call.start(targets, mode);
    await settle();
  };
  /** The caller ACKs the 2xx. */
  const ack = (body?: Buffer) =>
    call.ack('caller', callerRequest('ACK', { cseq: 1, toTag: inviteTx.toTag, ...(body ? { body } : {}) }));
  /** The caller's request in its confirmed dialog. */
  const fromCaller = async (method: string, cseq: number, body?: Buffer) => {
    const tx = new FakeServerTransaction(
      callerRequest(method, { cseq, toTag: inviteTx.toTag, ...(body ? { body } : {}) }),
    );
    await call.inDialog('caller', tx.request, tx);
    await settle();
    return tx;
  };
  const ended = () => hooks.events.find((e) => e.type === 'ended');
  return { outbound, hooks, invite, inviteTx, call, start, ack, fromCaller, ended };
}

describe('B2buaCall with a fake SIP outbound', () => {
  test('answer and BYE: the callee is ACKed, the caller gets the anchored answer, a BYE ends both legs', async () => {
    const media = new FakeMedia();
    const s = setup({ media });
    await s.start([target('bob')]);
    const invite = s.outbound.last('INVITE');
    assert.match(invite.request.body.toString(), /anchored offer from caller/);
    assert.equal(s.call.state, 'routing');

    invite.tx.reply(180, 'b1');
    await settle();
    assert.equal(s.call.state, 'early');
    invite.tx.reply(200, 'b1', {}, sdp('bob'));
    await settle();
    await settle();
    assert.equal(s.call.state, 'answered');
    assert.deepEqual(s.inviteTx.statuses, [180, 200]);
    assert.match(s.inviteTx.final()!.body.toString(), /anchored answer from callee/, 'never the raw SDP');
    assert.equal(s.outbound.all('ACK', invite.request.callId).length, 1, 'the callee is ACKed at once');
    assert.equal(s.inviteTx.acknowledgedCalls, 0, 'the 2xx is retransmitted until the ACK');
    await s.ack();
    assert.equal(
      s.inviteTx.acknowledgedCalls,
      1,
      'the ACK ends the 2xx retransmissions: the transaction is told',
    );

    const bye = await s.fromCaller('BYE', 2);
    assert.deepEqual(bye.statuses, [200]);
    const calleeBye = s.outbound.last('BYE');
    assert.equal(calleeBye.request.callId, invite.request.callId);
    await settle();
    assert.equal(s.call.state, 'ended');
    assert.ok(media.deleted);
    assert.deepEqual(
      s.hooks.events.map((e) => e.type),
      ['started', 'ringing', 'answered', 'ended'],
    );
    assert.equal(s.ended()?.disposition, 'answered');
    assert.equal(s.ended()?.hangupBy, 'caller');
    assert.equal(s.hooks.endedCount(), 1);
    // The first 18x's time rides on the later events: the CDR's ringingAt (post-dial delay) comes from ended.
    const ringing = s.hooks.events.find((e) => e.type === 'ringing')?.ringingAt;
    assert.ok(ringing !== undefined && ringing >= s.ended()!.startedAt);
    assert.equal(s.ended()?.ringingAt, ringing);
    assert.equal(s.hooks.events.find((e) => e.type === 'started')?.ringingAt, undefined);
  });

  test('the 2xx is retransmitted from T1 until the ACK, and the ACK stops it', async () => {
    const s = setup({ settings: { t1: 5, t2: 10 } });
    await s.start([target('bob')]);
    s.outbound.last('INVITE').tx.reply(200, 'b1', {}, sdp('bob'));
    await settle();
    const okCount = () => s.inviteTx.statuses.filter((st) => st === 200).length;
    // Waits for the retransmissions rather than counting them in a fixed time: timers run late on a busy machine.
    for (let i = 0; i < 400 && okCount() < 3; i++) await sleep(5);
    assert.ok(okCount() >= 3, `retransmitted (${okCount()})`);
    await s.ack();
    const sent = okCount();
    await sleep(30);
    assert.equal(okCount(), sent, 'the ACK stopped it');
  });

  test('no ACK for 64*T1: the call is ended on both legs', async () => {
    const s = setup({ settings: { t1: 2, t2: 8 } });
    await s.start([target('bob')]);
    s.outbound.last('INVITE').tx.reply(200, 'b1', {}, sdp('bob'));
    await settle();
    for (let i = 0; i < 400 && s.call.state !== 'ended'; i++) await sleep(5);
    assert.equal(s.call.state, 'ended');
    assert.equal(s.ended()?.reason, 'no ACK for the 2xx');
    assert.equal(s.outbound.all('BYE').length, 2);
  });

  test('parallel fork: the first 2xx wins and the other forks are CANCELled (after their provisional)', async () => {
    const s = setup();
    await s.start([target('bob1'), target('bob2'), target('bob3')]);
    const [a, b, c] = s.outbound.transactions('INVITE');
    assert.ok(a && b && c);
    assert.equal(
      new Set([a.request.callId, b.request.callId, c.request.callId]).size,
      3,
      'a Call-ID per leg',
    );
    assert.deepEqual(s.hooks.legs, [a.request.callId, b.request.callId, c.request.callId]);
    a.tx.reply(180, 'a1');
    b.tx.reply(180, 'b1');
    await settle();
    b.tx.reply(200, 'b1', {}, sdp('bob2'));
    await settle();
    assert.equal(s.call.state, 'answered');
    assert.equal(s.outbound.all('CANCEL', a.request.callId).length, 1, 'the ringing loser is cancelled');
    assert.equal(
      s.outbound.all('CANCEL', c.request.callId).length,
      0,
      'no CANCEL before a provisional (§9.1)',
    );
    c.tx.reply(180, 'c1');
    await settle();
    assert.equal(
      s.outbound.all('CANCEL', c.request.callId).length,
      1,
      'its CANCEL goes with its provisional',
    );
    const cancel = s.outbound.last('CANCEL', a.request.callId).request;
    assert.equal(cancel.cseq.seq, a.request.cseq.seq);
    assert.equal(cancel.topVia, a.request.topVia);

    // A loser that answers anyway is a dialog of its own: ACKed and ended.
    a.tx.reply(200, 'a1', {}, sdp('bob1'));
    await settle();
    assert.equal(s.outbound.all('ACK', a.request.callId).length, 1);
    assert.equal(s.outbound.all('BYE', a.request.callId).length, 1);
    assert.equal(s.call.state, 'answered');
  });

  test('sequential failover on 503: the next trunk is offered the call and carries it', async () => {
    const s = setup();
    await s.start([target('t1', { trunkId: 'trunk-1' }), target('t2', { trunkId: 'trunk-2' })], 'sequential');
    assert.equal(s.outbound.all('INVITE').length, 1, 'one trunk at a time');
    s.outbound.last('INVITE').tx.reply(503, 'x');
    await settle();
    const second = s.outbound.last('INVITE');
    assert.equal(second.request.uri, 'sip:t2@192.0.2.20:5060');
    second.tx.reply(200, 'y', {}, sdp('t2'));
    await settle();
    assert.equal(s.call.state, 'answered');
    assert.equal(s.hooks.events.find((e) => e.type === 'answered')?.trunkId, 'trunk-2');
  });

  test('sequential failover on a timeout (Timer B); the best final is the answer (§16.7: 408 before 5xx)', async () => {
    const s = setup();
    await s.start([target('t1'), target('t2')], 'sequential');
    s.outbound.last('INVITE').tx.timeout();
    await settle();
    assert.equal(s.outbound.all('INVITE').length, 2);
    s.outbound.last('INVITE').tx.reply(503, 'y');
    await settle();
    assert.equal(s.inviteTx.final()?.status, 408);
    assert.equal(s.ended()?.disposition, 'no-answer');
    assert.equal(s.call.state, 'ended');
  });

  test("a carrier's 407 is answered once with the trunk's credentials: same Call-ID, higher CSeq", async () => {
    const s = setup();
    await s.start([target('carrier', { credentials: { username: 'acme', password: 'secret' } })]);
    const first = s.outbound.last('INVITE');
    first.tx.reply(407, 'c1', { 'Proxy-Authenticate': 'Digest realm="carrier", nonce="n1", qop="auth"' });
    await settle();
    const retry = s.outbound.last('INVITE');
    assert.notEqual(retry, first);
    assert.equal(retry.request.callId, first.request.callId);
    assert.equal(retry.request.cseq.seq, first.request.cseq.seq + 1);
    assert.match(header(retry.request, 'Proxy-Authorization') ?? '', /^Digest .*username="acme"/);
    assert.deepEqual(s.hooks.legs, [first.request.callId], 'the same leg: registered once');
    // A second challenge is final: the caller gets 480, never our credentials' challenge.
    retry.tx.reply(407, 'c1', { 'Proxy-Authenticate': 'Digest realm="carrier", nonce="n2"' });
    await settle();
    assert.equal(s.outbound.all('INVITE').length, 2);
    assert.equal(s.inviteTx.final()?.status, 480);
  });

  test('CANCEL from the caller: 487 to the caller, CANCEL to the ringing leg, a cancelled record', async () => {
    const s = setup();
    await s.start([target('bob')]);
    const invite = s.outbound.last('INVITE');
    invite.tx.reply(180, 'b1');
    await settle();
    s.call.cancel();
    assert.deepEqual(s.inviteTx.statuses, [180, 487]);
    assert.equal(s.outbound.all('CANCEL').length, 1);
    await settle();
    assert.equal(s.ended()?.disposition, 'cancelled');
    assert.equal(s.ended()?.hangupBy, 'caller');
    // The callee's 487 after the CANCEL changes nothing.
    invite.tx.reply(487, 'b1');
    await settle();
    assert.deepEqual(s.inviteTx.statuses, [180, 487]);
    assert.equal(s.hooks.events.filter((e) => e.type === 'ended').length, 1);
  });

  test('a BYE in the caller early dialog ends the attempt like a CANCEL', async () => {
    const s = setup();
    await s.start([target('bob')]);
    s.outbound.last('INVITE').tx.reply(180, 'b1');
    await settle();
    const bye = await s.fromCaller('BYE', 2);
    assert.deepEqual(bye.statuses, [200]);
    assert.equal(s.inviteTx.final()?.status, 487);
  });

  test('ring timeout: the legs are CANCELled and the caller gets 480 with a Reason', async () => {
    const s = setup({ settings: { ringTimeoutMs: 20 } });
    await s.start([target('bob')]);
    s.outbound.last('INVITE').tx.reply(180, 'b1');
    await until(() => s.inviteTx.final() !== undefined);
    assert.equal(s.inviteTx.final()?.status, 480);
    assert.match(String(s.inviteTx.final()?.headers.Reason), /No answer/);
    assert.equal(s.outbound.all('CANCEL').length, 1);
    assert.equal(s.ended()?.disposition, 'no-answer');
    assert.equal(s.ended()?.reason, 'ring timeout');
    assert.equal(s.ended()?.hangupBy, 'system');
  });

  test('an answered call keeps no ring timer; its max duration ends it on both legs', async () => {
    const s = setup({ settings: { ringTimeoutMs: 20, maxDurationMs: 40 } });
    await s.start([target('bob')]);
    s.outbound.last('INVITE').tx.reply(200, 'b1', {}, sdp('bob'));
    await settle();
    await s.ack();
    await until(() => s.call.state === 'ended');
    assert.equal(s.call.state, 'ended');
    // The ring timeout (20 ms) would have come first: it left with the routing state.
    assert.equal(s.ended()?.reason, 'maximum call duration reached');
    assert.equal(s.outbound.all('CANCEL').length, 0);
    assert.equal(s.outbound.all('BYE').length, 2);
  });

  test('relay failure at the offer: 503 with Retry-After, no INVITE sent, a system-ended record', async () => {
    const media = new FakeMedia();
    media.failOffers = true;
    const s = setup({ media });
    await s.start([target('bob')]);
    assert.equal(s.outbound.all('INVITE').length, 0);
    assert.equal(s.inviteTx.final()?.status, 503);
    assert.equal(s.inviteTx.final()?.headers['Retry-After'], '5');
    assert.equal(s.ended()?.hangupBy, 'system');
    assert.equal(s.ended()?.reason, 'media relay failed');
  });

  test("relay failure before the answer: the callee's 2xx is ACKed and BYE'd, the caller gets 503, never its SDP", async () => {
    const media = new FakeMedia();
    const s = setup({ media });
    await s.start([target('bob')]);
    media.failAnswers = true;
    const invite = s.outbound.last('INVITE');
    invite.tx.reply(200, 'b1', {}, sdp('bob'));
    await settle();
    await settle();
    assert.equal(s.outbound.all('ACK', invite.request.callId).length, 1);
    assert.equal(s.outbound.all('BYE', invite.request.callId).length, 1);
    assert.deepEqual(s.inviteTx.statuses, [503]);
    assert.equal(s.inviteTx.final()?.body.length, 0);
    assert.equal(s.ended()?.disposition, 'failed');
    assert.equal(s.ended()?.hangupBy, 'system');
    assert.equal(s.ended()?.reason, 'media relay failed');
  });

  test('relay failure after the answer: a re-INVITE whose answer the relay refuses hangs up both legs', async () => {
    const media = new FakeMedia();
    const s = setup({ media });
    await s.start([target('bob')]);
    const invite = s.outbound.last('INVITE');
    invite.tx.reply(200, 'b1', {}, sdp('bob'));
    await settle();
    await settle();
    await s.ack();
    const reinvite = await s.fromCaller('INVITE', 2, sdp('alice-hold'));
    const relayed = s.outbound.last('INVITE', invite.request.callId);
    assert.match(relayed.request.body.toString(), /anchored offer from caller/);
    media.failAnswers = true;
    relayed.tx.reply(200, 'b1', {}, sdp('bob-hold'));
    await settle();
    await settle();
    assert.deepEqual(reinvite.statuses, [503], "never the callee's raw answer");
    assert.equal(s.outbound.all('BYE').length, 2, 'both legs');
    await settle();
    assert.equal(s.ended()?.disposition, 'answered');
    assert.equal(s.ended()?.hangupBy, 'system');
    assert.equal(s.ended()?.reason, 'media relay failed');
  });

  test('glare: an offer crossing one in progress gets 491 (§14.1); once answered the next one passes', async () => {
    const s = setup();
    await s.start([target('bob')]);
    const invite = s.outbound.last('INVITE');
    invite.tx.reply(200, 'b1', {}, sdp('bob'));
    await settle();
    await s.ack();
    await s.fromCaller('INVITE', 2, sdp('alice-2'));
    const relayed = s.outbound.last('INVITE', invite.request.callId);
    const crossing = new FakeServerTransaction(
      calleeRequest(invite.request, 'b1', 'INVITE', 5, sdp('bob-2')),
    );
    await s.call.inDialog('callee', crossing.request, crossing);
    assert.deepEqual(crossing.statuses, [491]);
    relayed.tx.reply(200, 'b1', {}, sdp('bob-2'));
    await settle();
    const update = await s.fromCaller('UPDATE', 3, sdp('alice-3'));
    assert.equal(s.outbound.last('UPDATE').request.callId, invite.request.callId);
    assert.deepEqual(update.statuses, []);
  });

  test('PRACK relay (RFC 3262): a reliable 183 reaches the caller with its own RSeq, the PRACK the callee with its RSeq', async () => {
    const s = setup({ headers: ['Supported: 100rel'] });
    await s.start([target('bob')]);
    const invite = s.outbound.last('INVITE');
    assert.match(header(invite.request, 'Supported') ?? '', /100rel/);
    invite.tx.reply(183, 'b1', { Require: '100rel', RSeq: '7' }, sdp('bob-early'));
    await settle();
    const progress = s.inviteTx.responses.at(-1)!;
    assert.equal(progress.status, 183);
    const rseq = Number(progress.headers.RSeq);
    assert.ok(rseq >= 1);
    assert.equal(s.outbound.all('PRACK').length, 0, "the callee's PRACK waits for the caller's");

    // A PRACK without RAck is refused; the real one acknowledges the caller leg's RSeq.
    const malformed = await s.fromCaller('PRACK', 2);
    assert.deepEqual(malformed.statuses, [400]);
    const tx = new FakeServerTransaction(
      callerRequest('PRACK', {
        cseq: 3,
        toTag: s.inviteTx.toTag,
        headers: [`RAck: ${rseq} 1 INVITE`],
      }),
    );
    await s.call.inDialog('caller', tx.request, tx);
    await settle();
    const relayed = s.outbound.last('PRACK');
    assert.equal(relayed.request.callId, invite.request.callId);
    assert.deepEqual(parseRAck(header(relayed.request, 'RAck') ?? ''), {
      rseq: 7,
      cseq: 1,
      method: 'INVITE',
    });
    relayed.tx.reply(200, 'b1');
    await settle();
    assert.deepEqual(tx.statuses, [200], "the callee's 200 answers the caller's PRACK");
  });

  test('a 302 is followed where the policy leads; the redirect is not the answer', async () => {
    const s = setup({
      redirect: async (uris) =>
        uris.includes('sip:carol@192.0.2.30')
          ? { targets: [target('carol')], mode: 'sequential' }
          : undefined,
    });
    await s.start([target('bob')]);
    s.outbound.last('INVITE').tx.reply(302, 'b1', { Contact: '<sip:carol@192.0.2.30>' });
    await settle();
    const carol = s.outbound.last('INVITE');
    assert.equal(carol.request.uri, 'sip:carol@192.0.2.20:5060');
    carol.tx.reply(486, 'c1');
    await settle();
    assert.equal(s.inviteTx.final()?.status, 486);
    assert.equal(s.ended()?.disposition, 'busy');
  });

  test("late offer: the callee's offer goes to the caller anchored, its ACK waits for the caller's answer", async () => {
    const media = new FakeMedia();
    const s = setup({ media, body: Buffer.alloc(0) });
    await s.start([target('bob')]);
    const invite = s.outbound.last('INVITE');
    assert.equal(invite.request.body.length, 0);
    invite.tx.reply(200, 'b1', {}, sdp('bob'));
    await settle();
    await settle();
    assert.match(s.inviteTx.final()!.body.toString(), /anchored offer from callee/);
    assert.equal(s.outbound.all('ACK', invite.request.callId).length, 0, 'the ACK waits for the answer');
    await s.ack(sdp('alice'));
    const ack = s.outbound.last('ACK', invite.request.callId);
    assert.match(ack.request.body.toString(), /anchored answer from caller/);
  });

  test("late offer, the relay refuses the caller's answer: the callee's ACK has none, both legs hung up", async () => {
    const media = new FakeMedia();
    const s = setup({ media, body: Buffer.alloc(0) });
    await s.start([target('bob')]);
    const invite = s.outbound.last('INVITE');
    invite.tx.reply(200, 'b1', {}, sdp('bob'));
    await settle();
    await settle();
    media.failAnswers = true;
    await s.ack(sdp('alice'));
    assert.equal(
      s.outbound.last('ACK', invite.request.callId).request.body.length,
      0,
      'never the raw answer',
    );
    assert.equal(s.outbound.all('BYE').length, 2);
    await settle();
    assert.equal(s.ended()?.reason, 'media relay failed');
    assert.equal(s.ended()?.hangupBy, 'system');
  });

  test('a stray 2xx (Timer M gone): the winner is ACKed again, a loser ACKed and ended', async () => {
    const s = setup();
    await s.start([target('bob1'), target('bob2')]);
    const [a, b] = s.outbound.transactions('INVITE');
    assert.ok(a && b);
    const answer = a.tx.reply(200, 'a1', {}, sdp('bob1'));
    await settle();
    s.call.stray2xx(answer);
    assert.equal(s.outbound.all('ACK', a.request.callId).length, 2);
    assert.equal(s.call.sideOf(a.request.callId), 'callee');
    assert.equal(s.call.sideOf(b.request.callId), undefined);
    s.call.stray2xx(b.tx.response(200, 'b1', {}, sdp('bob2')));
    assert.equal(s.outbound.all('ACK', b.request.callId).length, 1);
    assert.equal(s.outbound.all('BYE', b.request.callId).length, 1);
  });

  test('a fork that never answered does not keep the ended call for Timer B; its late 180 gets the CANCEL, a late 2xx its ACK and BYE (§9.1, §15)', async () => {
    // The call, ended, with one fork (bob2) that answered nothing: only its client transaction is kept, as the
    // transaction layer keeps it until Timer B. The fake outbound's record of earlier sends is dropped with the
    // rest (the gateway's outbound keeps no transactions).
    const ended = async () => {
      const s = setup();
      await s.start([target('bob1'), target('bob2')]);
      const [a, b] = s.outbound.transactions('INVITE');
      assert.ok(a && b);
      a.tx.reply(200, 'a1', {}, sdp('bob1'));
      await settle();
      await s.ack();
      await s.fromCaller('BYE', 2);
      await settle();
      assert.equal(s.call.state, 'ended');
      assert.equal(s.outbound.all('CANCEL', b.request.callId).length, 0, 'no CANCEL before a provisional');
      s.outbound.sent.length = 0;
      return { call: new WeakRef(s.call), pending: b.tx, outbound: s.outbound };
    };
    const { call, pending, outbound } = await ended();
    await sleep(0);
    gc();
    assert.equal(call.deref(), undefined, 'the pending fork keeps its leg, not the call');

    pending.reply(180, 'late');
    const cancel = outbound.last('CANCEL', pending.request.callId).request;
    assert.equal(cancel.topVia, pending.request.topVia, 'the CANCEL §9.1 held back');
    pending.reply(200, 'late', {}, sdp('bob2'));
    assert.equal(outbound.all('ACK', pending.request.callId).length, 1, 'the late 2xx is acknowledged');
    assert.equal(outbound.all('BYE', pending.request.callId).length, 1, 'and its dialog ended');
    pending.reply(200, 'late', {}, sdp('bob2'));
    assert.equal(outbound.all('ACK', pending.request.callId).length, 2, 'its retransmission ACKed again');
    assert.equal(outbound.all('BYE', pending.request.callId).length, 1, 'not ended twice');
  });

  test('shutdown abandons the call silently', async () => {
    const s = setup({ settings: { ringTimeoutMs: 30 } });
    await s.call.start([target('bob')]);
    s.call.abandon();
    assert.equal(s.call.state, 'ended');
    await sleep(50);
    assert.deepEqual(s.inviteTx.statuses, [], 'no ring timeout: it left with the routing state');
    assert.equal(s.ended(), undefined);
  });
});
