// A dialog whose remote target or route set could not be used as a Request-URI or Route: found by the socket
// fuzzer, the BYE built on it threw out of the call's teardown and stopped the process. Such a dialog is now
// refused when the message that would create it arrives.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest } from '../../src/sip/index.js';
import { phoneBook, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { sipRequest, udpRequest } from '../helpers/udp.js';

const FAST = { t1: 50, t2: 400, t4: 500 };

describe('Contact and Record-Route that cannot be a dialog target', () => {
  let gw: GatewayHarness;
  const phones = phoneBook(() => gw);
  before(async () => {
    gw = await startGateway({ timers: FAST, maxDurationMs: 1000 });
  });
  afterEach(() => phones.reset());
  after(() => gw.close());

  for (const [what, extra] of [
    ['Contact: *', ['Contact: *']],
    [
      'a Record-Route URI that does not parse',
      ['Contact: <sip:u@127.0.0.1:9>', 'Record-Route: <sip::5060;lr>'],
    ],
    ['a Record-Route of *', ['Contact: <sip:u@127.0.0.1:9>', 'Record-Route: *']],
  ] as const) {
    test(`an INVITE with ${what} is refused 400 before anything else`, async () => {
      const reply = (await udpRequest(gw.port, sipRequest('INVITE', gw.port, [...extra]))).toString('latin1');
      assert.match(reply, /^SIP\/2\.0 400 /);
    });
  }

  test("a callee's 2xx whose Record-Route cannot be used: the call fails cleanly and the gateway lives on", async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const call = await alice.invite('bob');
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'ut1', { 'Record-Route': '<sip::5060;lr>' });
    const final = await call.final();
    assert.ok(final.status >= 500, `the caller gets a server error, got ${final.status}`);
    // Past the maximum call duration a teardown would have run: the gateway still answers.
    await new Promise((r) => setTimeout(r, 1500));
    const options = (await udpRequest(gw.port, sipRequest('OPTIONS', gw.port))).toString('latin1');
    assert.match(options, /^SIP\/2\.0 200 OK\r\n/);
    assert.equal(gw.gateway.b2bua.activeCalls, 0);
  });

  test('a re-INVITE whose Contact cannot be a target keeps the old one: the BYE still goes out', async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const call = await alice.invite('bob');
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'ut2');
    assert.equal((await call.final()).status, 200);
    call.ack();
    // The callee's re-INVITE names * as its new target.
    const reinvite = bob.inDialogAsCallee(invite, 'ut2', 'INVITE', 2).toString('latin1');
    bob.send(Buffer.from(reinvite.replace(/^Contact: .*$/m, 'Contact: *'), 'latin1'));
    call.send('BYE');
    const bye = await bob.request('BYE');
    assert.equal(bye.callId, invite.callId);
  });
});
