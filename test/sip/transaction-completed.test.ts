// Non-INVITE server transactions in "Completed" (RFC 3261 §17.2.2) through the transaction layer, which keeps
// them as records of their response: a retransmitted request gets the same bytes again without reaching the
// TU, Timer J ends the record at 64*T1 on UDP (0 on TCP), a failed send ends it (§17.2.4), and the records'
// bound in bytes refuses new requests with 503 while the records already kept still answer. Time is node:test's
// mock clock (setTimeout and Date, the layer reading Date.now), so Timer J is checked at its exact value.
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { parseMessage, type SipRequest, type SipResponse } from '../../src/sip/index.js';
import {
  createTransactionLayer,
  type TransactionLayer,
} from '../../src/sip/transaction/transaction-layer.js';
import type { ServerTransaction } from '../../src/sip/transaction/server-transaction.js';
import { DEFAULT_TIMERS } from '../../src/sip/transaction/timers.js';
import type { InboundContext } from '../../src/sip/transport/inbound-context.js';
import type { SendFailureHandler } from '../../src/sip/transport/send-failure.js';

const { t1: T1, t4: T4 } = DEFAULT_TIMERS;

/** A request from 192.0.2.1 over `transport`, its dialog-identifying parts as given. */
function request(
  startLine: string,
  parts: { branch: string; to: string; callId: string; cseq: string },
  transport: string,
): SipRequest {
  return parseMessage(
    Buffer.from(
      [
        startLine,
        `Via: SIP/2.0/${transport} 192.0.2.1:5060;branch=${parts.branch}`,
        'Max-Forwards: 70',
        'From: <sip:alice@acme.example>;tag=a',
        `To: ${parts.to}`,
        `Call-ID: ${parts.callId}`,
        `CSeq: ${parts.cseq}`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
    { datagram: transport === 'UDP' },
  ) as SipRequest;
}

function register(n: number, transport = 'UDP'): SipRequest {
  return request(
    'REGISTER sip:acme.example SIP/2.0',
    {
      branch: `z9hG4bK-completed-${n}`,
      to: '<sip:alice@acme.example>',
      callId: `completed-${n}`,
      cseq: `${n} REGISTER`,
    },
    transport,
  );
}

interface Wire {
  ctx: InboundContext;
  /** Every response sent, in order. */
  sent: Buffer[];
  /** Makes the next sends fail (reported after the call returns, as the transports do). */
  failing: boolean;
}

function wire(reliable: boolean): Wire {
  const w: Wire = {
    sent: [],
    failing: false,
    ctx: {
      transport: reliable ? 'tcp' : 'udp',
      remote: { address: '192.0.2.1', port: 5060 },
      reliable,
      reply: () => undefined,
      send: (bytes: Buffer, onFailure?: SendFailureHandler) => {
        w.sent.push(bytes);
        if (w.failing)
          queueMicrotask(() =>
            onFailure?.({ reason: 'bad-port', transport: 'udp', to: w.ctx.remote, detail: 'test' }),
          );
      },
    },
  };
  return w;
}

const startLine = (b: Buffer) => b.toString('latin1').split('\r\n')[0]!;

describe('non-INVITE server transactions in Completed (RFC 3261 §17.2.2), kept as records', () => {
  let seen: string[];
  let layer: TransactionLayer;
  const open = (options: { maxCompletedBytes?: number } = {}) => {
    layer = createTransactionLayer({
      ...options,
      now: () => Date.now(),
      tu: {
        onRequest: (request, tx) => {
          seen.push(request.callId);
          tx?.respond(200, 'OK');
        },
      },
    });
  };
  beforeEach(() => {
    seen = [];
    mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  });
  afterEach(() => {
    layer.close();
    mock.timers.reset();
  });

  test('a retransmission in Completed gets the same response bytes and is not seen by the TU; at Timer J (64*T1) it is a new request', (t) => {
    const kinds: string[] = [];
    const count = (m: unknown) => kinds.push((m as { kind: string }).kind);
    subscribe('voxgate:sip:retransmission', count);
    t.after(() => unsubscribe('voxgate:sip:retransmission', count));
    open();
    const w = wire(false);
    layer.handleRequest(register(1), w.ctx);
    assert.deepEqual(seen, ['completed-1']);
    assert.deepEqual(layer.completed.transactions, 1);
    assert.equal(layer.size.server, 1, 'a transaction in Completed is still a server transaction');

    mock.timers.tick(64 * T1 - 1);
    layer.handleRequest(register(1), w.ctx);
    assert.equal(w.sent.length, 2);
    assert.ok(w.sent[1]!.equals(w.sent[0]!), 'the same bytes, To tag included');
    assert.deepEqual(seen, ['completed-1'], 'absorbed: the TU saw the request once');
    assert.deepEqual(kinds, ['request-absorbed', 'response-sent']);

    mock.timers.tick(1);
    assert.deepEqual(layer.size, { server: 0, client: 0 }, 'Timer J ended it at 64*T1');
    layer.handleRequest(register(1), w.ctx);
    assert.deepEqual(seen, ['completed-1', 'completed-1'], 'after Timer J the same request is a new one');
  });

  test('records end in the order they came, each at its own Timer J', () => {
    open();
    const w = wire(false);
    layer.handleRequest(register(1), w.ctx);
    mock.timers.tick(T1);
    layer.handleRequest(register(2), w.ctx);
    mock.timers.tick(64 * T1 - T1);
    assert.equal(layer.completed.transactions, 1, 'the first ended, the second is kept');
    layer.handleRequest(register(2), w.ctx);
    assert.deepEqual(seen, ['completed-1', 'completed-2']);
    mock.timers.tick(T1 - 1);
    assert.equal(layer.completed.transactions, 1);
    mock.timers.tick(1);
    assert.equal(layer.completed.transactions, 0);
  });

  test('over TCP Timer J is 0: no record is kept, the transaction ends', () => {
    open();
    const w = wire(true);
    layer.handleRequest(register(1, 'TCP'), w.ctx);
    assert.equal(layer.completed.transactions, 0);
    mock.timers.tick(0);
    assert.equal(layer.size.server, 0);
    layer.handleRequest(register(1, 'TCP'), w.ctx);
    assert.deepEqual(seen, ['completed-1', 'completed-1']);
  });

  test('§17.2.4: a failed send of the response in Completed ends the record', async () => {
    open();
    const w = wire(false);
    layer.handleRequest(register(1), w.ctx);
    w.failing = true;
    layer.handleRequest(register(1), w.ctx);
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    assert.equal(layer.size.server, 0, 'the failure ended it');
    w.failing = false;
    layer.handleRequest(register(1), w.ctx);
    assert.deepEqual(seen, ['completed-1', 'completed-1']);
  });

  test('the records are bounded in bytes: beyond it a new request gets 503, unseen by the TU, while the records kept still answer; after Timer J new requests are taken again', () => {
    open({ maxCompletedBytes: 1 });
    const w = wire(false);
    layer.handleRequest(register(1), w.ctx);
    assert.ok(layer.completed.bytes >= 1, 'the first record fills the bound');
    layer.handleRequest(register(2), w.ctx);
    assert.deepEqual(seen, ['completed-1'], 'the second never reached the TU');
    assert.equal(startLine(w.sent[1]!), 'SIP/2.0 503 Service Unavailable');
    assert.equal(layer.refusedFull, 1);
    assert.equal(layer.size.server, 1, 'the refused request is not kept');
    layer.handleRequest(register(1), w.ctx);
    assert.ok(w.sent[2]!.equals(w.sent[0]!), 'the kept record still answers its retransmission');
    mock.timers.tick(64 * T1);
    assert.equal(layer.completed.bytes, 0);
    layer.handleRequest(register(2), w.ctx);
    assert.deepEqual(seen, ['completed-1', 'completed-2']);
  });
});

function invite(method: 'INVITE' | 'ACK' | 'CANCEL', transport = 'UDP'): SipRequest {
  return request(
    `${method} sip:bob@acme.example SIP/2.0`,
    {
      branch: 'z9hG4bK-accepted-1',
      to: `<sip:bob@acme.example>${method === 'ACK' ? ';tag=b' : ''}`,
      callId: 'accepted-1',
      cseq: `1 ${method}`,
    },
    transport,
  );
}

describe('INVITE server transactions in Accepted (RFC 6026 §7.1) that the TU let go, kept as records', () => {
  let seen: string[];
  let txs: ServerTransaction[];
  let layer: TransactionLayer;
  beforeEach(() => {
    seen = [];
    txs = [];
    mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    layer = createTransactionLayer({
      now: () => Date.now(),
      tu: {
        onRequest: (request, tx) => {
          seen.push(`${request.method}${tx ? '' : ' (no transaction)'}`);
          if (tx && request.method === 'INVITE') {
            txs.push(tx);
            tx.respond(200, 'OK');
          }
        },
      },
    });
  });
  afterEach(() => {
    layer.close();
    mock.timers.reset();
  });

  for (const transport of ['UDP', 'TCP']) {
    test(`over ${transport}: after acknowledged() a retransmitted INVITE is absorbed with nothing sent, an ACK reaches the TU, a CANCEL gets 481; Timer L (64*T1) ends the record`, () => {
      const w = wire(transport === 'TCP');
      layer.handleRequest(invite('INVITE', transport), w.ctx);
      assert.deepEqual(seen, ['INVITE']);
      assert.equal(layer.completed.transactions, 0, 'until the TU lets go, the transaction object is kept');
      mock.timers.tick(T1);
      txs[0]!.acknowledged();
      assert.deepEqual(layer.completed, {
        transactions: 1,
        bytes: layer.completed.bytes,
      });
      assert.ok(layer.completed.bytes > 0);
      assert.equal(layer.size.server, 1, 'a record is still a server transaction');

      const sent = w.sent.length;
      layer.handleRequest(invite('INVITE', transport), w.ctx);
      assert.equal(w.sent.length, sent, 'absorbed: nothing is sent');
      assert.deepEqual(seen, ['INVITE'], 'absorbed: not a new request');

      layer.handleRequest(invite('ACK', transport), w.ctx);
      assert.deepEqual(seen, ['INVITE', 'ACK (no transaction)'], 'the ACK of the 2xx goes to the TU');

      layer.handleRequest(invite('CANCEL', transport), w.ctx);
      assert.equal(startLine(w.sent.at(-1)!), 'SIP/2.0 481 Call/Transaction Does Not Exist');

      txs[0]!.respond(200, 'OK');
      txs[0]!.acknowledged();
      assert.equal(
        w.sent.length,
        sent + 1,
        'the TU let go: its 2xx is not sent again (only the 481 was sent)',
      );

      mock.timers.tick(64 * T1 - 1);
      layer.handleRequest(invite('INVITE', transport), w.ctx);
      assert.deepEqual(seen, ['INVITE', 'ACK (no transaction)'], 'still absorbed just before Timer L');
      mock.timers.tick(1);
      assert.equal(layer.completed.transactions, 0, 'Timer L ended the record');
      layer.handleRequest(invite('INVITE', transport), w.ctx);
      assert.deepEqual(
        seen,
        ['INVITE', 'ACK (no transaction)', 'INVITE'],
        'after Timer L it is a new request',
      );
    });
  }

  test('without acknowledged() the transaction object stays in Accepted until Timer L, and absorbs too', () => {
    const w = wire(false);
    layer.handleRequest(invite('INVITE'), w.ctx);
    assert.equal(txs[0]!.state, 'accepted');
    mock.timers.tick(64 * T1 - 1);
    layer.handleRequest(invite('INVITE'), w.ctx);
    assert.deepEqual(seen, ['INVITE']);
    assert.equal(layer.completed.transactions, 0);
    mock.timers.tick(1);
    assert.equal(layer.size.server, 0);
  });
});

/** A BYE we send over `transport`, and a final response to it as the peer sends it (again for a retransmission). */
function outgoingBye(n: number, transport: string): { bytes: Buffer; response(status: number): SipResponse } {
  const head = [
    `Via: SIP/2.0/${transport} 192.0.2.9:5060;branch=z9hG4bK-client-${n}`,
    'From: <sip:alice@acme.example>;tag=a',
    'To: <sip:bob@acme.example>;tag=b',
    `Call-ID: client-${n}`,
    `CSeq: ${n} BYE`,
  ];
  return {
    bytes: Buffer.from(
      ['BYE sip:bob@192.0.2.1 SIP/2.0', ...head, 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join(
        '\r\n',
      ),
    ),
    response: (status) =>
      parseMessage(Buffer.from([`SIP/2.0 ${status} OK`, ...head, 'Content-Length: 0', '', ''].join('\r\n')), {
        datagram: transport === 'UDP',
      }) as SipResponse,
  };
}

describe('non-INVITE client transactions in Completed (RFC 3261 §17.1.2.2), kept as records', () => {
  let layer: TransactionLayer;
  let stray: number[];
  beforeEach(() => {
    stray = [];
    mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    layer = createTransactionLayer({
      now: () => Date.now(),
      tu: { onRequest: () => undefined, onStrayResponse: (r) => stray.push(r.status) },
    });
  });
  afterEach(() => {
    layer.close();
    mock.timers.reset();
  });

  test('over UDP a retransmitted final response is absorbed until Timer K (T4), not passed to the TU; then it is stray', (t) => {
    const kinds: string[] = [];
    const count = (m: unknown) => kinds.push((m as { kind: string }).kind);
    subscribe('voxgate:sip:retransmission', count);
    t.after(() => unsubscribe('voxgate:sip:retransmission', count));
    const bye = outgoingBye(1, 'UDP');
    const sent: Buffer[] = [];
    const finals: number[] = [];
    let terminated = 0;
    const tx = layer.sendRequest(
      bye.bytes,
      (b) => sent.push(b),
      { reliable: false },
      {
        response: (r) => finals.push(r.status),
        timeout: () => assert.fail('no timeout'),
        terminated: () => terminated++,
      },
    );
    layer.handleResponse(bye.response(200));
    assert.deepEqual(finals, [200], 'the final response reached the TU');
    assert.equal(tx.state, 'completed');
    assert.equal(terminated, 1, 'the transaction object is done: a record keeps Completed');
    assert.deepEqual(layer.size, { server: 0, client: 1 }, 'the record counts as a client transaction');

    mock.timers.tick(T4 - 1);
    layer.handleResponse(bye.response(200));
    assert.deepEqual(finals, [200], 'absorbed: the TU saw the response once');
    assert.deepEqual(stray, [], 'absorbed: not stray either');
    assert.deepEqual(kinds, ['response-absorbed']);
    assert.equal(sent.length, 1, 'nothing is sent for it, and the BYE is not retransmitted');

    mock.timers.tick(1);
    assert.deepEqual(layer.size, { server: 0, client: 0 }, 'Timer K ended the record at T4');
    layer.handleResponse(bye.response(200));
    assert.deepEqual(stray, [200], 'after Timer K the response matches nothing (§17.1.3: to the core)');
    assert.deepEqual(finals, [200]);
  });

  test('over TCP Timer K is zero: no record, the next response is stray', () => {
    const bye = outgoingBye(2, 'TCP');
    const finals: number[] = [];
    const tx = layer.sendRequest(
      bye.bytes,
      () => undefined,
      { reliable: true },
      {
        response: (r) => finals.push(r.status),
        timeout: () => assert.fail('no timeout'),
      },
    );
    layer.handleResponse(bye.response(200));
    assert.deepEqual(finals, [200]);
    mock.timers.tick(0);
    assert.equal(tx.state, 'terminated');
    assert.deepEqual(layer.size, { server: 0, client: 0 });
    layer.handleResponse(bye.response(200));
    assert.deepEqual(stray, [200]);
  });

  test('responses still in progress go to the transaction: a provisional, then the final, then Completed', () => {
    const bye = outgoingBye(3, 'UDP');
    const seen: number[] = [];
    layer.sendRequest(
      bye.bytes,
      () => undefined,
      { reliable: false },
      {
        response: (r) => seen.push(r.status),
        timeout: () => assert.fail('no timeout'),
      },
    );
    layer.handleResponse(bye.response(100));
    assert.deepEqual(layer.size, { server: 0, client: 1 });
    layer.handleResponse(bye.response(200));
    layer.handleResponse(bye.response(200));
    assert.deepEqual(seen, [100, 200]);
    assert.deepEqual(stray, []);
  });
});
