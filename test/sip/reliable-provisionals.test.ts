// RFC 3262 (reliable provisional responses): the RSeq/RAck parsers with the RFC's own examples, and the UAS
// core's reliable-provisional bookkeeping driven with node:test's mock timers, so each retransmission and the
// 64*T1 deadline is checked at its exact instant.
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatRAck,
  parseRAck,
  parseRSeq,
  ReliableProvisionals,
  SipParseError,
  type Provisional,
} from '../../src/sip/index.js';

const T1 = 500;

describe('RFC 3262 §7 RSeq and RAck', () => {
  test('§7.1 example "RSeq: 988789"', () => {
    assert.equal(parseRSeq('988789'), 988789);
  });
  test('§7.2 example "RAck: 776656 1 INVITE"', () => {
    assert.deepEqual(parseRAck('776656 1 INVITE'), { rseq: 776656, cseq: 1, method: 'INVITE' });
    assert.equal(formatRAck({ rseq: 776656, cseq: 1, method: 'INVITE' }), '776656 1 INVITE');
  });
  test('malformed values are SIP parse errors (400), not crashes', () => {
    for (const bad of [
      '',
      '0',
      '-1',
      'abc',
      '99999999999',
      '1 INVITE',
      '1 2',
      '1 2 IN VITE',
      '1 2147483648 INVITE',
    ])
      assert.throws(
        () => (bad.split(' ').length > 1 || bad === '' ? parseRAck(bad) : parseRSeq(bad)),
        SipParseError,
        bad,
      );
  });
});

describe('RFC 3262 §3 UAS: reliable provisional responses', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  const ringing: Provisional = { status: 180, reason: 'Ringing', headers: {}, body: Buffer.alloc(0) };
  const progress: Provisional = {
    status: 183,
    reason: 'Session Progress',
    headers: {},
    body: Buffer.alloc(0),
  };
  const invite = { seq: 7, method: 'INVITE' };

  function uas(unreliable = true) {
    const sent: Provisional[] = [];
    let expired = 0;
    const reliable = new ReliableProvisionals<string>({
      t1: T1,
      unreliable,
      send: (r) => sent.push(r),
      expired: () => (expired += 1),
    });
    return { reliable, sent, expired: () => expired };
  }
  const rseqOf = (r: Provisional) => Number(r.headers['RSeq']);

  test('"MUST contain a Require header field containing the option tag 100rel, and MUST include an RSeq" between 1 and 2**31 - 1', () => {
    const { reliable, sent } = uas();
    reliable.send({ ...ringing, headers: { Require: 'timer' } }, 'a');
    assert.deepEqual(sent[0]!.headers['Require'], ['timer', '100rel']);
    const rseq = rseqOf(sent[0]!);
    assert.ok(rseq >= 1 && rseq <= 2 ** 31 - 1);
  });

  test('retransmitted at T1, 2T1, 4T1 … (no T2 cap) until 64*T1, then expired', () => {
    const { reliable, sent, expired } = uas();
    reliable.send(ringing, 'a');
    let at = 0;
    for (const interval of [T1, 2 * T1, 4 * T1, 8 * T1, 16 * T1]) {
      mock.timers.tick(interval - 1);
      const before = sent.length;
      mock.timers.tick(1);
      at += interval;
      assert.equal(sent.length, before + 1, `a retransmission at ${at} ms`);
    }
    assert.equal(new Set(sent.map(rseqOf)).size, 1, 'retransmissions keep the RSeq');
    mock.timers.tick(64 * T1 - at - 1);
    assert.equal(expired(), 0);
    mock.timers.tick(1);
    assert.equal(expired(), 1, 'the UAS gives up at 64*T1');
  });

  test('over a reliable transport it is sent once, and still expires at 64*T1', () => {
    const { reliable, sent, expired } = uas(false);
    reliable.send(ringing, 'a');
    mock.timers.tick(64 * T1);
    assert.equal(sent.length, 1);
    assert.equal(expired(), 1);
  });

  test('"MUST NOT send a second reliable provisional response until the first is acknowledged"; the PRACK releases it, RSeq one higher', () => {
    const { reliable, sent } = uas();
    reliable.send(ringing, 'first');
    reliable.send(progress, 'second');
    assert.equal(sent.length, 1);
    const rseq = rseqOf(sent[0]!);
    assert.equal(reliable.prack({ rseq, cseq: 7, method: 'INVITE' }, invite), 'first');
    assert.equal(sent.length, 2);
    assert.equal(sent[1]!.status, 183);
    assert.equal(rseqOf(sent[1]!), rseq + 1);
    mock.timers.tick(T1 - 1);
    assert.equal(sent.length, 2, 'the acknowledged one is no longer retransmitted');
  });

  test('a PRACK that matches no unacknowledged response gets 481 (undefined): wrong RSeq, CSeq or method, or a repeat', () => {
    const { reliable, sent } = uas();
    reliable.send(ringing, 'a');
    const rseq = rseqOf(sent[0]!);
    assert.equal(reliable.prack({ rseq: rseq + 1, cseq: 7, method: 'INVITE' }, invite), undefined);
    assert.equal(reliable.prack({ rseq, cseq: 6, method: 'INVITE' }, invite), undefined);
    assert.equal(reliable.prack({ rseq, cseq: 7, method: 'UPDATE' }, invite), undefined);
    assert.equal(reliable.prack({ rseq, cseq: 7, method: 'INVITE' }, invite), 'a');
    assert.equal(reliable.prack({ rseq, cseq: 7, method: 'INVITE' }, invite), undefined);
  });

  test('after a final response: no more retransmissions, queued ones dropped, an outstanding PRACK still matches', () => {
    const { reliable, sent, expired } = uas();
    reliable.send(ringing, 'a');
    reliable.send(progress, 'b');
    reliable.finalResponseSent();
    mock.timers.tick(64 * T1);
    assert.equal(sent.length, 1);
    assert.equal(expired(), 0);
    assert.equal(reliable.prack({ rseq: rseqOf(sent[0]!), cseq: 7, method: 'INVITE' }, invite), 'a');
    assert.equal(sent.length, 1, 'the queued one is not sent after the final response');
  });
});
