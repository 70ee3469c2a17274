// The call's state machine (one transition table, state-owned timers) and the SIP helpers the call moved
// into src/sip: the 2xx retransmission until the ACK (§13.3.1.4) and the CANCEL of a request (§9.1).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CallStateMachine } from '../../../src/gateway/call/index.js';
import { buildCancel, header, retransmit2xxUntilAck } from '../../../src/sip/index.js';
import { callerRequest, parse } from './fake-sip.js';
import type { SipRequest } from '../../../src/sip/index.js';

describe('CallStateMachine', () => {
  test('only the transitions of the table happen', () => {
    const m = new CallStateMachine();
    assert.equal(m.state, 'routing');
    assert.equal(m.transition('ending'), true);
    assert.equal(m.transition('answered'), false, 'no way back');
    assert.equal(m.transition('early'), false);
    assert.equal(m.over, true);
    assert.equal(m.transition('ended'), true);
    assert.equal(m.transition('ended'), false);

    const n = new CallStateMachine();
    assert.equal(n.transition('early'), true);
    assert.equal(n.transition('routing'), false);
    assert.equal(n.settingUp, true);
    assert.equal(n.transition('answered'), true);
    assert.equal(n.settingUp, false);
  });

  test('what a state owns is stopped when the call leaves it', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const m = new CallStateMachine();
    const fired: string[] = [];
    m.after('ring timeout', ['routing', 'early'], 10, () => fired.push('ring'));
    let stopped = false;
    m.own('2xx retransmission', ['answered'], { stop: () => (stopped = true) });
    assert.equal(stopped, true, 'not owned by routing: stopped at once');
    m.transition('early');
    assert.deepEqual(m.holding(), ['ring timeout'], 'early owns the ring timer too');
    m.transition('answered');
    assert.deepEqual(m.holding(), []);
    m.after('max duration', ['answered'], 10, () => fired.push('max'));
    m.transition('ending');
    t.mock.timers.tick(1000);
    assert.deepEqual(fired, []);
  });

  test('a timer that fires is forgotten; one stopped by name does not fire', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const m = new CallStateMachine();
    const fired: string[] = [];
    m.after('a', ['routing'], 5, () => fired.push('a'));
    m.after('b', ['routing'], 5, () => fired.push('b'));
    m.stop('b');
    t.mock.timers.tick(4);
    assert.deepEqual(fired, [], 'not before its time');
    t.mock.timers.tick(1);
    assert.deepEqual(fired, ['a']);
    assert.deepEqual(m.holding(), []);
  });
});

describe('retransmit2xxUntilAck (§13.3.1.4)', () => {
  test('unreliable: from T1 doubling to T2, until stopped', (t) => {
    // The clock is Node's mock (setTimeout only): the schedule is read exactly, whatever the machine's load.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let resent = 0;
    const r = retransmit2xxUntilAck({
      t1: 5,
      t2: 20,
      unreliable: true,
      resend: () => resent++,
      noAck: () => {},
    });
    const after = (ms: number, expected: number) => {
      t.mock.timers.tick(ms);
      assert.equal(resent, expected, `after ${ms} ms more`);
    };
    after(4, 0);
    after(1, 1); // T1
    after(9, 1);
    after(1, 2); // 2*T1
    after(19, 2);
    after(1, 3); // 4*T1 = T2
    after(20, 4); // capped at T2
    r.stop();
    after(1000, 4);
  });

  test('64*T1 without the ACK: noAck; a reliable transport never resends', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let resent = 0;
    let gaveUp = 0;
    retransmit2xxUntilAck({ t1: 1, t2: 4, unreliable: false, resend: () => resent++, noAck: () => gaveUp++ });
    t.mock.timers.tick(63);
    assert.equal(gaveUp, 0, 'not before 64*T1');
    t.mock.timers.tick(1);
    assert.equal(gaveUp, 1, 'at 64*T1');
    t.mock.timers.tick(1000);
    assert.equal(resent, 0);
    assert.equal(gaveUp, 1, 'once');
  });

  test('unreliable: the last wait ends at 64*T1, not a whole interval past it', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let resent = 0;
    let gaveUp = 0;
    retransmit2xxUntilAck({ t1: 1, t2: 4, unreliable: true, resend: () => resent++, noAck: () => gaveUp++ });
    // Resends at 1, 3, 7, then every T2 = 4 up to 63: 3 + 14. (Ticked by the millisecond: Node 20's mock runs
    // no timer a callback sets within the same tick.)
    for (let ms = 0; ms < 63; ms++) t.mock.timers.tick(1);
    assert.equal(resent, 17);
    assert.equal(gaveUp, 0);
    t.mock.timers.tick(1);
    assert.equal(gaveUp, 1, 'at 64*T1, cut short from the 4 ms interval');
    assert.equal(resent, 17, 'no resend at the deadline');
  });
});

describe('buildCancel (§9.1)', () => {
  test('same Request-URI, Call-ID, From, To, CSeq number and top Via; the Routes; method CANCEL', () => {
    const invite = callerRequest('INVITE', { cseq: 4, headers: ['Route: <sip:p1.example;lr>'] });
    const cancel = parse<SipRequest>(buildCancel(invite));
    assert.equal(cancel.method, 'CANCEL');
    assert.equal(cancel.uri, invite.uri);
    assert.equal(cancel.callId, invite.callId);
    assert.equal(cancel.topVia, invite.topVia);
    assert.deepEqual(cancel.cseq, { seq: 4, method: 'CANCEL' });
    assert.equal(header(cancel, 'From'), header(invite, 'From'));
    assert.equal(header(cancel, 'To'), header(invite, 'To'));
    assert.equal(header(cancel, 'Route'), '<sip:p1.example;lr>');
  });
});
