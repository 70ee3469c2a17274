// The records of finished transactions (`completed-responses.ts`, RFC 3261 §17.2.2 Timer J, RFC 6026 Timer L,
// §17.1.2.2 Timer K) on their own: a ring of typed-array slots, their bytes in chunks, keys found through an
// open-addressing hash table. Each record must give back its own response and destination through the ring's
// growth and shrinking, end in order at its timer, and end early on a key added again or a failed send. The
// clock is a variable; timers are node:test's mock.
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createCompletedResponses,
  type CompletedResponses,
} from '../../src/sip/transaction/completed-responses.js';
import type { Peer } from '../../src/sip/transport/inbound-context.js';
import type { SendFailureHandler } from '../../src/sip/transport/send-failure.js';

const TIMER_J = 32_000;

interface Sent {
  bytes: string;
  to?: Peer;
}

describe('completed responses: records of finished transactions', () => {
  let clock: number;
  let store: CompletedResponses;
  let sent: Sent[];
  let failNext: boolean;
  /** The transport's send, one function for every record (as a socket's is). */
  const routeSend = (bytes: Buffer, to: Peer, onFailure?: SendFailureHandler) => {
    sent.push({ bytes: bytes.toString('utf8'), to: { ...to } });
    if (failNext) {
      failNext = false;
      queueMicrotask(() => onFailure?.({ reason: 'socket-error', transport: 'udp', to, detail: 'test' }));
    }
  };
  const closureSend = (bytes: Buffer) => sent.push({ bytes: bytes.toString('utf8') });
  const response = (n: number, size = 40) => {
    const text = `SIP/2.0 200 OK\r\nCSeq: ${n} REGISTER\r\n`;
    return Buffer.from(text.padEnd(size, 'x'));
  };
  const peer = (n: number): Peer =>
    n % 2 === 0
      ? { address: `192.0.2.${n % 250}`, port: 5060 + (n % 1000) }
      : { address: `2001:db8::${n.toString(16)}`, port: 5070 };

  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout'] });
    clock = 0;
    sent = [];
    failNext = false;
    store = createCompletedResponses({ timerJ: TIMER_J, maxBytes: 2 ** 30, now: () => clock });
  });
  afterEach(() => {
    store.clear();
    mock.timers.reset();
  });
  const tick = (ms: number) => {
    clock += ms;
    mock.timers.tick(ms);
  };

  test('20,000 records, some with responses larger than a chunk’s eighth: each key gives back its own response and destination, through the ring’s growth', () => {
    const sizes = (n: number) => (n % 997 === 0 ? 20_000 : 40 + (n % 300));
    for (let n = 0; n < 20_000; n++)
      store.add(`z9hG4bK-${n}|REGISTER|é${n}`, response(n, sizes(n)), closureSend, {
        send: routeSend,
        to: peer(n),
      });
    assert.equal(store.count, 20_000);
    for (const n of [0, 1, 2, 997, 1994, 4095, 4096, 12_345, 19_999]) {
      sent = [];
      assert.equal(store.retransmit(`z9hG4bK-${n}|REGISTER|é${n}`), true, `record ${n}`);
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.bytes, response(n, sizes(n)).toString('utf8'), `response of ${n}`);
      assert.deepEqual(sent[0]!.to, peer(n), `destination of ${n}`);
    }
    assert.equal(store.retransmit('z9hG4bK-20000|REGISTER|é20000'), false, 'a key never added');
    assert.equal(store.retransmit('z9hG4bK-1|REGISTER|é'), false, 'a prefix of a key');
  });

  test('records end in the order they came, each at its Timer J; the bytes go with them, and a store that shrank takes records again', () => {
    for (let n = 0; n < 5000; n++) {
      store.add(`k${n}`, response(n), closureSend, { send: routeSend, to: peer(n) });
      if (n % 1000 === 999) tick(1000);
    }
    const full = store.bytes;
    tick(TIMER_J - 5000); // the first thousand are due
    assert.equal(store.count, 4000);
    assert.equal(store.retransmit('k999'), false);
    assert.equal(store.retransmit('k1000'), true);
    assert.ok(store.bytes < full && store.bytes > 0);
    tick(4000);
    assert.equal(store.count, 0);
    assert.equal(store.bytes, 0);
    for (let n = 0; n < 3; n++)
      store.add(`again${n}`, response(n), closureSend, { send: routeSend, to: peer(n) });
    sent = [];
    assert.equal(store.retransmit('again2'), true);
    assert.deepEqual(sent, [{ bytes: response(2).toString('utf8'), to: peer(2) }]);
  });

  test('a key added again replaces its record; the one replaced no longer counts but its bytes do until its Timer J', () => {
    store.add('k', response(1), closureSend, { send: routeSend, to: peer(1) });
    const one = store.bytes;
    tick(10);
    store.add('k', response(2), closureSend, { send: routeSend, to: peer(2) });
    assert.equal(store.count, 1);
    assert.equal(store.bytes, 2 * one);
    assert.equal(store.retransmit('k'), true);
    assert.deepEqual(sent, [{ bytes: response(2).toString('utf8'), to: peer(2) }]);
    tick(TIMER_J - 10);
    assert.equal(store.bytes, one, 'the replaced one ended at its own Timer J');
    assert.equal(store.retransmit('k'), true, 'the newer one is still kept');
    tick(10);
    assert.equal(store.retransmit('k'), false);
  });

  test('§17.2.4: a failed send ends the record; without a route the closure sends', async () => {
    store.add('routed', response(1), closureSend, { send: routeSend, to: peer(1) });
    store.add('closure', response(2), closureSend);
    failNext = true;
    assert.equal(store.retransmit('routed'), true);
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    assert.equal(store.retransmit('routed'), false, 'ended by the failure');
    assert.equal(store.count, 1);
    sent = [];
    assert.equal(store.retransmit('closure'), true);
    assert.deepEqual(sent, [{ bytes: response(2).toString('utf8') }]);
    store.remove('closure');
    assert.equal(store.count, 0);
    assert.equal(store.retransmit('closure'), false);
  });

  test('RFC 6026 §7.1: an absorbed record answers a retransmission with nothing', () => {
    store.absorb('invite');
    assert.equal(store.retransmit('invite'), true);
    assert.deepEqual(sent, []);
    tick(TIMER_J);
    assert.equal(store.retransmit('invite'), false);
  });

  test('keys removed in any order leave every other key findable (the hash table moves entries back, no tombstones)', () => {
    const keys = Array.from({ length: 3000 }, (_, n) => `branch-${(n * 7919) % 3001}`);
    for (const k of keys) store.add(k, response(1), closureSend, { send: routeSend, to: peer(1) });
    for (let i = 0; i < keys.length; i += 3) store.remove(keys[i]!);
    for (let i = 0; i < keys.length; i++)
      assert.equal(
        store.retransmit(keys[i]!),
        i % 3 !== 0,
        `${keys[i]} (${i % 3 === 0 ? 'removed' : 'kept'})`,
      );
    assert.equal(store.count, 2000);
  });
});
