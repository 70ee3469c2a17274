import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import {
  buildRequest,
  createSipEndpoint,
  createTransactionLayer,
  header,
  parseMessage,
  type ServerTransaction,
  type SipEndpoint,
  type SipRequest,
  type SipResponse,
  type TransactionLayer,
} from '../../src/sip/index.js';

/** Short timers so that retransmission behaviour shows within a test; ratios as in RFC 3261 Table 4. */
const timers = { t1: 20, t2: 80, t4: 100 };

/** A UDP peer that records every datagram it gets. */
class Peer {
  readonly socket: Socket = createSocket('udp4');
  readonly inbox: string[] = [];
  private waiters: (() => void)[] = [];
  port = 0;
  async open(): Promise<void> {
    this.socket.on('message', (m) => {
      this.inbox.push(m.toString('latin1'));
      this.waiters.splice(0).forEach((w) => w());
    });
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
    this.port = this.socket.address().port;
  }
  send(text: string, port: number): void {
    this.socket.send(Buffer.from(text, 'latin1'), port, '127.0.0.1');
  }
  /** Waits until `count` datagrams matching `pattern` have arrived. */
  async waitFor(pattern: RegExp, count = 1): Promise<string[]> {
    for (;;) {
      const hits = this.inbox.filter((m) => pattern.test(m));
      if (hits.length >= count) return hits;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `waiting for ${count}× ${pattern}; got ${JSON.stringify(this.inbox.map((m) => m.split('\r\n')[0]))}`,
              ),
            ),
          3000,
        );
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
  count(pattern: RegExp): number {
    return this.inbox.filter((m) => pattern.test(m)).length;
  }
}

