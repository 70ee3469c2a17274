// Every transaction timer of RFC 3261 §17 (A–K) and RFC 6026 (L, M) on a fake clock: the state machines are
// driven directly, their sends recorded, and time advanced with node:test's mock timers, so each timer is
// checked at its exact value (Table 4: T1 = 500 ms, T2 = 4 s, T4 = 5 s) — one millisecond early it has not
// fired, at its value it has.
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { buildResponse, parseMessage, type SipRequest, type SipResponse } from '../../src/sip/index.js';
import {
  createInviteClientTransaction,
  createNonInviteClientTransaction,
  type ClientTransaction,
  type ClientTransactionEvents,
  type ClientTransactionFactory,
} from '../../src/sip/transaction/client-transaction.js';
import {
  createInviteServerTransaction,
  createNonInviteServerTransaction,
  type InviteServerTransactionEvents,
  type ServerTransaction,
} from '../../src/sip/transaction/server-transaction.js';
import { DEFAULT_TIMERS } from '../../src/sip/transaction/timers.js';
import type { InboundContext } from '../../src/sip/transport/inbound-context.js';

const { t1: T1, t2: T2, t4: T4 } = DEFAULT_TIMERS;

function requestBytes(method: string): Buffer {
  return Buffer.from(
    [
      `${method} sip:bob@example.com SIP/2.0`,
      'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKtimers',
      'Max-Forwards: 70',
      'From: <sip:alice@example.com>;tag=a',
      'To: <sip:bob@example.com>',
      'Call-ID: timers@192.0.2.1',
      `CSeq: 1 ${method}`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
    'latin1',
  );
}
const parse = (b: Buffer) => parseMessage(b, { datagram: true });
const req = (method: string) => parse(requestBytes(method)) as SipRequest;
const res = (request: SipRequest, status: number) =>
  parse(buildResponse(request, status, 'X', {}, undefined, 'b')) as SipResponse;
const startLine = (b: Buffer) => b.toString('latin1').split('\r\n')[0]!;

/** A server-side context on UDP or TCP that records what the transaction sends. */
function context(reliable: boolean, sent: Buffer[]): InboundContext {
  return {
    transport: reliable ? 'tcp' : 'udp',
    remote: { address: '192.0.2.1', port: 5060 },
    reliable,
    reply: () => undefined,
    send: (b) => sent.push(b),
  };
}

/** A client transaction for `request` with the default timers; the events not given do nothing. */
function clientTransaction(
  create: ClientTransactionFactory,
  request: SipRequest,
  send: (b: Buffer) => void,
  reliable: boolean,
  events: Partial<ClientTransactionEvents> = {},
): ClientTransaction {
  return create(request, requestBytes(request.method), send, reliable, DEFAULT_TIMERS, {
    response: () => undefined,
    timeout: () => undefined,
    terminated: () => undefined,
    ...events,
  });
}

/** An INVITE server transaction with the default timers, on UDP unless `reliable`, recording its sends. */
function inviteServer(
  sent: Buffer[] = [],
  reliable = false,
  events: Partial<InviteServerTransactionEvents> = {},
): ServerTransaction {
  return createInviteServerTransaction(req('INVITE'), context(reliable, sent), DEFAULT_TIMERS, {
    terminated: () => undefined,
    ...events,
  });
}

/** Advances the clock `ms`: one millisecond short `read()` is still `before`, at `ms` it is `after`. */
function changesAfter<T>(ms: number, read: () => T, before: T, after: T, message?: string): void {
  mock.timers.tick(ms - 1);
  assert.equal(read(), before, message === undefined ? undefined : `not yet: ${message}`);
  mock.timers.tick(1);
  assert.equal(read(), after, message);
}

/** Timer D, I or K: `tx` leaves `state` for Terminated after `ms` on UDP, at once on a reliable transport. */
function terminatesAfter(
  tx: { readonly state: string },
  state: string,
  timer: string,
  ms: number,
  reliable: boolean,
): void {
  if (reliable) {
    mock.timers.tick(0);
    assert.equal(tx.state, 'terminated', `${timer} = 0 on a reliable transport`);
    return;
  }
  changesAfter(ms, () => tx.state, state, 'terminated', `${timer} at ${ms} ms`);
}

/** One more send at the end of each interval in turn, none a millisecond before; returns the time elapsed. */
function retransmitsAfter(intervals: number[], sent: () => number, label: string): number {
  let at = 0;
  for (const interval of intervals) {
    const before = sent();
    at += interval;
    changesAfter(interval, sent, before, before + 1, `${label} at ${at} ms`);
  }
  return at;
}

describe('transaction timers on a fake clock (RFC 3261 §17, RFC 6026)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  describe('INVITE client (§17.1.1)', () => {
    test('Timer A doubles from T1 until a response; Timer B = 64*T1 times out on UDP', (t) => {
      const retransmissions: string[] = [];
      const count = (m: unknown) => retransmissions.push((m as { kind: string }).kind);
      subscribe('voxgate:sip:retransmission', count);
      t.after(() => unsubscribe('voxgate:sip:retransmission', count));
      const sent: Buffer[] = [];
      let timedOut = 0;
      const tx = clientTransaction(createInviteClientTransaction, req('INVITE'), (b) => sent.push(b), false, {
        timeout: () => timedOut++,
      });
      assert.equal(sent.length, 1);
      // Retransmissions at T1, 3*T1, 7*T1, …: intervals T1, 2*T1, 4*T1 (§17.1.1.2, no T2 cap for INVITE).
      const intervals = [T1, 2 * T1, 4 * T1, 8 * T1, 16 * T1];
      const at = retransmitsAfter(intervals, () => sent.length, 'retransmitted');
      assert.equal(sent.length, 6);
      changesAfter(64 * T1 - at, () => timedOut, 0, 1, 'Timer B at 64*T1');
      assert.equal(retransmissions.filter((k) => k === 'request-sent').length, 6, 'each one on the channel');
      assert.equal(tx.state, 'terminated');
    });

    test('on TCP neither Timer A runs; Timer B still does', () => {
      const sent: Buffer[] = [];
      let timedOut = 0;
      clientTransaction(createInviteClientTransaction, req('INVITE'), (b) => sent.push(b), true, {
        timeout: () => timedOut++,
      });
      mock.timers.tick(64 * T1 - 1);
      assert.equal(sent.length, 1);
      assert.equal(timedOut, 0);
      mock.timers.tick(1);
      assert.equal(timedOut, 1);
    });

    test('Timer D: the Completed state lasts 32 s on UDP (ACK re-sent for retransmitted finals), 0 on TCP', () => {
      for (const reliable of [false, true]) {
        const sent: Buffer[] = [];
        const invite = req('INVITE');
        const tx = clientTransaction(createInviteClientTransaction, invite, (b) => sent.push(b), reliable);
        tx.receive(res(invite, 486));
        assert.equal(tx.state, 'completed');
        assert.equal(startLine(sent.at(-1)!), 'ACK sip:bob@example.com SIP/2.0');
        if (!reliable) {
          tx.receive(res(invite, 486));
          assert.equal(sent.filter((b) => startLine(b).startsWith('ACK')).length, 2);
        }
        terminatesAfter(tx, 'completed', 'Timer D', 32_000, reliable);
      }
    });

    test('RFC 6026 Timer M = 64*T1 in Accepted; 2xx retransmissions go to the TU meanwhile', () => {
      const invite = req('INVITE');
      const got: number[] = [];
      const tx = clientTransaction(createInviteClientTransaction, invite, () => undefined, false, {
        response: (r) => got.push(r.status),
      });
      tx.receive(res(invite, 200));
      assert.equal(tx.state, 'accepted');
      mock.timers.tick(64 * T1 - 1);
      tx.receive(res(invite, 200));
      assert.deepEqual(got, [200, 200]);
      mock.timers.tick(1);
      assert.equal(tx.state, 'terminated', 'Timer M at 64*T1');
    });
  });

  describe('non-INVITE client (§17.1.2)', () => {
    test('Timer E doubles from T1 up to T2, then every T2 in Proceeding; Timer F = 64*T1', () => {
      const sent: number[] = [];
      let timedOut = 0;
      const options = req('OPTIONS');
      const record = () => sent.push(Date.now());
      const tx = clientTransaction(createNonInviteClientTransaction, options, record, false, {
        timeout: () => timedOut++,
      });
      // Trying: T1, 2*T1, 4*T1, then capped at T2 (500, 1000, 2000, 4000, 4000 …).
      const trying = retransmitsAfter([T1, 2 * T1, 4 * T1, T2, T2], () => sent.length, 'retransmitted');
      // A provisional moves to Proceeding: from then on, every T2.
      tx.receive(res(options, 100));
      const at = trying + retransmitsAfter([T2], () => sent.length, 'in Proceeding');
      changesAfter(64 * T1 - at, () => timedOut, 0, 1, 'Timer F at 64*T1');
    });

    test('Timer K = T4 on UDP after a final response, 0 on TCP', () => {
      for (const reliable of [false, true]) {
        const options = req('OPTIONS');
        const tx = clientTransaction(createNonInviteClientTransaction, options, () => undefined, reliable);
        tx.receive(res(options, 200));
        assert.equal(tx.state, 'completed');
        terminatesAfter(tx, 'completed', 'Timer K', T4, reliable);
      }
    });
  });

  describe('INVITE server (§17.2.1, RFC 6026 §7.1)', () => {
    test('100 Trying after 200 ms when the TU is silent', () => {
      const sent: Buffer[] = [];
      inviteServer(sent);
      mock.timers.tick(199);
      assert.equal(sent.length, 0);
      mock.timers.tick(1);
      assert.equal(startLine(sent[0]!), 'SIP/2.0 100 Trying');
    });

    test('Timer G retransmits a non-2xx from T1, doubling up to T2; Timer H = 64*T1 gives up without ACK', () => {
      const sent: Buffer[] = [];
      let timedOut = 0;
      const tx = inviteServer(sent, false, { timeout: () => timedOut++ });
      tx.respond(486, 'Busy Here');
      assert.equal(sent.length, 1);
      const at = retransmitsAfter([T1, 2 * T1, 4 * T1, T2, T2], () => sent.length, 'Timer G');
      changesAfter(64 * T1 - at, () => timedOut, 0, 1, 'Timer H at 64*T1');
      assert.equal(tx.state, 'terminated');
    });

    test('Timer I = T4 in Confirmed on UDP, 0 on TCP; no Timer G on TCP', () => {
      for (const reliable of [false, true]) {
        const sent: Buffer[] = [];
        const tx = inviteServer(sent, reliable);
        tx.respond(486, 'Busy Here');
        if (reliable) {
          mock.timers.tick(10 * T1);
          assert.equal(sent.length, 1, 'no retransmission on TCP');
        }
        tx.receive(req('ACK'));
        assert.equal(tx.state, 'confirmed');
        terminatesAfter(tx, 'confirmed', 'Timer I', T4, reliable);
      }
    });

    test('RFC 6026 Timer L = 64*T1 in Accepted', () => {
      const tx = inviteServer();
      tx.respond(200, 'OK');
      assert.equal(tx.state, 'accepted');
      changesAfter(64 * T1, () => tx.state, 'accepted', 'terminated', 'Timer L at 64*T1');
    });

    test("RFC 6026 Accepted: the TU's 2xx retransmissions are sent until it says the 2xx is acknowledged, then the bytes are gone", () => {
      const sent: Buffer[] = [];
      const tx = inviteServer(sent);
      tx.respond(200, 'OK');
      tx.respond(200, 'OK'); // §13.3.1.4: the TU retransmits its 2xx
      assert.equal(sent.length, 2);
      assert.equal(sent[1], sent[0], 'a retransmission is the same bytes');
      tx.acknowledged();
      tx.respond(200, 'OK');
      assert.equal(
        tx.receive(req('INVITE')),
        'absorbed',
        'a retransmitted INVITE is still absorbed (Timer L)',
      );
      assert.equal(sent.length, 2, 'nothing is kept to send');
      assert.equal(tx.state, 'accepted');
      // In Proceeding, the call does not end the transaction's duty to answer a retransmission.
      const early: Buffer[] = [];
      const ringing = inviteServer(early);
      ringing.respond(180, 'Ringing');
      ringing.acknowledged();
      ringing.receive(req('INVITE'));
      assert.equal(early.length, 2, 'the 180 is sent again for the retransmitted INVITE (§17.2.1)');
    });

    test('RFC 6026: an ACK matched in Accepted goes to the TU; in Completed the transaction absorbs it', () => {
      const accepted = inviteServer();
      accepted.respond(200, 'OK');
      assert.equal(accepted.receive(req('ACK')), 'to-tu');
      assert.equal(accepted.state, 'accepted', 'the 2xx ACK does not change the transaction');
      const completed = inviteServer();
      completed.respond(486, 'Busy Here');
      assert.equal(completed.receive(req('ACK')), 'absorbed');
      assert.equal(completed.state, 'confirmed');
      assert.equal(completed.receive(req('INVITE')), 'absorbed');
    });
  });

  describe('non-INVITE server (§17.2.2)', () => {
    test('on UDP Completed hands the final response and its destination over (Timer J: transaction-completed.test.ts); on TCP Timer J = 0', () => {
      for (const reliable of [false, true]) {
        const sent: Buffer[] = [];
        const handed: Buffer[] = [];
        const tx = createNonInviteServerTransaction(req('OPTIONS'), context(reliable, sent), {
          terminated: () => undefined,
          completed: (response, send) => {
            handed.push(response);
            send(response);
          },
        });
        tx.respond(200, 'OK');
        assert.equal(tx.state, 'completed');
        if (reliable) {
          assert.deepEqual(handed, [], 'nothing to keep on a reliable transport');
          mock.timers.tick(0);
          assert.equal(tx.state, 'terminated');
          continue;
        }
        assert.equal(handed.length, 1);
        assert.equal(handed[0], sent[0], 'the bytes sent are the bytes handed over');
        assert.equal(sent.length, 2, "the handed-over send reaches the request's destination");
      }
    });
  });
});
