import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from '../../src/observability/index.js';
import { collectCallMetrics } from '../../src/platform/call-metrics.js';
import type { SipRequest } from '../../src/sip/index.js';
import { startGateway, HARNESS_USERS, type GatewayHarness } from '../helpers/gateway-harness.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';

describe('call metrics from the gateway diagnostics channels', () => {
  let gw: GatewayHarness;
  let registry: Registry;
  let stop: () => void;
  before(async () => {
    registry = new Registry();
    stop = collectCallMetrics(registry);
    gw = await startGateway({ timers: { t1: 50, t2: 400, t4: 500 } });
  });
  after(async () => {
    stop();
    await gw.close();
  });

  test('active calls, calls by disposition, post-dial delay, answer time, refusals, auth outcomes', async () => {
    const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
    const bob = await SipPhone.open('bob', HARNESS_USERS.bob, gw.port);
    try {
      await alice.register();
      await bob.register();
      const call = await alice.invite('bob');
      const invite = (await bob.request('INVITE')) as SipRequest;
      bob.reply(invite, 180, 'Ringing', 'm1');
      await alice.response(call.callId, 180);
      bob.reply(invite, 200, 'OK', 'm1', {}, sdp(42000));
      await call.final();
      call.ack();
      let text = await registry.metrics();
      assert.match(text, /^voxgate_calls_active 1$/m);
      assert.match(text, /^voxgate_call_post_dial_delay_seconds_count 1$/m);
      assert.match(text, /^voxgate_call_answer_seconds_count 1$/m);
      call.send('BYE');
      bob.reply(await bob.request('BYE'), 200, 'OK', 'm1');
      await alice.response(call.callId, 200, 'BYE');
      const offline = await alice.invite('carol');
      assert.equal((await offline.final()).status, 480);
      await new Promise((r) => setTimeout(r, 100));
      text = await registry.metrics();
      assert.match(text, /^voxgate_calls_active 0$/m);
      assert.match(text, /^voxgate_calls_total\{disposition="answered"\} 1$/m);
      assert.match(text, /^voxgate_calls_refused_total\{reason="unavailable",code="480"\} 1$/m);
      assert.match(text, /^voxgate_sip_auth_total\{as="registrar",outcome="ok"\} 2$/m);
      assert.match(text, /^voxgate_sip_auth_total\{as="proxy",outcome="ok"\} 2$/m);
      assert.match(text, /^voxgate_sip_auth_total\{as="proxy",outcome="challenged"\} 2$/m);
    } finally {
      alice.close();
      bob.close();
    }
  });
});