function request(method: string, peerPort: number, branch: string, extra: string[] = []): string {
  return [
    `${method} sip:service@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peerPort};branch=${branch}`,
    'Max-Forwards: 70',
    'From: <sip:caller@example.com>;tag=abc',
    'To: <sip:service@127.0.0.1>',
    'Call-ID: tx-test-' + branch,
    `CSeq: 1 ${method}`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('transaction layer over real UDP (RFC 3261 §17, RFC 6026)', () => {
  let endpoint: SipEndpoint;
  let layer: TransactionLayer;
  let peer: Peer;
  let port: number;
  let onRequest: (request: SipRequest, tx: ServerTransaction | undefined) => void;
  const cancelled: string[] = [];

  before(async () => {
    layer = createTransactionLayer({
      timers,
      tu: {
        onRequest: (request, tx) => onRequest(request, tx),
        onCancel: (_cancel, invite) => {
          cancelled.push(invite.request!.callId);
          invite.respond(487, 'Request Terminated');
        },
      },
    });
    endpoint = await createSipEndpoint({
      host: '127.0.0.1',
      udpPort: 0,
      onRequest: (req, ctx) => layer.handleRequest(req, ctx),
      onResponse: (res) => layer.handleResponse(res),
    });
    port = endpoint.address().udp!.port;
  });
  after(async () => {
    peer.socket.close();
    layer.close();
    await endpoint.close();
  });
  beforeEach(async () => {
    peer?.socket.close();
    peer = new Peer();
    await peer.open();
  });

  test('§17.2.2 non-INVITE: a retransmission gets the same final response; the TU sees the request once', async () => {
    let seen = 0;
    onRequest = (_req, tx) => {
      seen++;
      tx?.respond(200, 'OK');
    };
    const msg = request('OPTIONS', peer.port, 'z9hG4bK-ni-1');
    peer.send(msg, port);
    await peer.waitFor(/^SIP\/2\.0 200/);
    peer.send(msg, port);
    const [first, second] = await peer.waitFor(/^SIP\/2\.0 200/, 2);
    assert.equal(first, second, 'identical bytes, To tag included');
    assert.equal(seen, 1);
  });

  test('§17.2.1 INVITE: 100 Trying when the TU is slow; a non-2xx is retransmitted until the ACK', async () => {
    let tx: ServerTransaction | undefined;
    onRequest = (_req, t) => (tx = t);
    const invite = request('INVITE', peer.port, 'z9hG4bK-inv-1');
    peer.send(invite, port);
    await peer.waitFor(/^SIP\/2\.0 100 Trying/);
    assert.equal(tx?.state, 'proceeding');
    tx!.respond(486, 'Busy Here');
    const busy = await peer.waitFor(/^SIP\/2\.0 486/, 3); // the original and Timer G retransmissions
    assert.equal(tx!.state, 'completed');
    const toTag = /\r\nTo: [^\r]*;tag=([^;\r]+)/.exec(busy[0]!)?.[1];
    assert.ok(toTag);
    peer.send(
      request('ACK', peer.port, 'z9hG4bK-inv-1').replace(
        'To: <sip:service@127.0.0.1>',
        `To: <sip:service@127.0.0.1>;tag=${toTag}`,
      ),
      port,
    );
    await pause(5);
    assert.equal(tx!.state, 'confirmed');
    const afterAck = peer.count(/^SIP\/2\.0 486/);
    await pause(timers.t2 * 2);
    assert.equal(peer.count(/^SIP\/2\.0 486/), afterAck, 'no retransmission after the ACK');
  });

  test('§17.2.1 Timer H: without an ACK the transaction gives up', async () => {
    let tx: ServerTransaction | undefined;
    onRequest = (_req, t) => {
      tx = t;
      t?.respond(603, 'Decline');
    };
    peer.send(request('INVITE', peer.port, 'z9hG4bK-inv-h'), port);
    await peer.waitFor(/^SIP\/2\.0 603/);
    await pause(64 * timers.t1 + 50);
    assert.equal(tx?.state, 'terminated');
  });

  test('RFC 6026 Accepted: after a 2xx, INVITE retransmissions are absorbed and the ACK goes to the TU', async () => {
    const seen: string[] = [];
    onRequest = (req, t) => {
      seen.push(req.method);
      if (req.method === 'INVITE') t?.respond(200, 'OK', { Contact: '<sip:service@127.0.0.1>' });
    };
    const invite = request('INVITE', peer.port, 'z9hG4bK-inv-2xx');
    peer.send(invite, port);
    await peer.waitFor(/^SIP\/2\.0 200/);
    peer.send(invite, port);
    await pause(30);
    assert.equal(peer.count(/^SIP\/2\.0 200/), 1, 'the retransmitted INVITE is absorbed, not answered');
    // The ACK of a 2xx is a new transaction (new branch): it reaches the TU without a transaction.
    peer.send(request('ACK', peer.port, 'z9hG4bK-ack-2xx'), port);
    await pause(20);
    assert.deepEqual(seen, ['INVITE', 'ACK']);
  });

  test('after the final response a server transaction keeps its bytes only; a TU 2xx retransmission resends them', async () => {
    const txs: ServerTransaction[] = [];
    onRequest = (req, t) => {
      if (!t) return;
      txs.push(t);
      assert.equal(t.request, req, 'the request is there until the final response');
      if (req.method === 'INVITE') t.respond(180, 'Ringing');
      t.respond(200, 'OK', { Contact: '<sip:service@127.0.0.1>' });
    };
    peer.send(request('OPTIONS', peer.port, 'z9hG4bK-keep-1'), port);
    peer.send(request('INVITE', peer.port, 'z9hG4bK-keep-2'), port);
    await peer.waitFor(/^SIP\/2\.0 200/, 2);
    assert.equal(txs.length, 2);
    for (const t of txs) assert.equal(t.request, undefined, `${t.state}: the parsed request is released`);
    // RFC 6026 §7.1: in "Accepted" the TU retransmits its 2xx through the transaction: the same bytes go out.
    txs[1]!.respond(200, 'OK', { Contact: '<sip:service@127.0.0.1>' });
    const oks = await peer.waitFor(/^SIP\/2\.0 200 OK[\s\S]*CSeq: 1 INVITE/, 2);
    assert.equal(oks[0], oks[1]);
  });

  test('§9.2 CANCEL: 200 for the CANCEL, 487 for the INVITE; an unmatched CANCEL gets 481', async () => {
    onRequest = () => undefined; // the TU lets the INVITE ring
    peer.send(request('INVITE', peer.port, 'z9hG4bK-inv-c'), port);
    await peer.waitFor(/^SIP\/2\.0 100/);
    peer.send(request('CANCEL', peer.port, 'z9hG4bK-inv-c'), port);
    await peer.waitFor(/^SIP\/2\.0 200 OK\r\n[\s\S]*CSeq: 1 CANCEL/);
    await peer.waitFor(/^SIP\/2\.0 487 [\s\S]*CSeq: 1 INVITE/);
    assert.deepEqual(cancelled, ['tx-test-z9hG4bK-inv-c']);
    peer.send(request('CANCEL', peer.port, 'z9hG4bK-nothing'), port);
    await peer.waitFor(/^SIP\/2\.0 481 /);
  });

  test('§17.1.1 INVITE client: Timer A retransmits until a 1xx; a non-2xx is ACKed, also when retransmitted', async () => {
    const got: SipResponse[] = [];
    const inviteBytes = buildRequest('INVITE', `sip:callee@127.0.0.1:${peer.port}`, [
      { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-client-1` },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: '<sip:caller@voxgate.example>;tag=c1' },
      { name: 'To', value: '<sip:callee@example.com>' },
      { name: 'Call-ID', value: 'client-1' },
      { name: 'CSeq', value: '7 INVITE' },
      { name: 'Route', value: '<sip:proxy.example.com;lr>' },
    ]);
    const tx = layer.sendRequest(
      inviteBytes,
      (b) => endpoint.sendUdp(b, { address: '127.0.0.1', port: peer.port }),
      { reliable: false },
      {
        response: (r) => got.push(r),
        timeout: () => assert.fail('no timeout expected'),
      },
    );
    const invites = await peer.waitFor(/^INVITE /, 3);
    assert.equal(invites[0], invites[1], 'retransmissions are the same bytes');
    const received = parseMessage(Buffer.from(invites[0]!, 'latin1'), { datagram: true });
    const respond = (status: string) =>
      peer.send(
        [
          `SIP/2.0 ${status}`,
          ...received.headers
            .filter((h) => ['Via', 'From', 'Call-ID', 'CSeq'].includes(h.name))
            .map((h) => `${h.name}: ${h.value}`),
          'To: <sip:callee@example.com>;tag=callee1',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
        port,
      );
    respond('180 Ringing');
    await pause(10);
    const afterRinging = peer.count(/^INVITE /);
    await pause(timers.t1 * 4);
    assert.equal(peer.count(/^INVITE /), afterRinging, 'no retransmission in Proceeding');
    respond('486 Busy Here');
    const [ack] = await peer.waitFor(/^ACK /);
    const parsedAck = parseMessage(Buffer.from(ack!, 'latin1'), { datagram: true });
    assert.ok(parsedAck.kind === 'request');
    assert.equal(parsedAck.uri, `sip:callee@127.0.0.1:${peer.port}`);
    assert.equal(parsedAck.topVia, `SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-client-1`);
    assert.equal(header(parsedAck, 'To'), '<sip:callee@example.com>;tag=callee1');
    assert.deepEqual(parsedAck.cseq, { seq: 7, method: 'ACK' });
    assert.equal(header(parsedAck, 'Route'), '<sip:proxy.example.com;lr>');
    respond('486 Busy Here');
    await peer.waitFor(/^ACK /, 2);
    assert.deepEqual(
      got.map((r) => r.status),
      [180, 486],
      'the retransmitted 486 is not passed up',
    );
    assert.equal(tx.state, 'completed');
  });

  test('§17.1.2 non-INVITE client: Timer F reports a timeout when nobody answers', async () => {
    const bytes = buildRequest('OPTIONS', `sip:nobody@127.0.0.1:${peer.port}`, [
      { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-client-f` },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: '<sip:voxgate@voxgate.example>;tag=f1' },
      { name: 'To', value: '<sip:nobody@example.com>' },
      { name: 'Call-ID', value: 'client-f' },
      { name: 'CSeq', value: '1 OPTIONS' },
    ]);
    const timedOut = new Promise<void>((resolve) =>
      layer.sendRequest(
        bytes,
        (b) => endpoint.sendUdp(b, { address: '127.0.0.1', port: peer.port }),
        { reliable: false },
        {
          response: () => assert.fail('no response expected'),
          timeout: resolve,
        },
      ),
    );
    await timedOut;
    const sent = peer.count(/^OPTIONS /);
    // E doubles from T1 up to T2 within 64*T1: 20, 40, 80, 80, … — more than 5 sends, far fewer than 64.
    assert.ok(sent > 5 && sent < 30, `sent ${sent} times`);
  });
});
