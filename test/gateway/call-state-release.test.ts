// What a finished call leaves behind. RFC 6026 keeps an answered INVITE client transaction for Timer M (64*T1)
// only to re-ACK retransmitted 2xx; a B2BUA at a thousand calls per second would otherwise hold some 30,000
// finished calls in memory. Once the call has ended, its callee-side INVITE transaction goes, and the BYE
// transaction after Timer K; the server transactions stay for their timers but hold no call state.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, HARNESS_USERS, type GatewayHarness } from '../helpers/gateway-harness.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';

// Timer M would be 64*T1 = 3.2 s here; Timer K (T4) 500 ms.
const FAST = { t1: 50, t2: 400, t4: 500 };

describe('a finished call releases its client transactions', () => {
  let gw: GatewayHarness;
  before(async () => {
    gw = await startGateway({ timers: FAST });
  });
  after(() => gw.close());

  test('after the BYE, no client transaction is left well before Timer M would fire', async () => {
    const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
    const bob = await SipPhone.open('bob', HARNESS_USERS.bob, gw.port);
    try {
      assert.equal((await alice.register()).status, 200);
      assert.equal((await bob.register()).status, 200);
      const { call } = await alice.answeredCall(bob, sdp(41000), sdp(42000), 'bobtag');
      assert.equal(gw.gateway.layer.size.client, 1, 'the answered INVITE is in Accepted (Timer M)');
      call.send('BYE');
      bob.reply(await bob.request('BYE'), 200, 'OK', 'bobtag');
      await alice.response(call.callId, 200, 'BYE');
      // The BYE's client transaction waits Timer K (500 ms); the INVITE's would wait 3.2 s.
      const deadline = Date.now() + 1500;
      while (gw.gateway.layer.size.client > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(gw.gateway.layer.size.client, 0);
      assert.ok(gw.gateway.layer.size.server > 0, 'server transactions still absorb retransmissions');
    } finally {
      alice.close();
      bob.close();
    }
  });
});
