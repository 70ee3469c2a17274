// A call that must be anchored whose media relay fails: the caller gets 503, never the other party's SDP,
// and the call's record blames the relay (hangupBy system, reason "media relay failed").
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { header, type SipRequest } from '../../src/sip/index.js';
import { endedEvent, phoneBook, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { startRelay, type RunningRelay } from '../helpers/relays.js';
import { sdp } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };

describe('media relay failure on an anchored call', () => {
  let gw: GatewayHarness;
  let relay: RunningRelay;
  const phones = phoneBook(() => gw);
  before(async () => {
    relay = await startRelay('voxgate');
    gw = await startGateway({ timers: FAST, relays: [{ host: '127.0.0.1', port: relay.ngPort }] });
  });
  afterEach(() => phones.reset());
  after(async () => {
    await gw?.close();
    await relay?.stop();
  });

  test("the relay dies before the callee's answer: 503 to the caller without SDP, the callee's 2xx ACKed and BYE'd, a system-ended record", async () => {
    const alice = await phones.phone('alice');
    const bob = await phones.phone('bob');
    const call = await alice.invite('bob', sdp(40000));
    const invite = (await bob.request('INVITE')) as SipRequest;
    assert.doesNotMatch(invite.body.toString('latin1'), /m=audio 40000 /, 'the offer was anchored');
    await relay.stop();
    // The callee's answer names its own media address, which an anchored call must never show the caller.
    bob.reply(invite, 200, 'OK', 'rf1', {}, sdp(40400, 7));
    const final = await call.final(8000);
    assert.equal(final.status, 503);
    assert.ok(header(final, 'Retry-After'), '503 with Retry-After (§21.5.4)');
    assert.equal(final.body.length, 0);
    assert.doesNotMatch(
      alice.received.map((m) => m.body.toString('latin1')).join('\n'),
      /m=audio 40400 /,
      "the callee's SDP never reached the caller",
    );
    const [ack, bye] = [await bob.request('ACK'), await bob.request('BYE')];
    assert.equal(ack.callId, invite.callId);
    assert.equal(bye.callId, invite.callId);
    const ended = await endedEvent(gw, 'relay-dies', (e) => e.callId === call.callId);
    assert.equal(ended.hangupBy, 'system');
    assert.equal(ended.reason, 'media relay failed');
    assert.equal(ended.sipCode, 503);
    assert.equal(ended.disposition, 'failed');
    assert.equal(gw.gateway.b2bua.activeCalls, 0);
  });
});
