// §8.1.3.4 redirects across the B2BUA: a callee's 3xx is followed to a user of the caller's own tenant, and
// never to a host the Contact names (the gateway would relay calls anywhere a peer points it).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest } from '../../src/sip/index.js';
import { phoneBook, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { sdp } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };

describe('3xx redirects (§8.1.3.4)', () => {
  let gw: GatewayHarness;
  const { phone, reset } = phoneBook(() => gw);
  before(async () => {
    gw = await startGateway({ timers: FAST });
  });
  afterEach(() => reset());
  after(() => gw.close());

  test("bob's phone forwards to carol with 302: carol rings and answers; alice sees only the answer", async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const carol = await phone('carol');
    const call = await alice.invite('bob', sdp(41000));
    const toBob = (await bob.request('INVITE')) as SipRequest;
    bob.reply(toBob, 302, 'Moved Temporarily', 'bt', { Contact: '<sip:carol@acme.example>' });
    await bob.request('ACK'); // §17.1.1.3: the B2BUA acknowledges the 3xx on that leg
    const toCarol = (await carol.request('INVITE')) as SipRequest;
    assert.notEqual(toCarol.callId, toBob.callId, 'a new leg');
    carol.reply(toCarol, 200, 'OK', 'ct', {}, sdp(42000));
    const ok = await call.final();
    assert.equal(ok.status, 200);
    call.ack();
    await carol.request('ACK');
    call.send('BYE');
    carol.reply(await carol.request('BYE'), 200, 'OK', 'ct');
    assert.equal((await alice.response(call.callId, 200, 'BYE')).status, 200);
  });

  test('a 302 to a host outside the tenant is not followed: the caller gets the redirect as the answer', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const call = await alice.invite('bob', sdp(41002));
    const toBob = (await bob.request('INVITE')) as SipRequest;
    bob.reply(toBob, 302, 'Moved Temporarily', 'bt2', { Contact: '<sip:mallory@203.0.113.9:5060>' });
    const final = await call.final();
    assert.equal(final.status, 302);
    call.ack();
  });
});
