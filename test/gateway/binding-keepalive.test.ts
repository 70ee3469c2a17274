import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { registrationChannel, type RegistrationEvent } from '../../src/gateway/registrar.js';
import type { SipRequest } from '../../src/sip/index.js';
import { startGateway, HARNESS_USERS, type GatewayHarness } from '../helpers/gateway-harness.js';
import { SipPhone } from '../helpers/sip-phone.js';

describe('NAT keepalive of registrations (OPTIONS pings over UDP)', () => {
  let gw: GatewayHarness;
  before(async () => {
    // Timer F = 64*T1 = 1.28 s: a UA that does not answer is dropped within a couple of seconds.
    gw = await startGateway({ timers: { t1: 20, t2: 160, t4: 500 }, keepaliveMs: 60_000 });
  });
  after(() => gw.close());

  test('a UA that answers the OPTIONS ping keeps its binding; one that is gone loses it', async () => {
    const alive = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
    const gone = await SipPhone.open('bob', HARNESS_USERS.bob, gw.port);
    const events: RegistrationEvent[] = [];
    const onEvent = (m: unknown) => events.push(m as RegistrationEvent);
    subscribe(registrationChannel.name as string, onEvent);
    try {
      await alive.register();
      await gone.register();
      assert.equal(gw.gateway.keepalive?.tracked, 2);
      gone.close();
      const round = gw.gateway.keepalive!.pingAll();
      const ping = (await alive.request('OPTIONS')) as SipRequest;
      assert.equal(ping.uri, `sip:alice@127.0.0.1:${alive.port}`, 'the ping goes to the registered contact');
      alive.reply(ping, 200, 'OK', 'ka');
      await round;
      assert.equal((await gw.state.registrations.list('sip:alice@acme.example')).length, 1);
      assert.equal((await gw.state.registrations.list('sip:bob@acme.example')).length, 0);
      assert.equal(gw.gateway.keepalive?.tracked, 1);
      assert.ok(
        events.some(
          (e) =>
            e.kind === 'unregistered' &&
            e.aor === 'sip:bob@acme.example' &&
            e.reason === 'no response to OPTIONS',
        ),
        'the drop is published (and logged) as an unregistration with its reason',
      );
    } finally {
      unsubscribe(registrationChannel.name as string, onEvent);
      alive.close();
    }
  });

  test('un-registering stops the pings', async () => {
    const phone = await SipPhone.open('carol', HARNESS_USERS.carol, gw.port);
    try {
      const before = gw.gateway.keepalive!.tracked;
      await phone.register();
      assert.equal(gw.gateway.keepalive?.tracked, before + 1);
      await phone.register(0);
      assert.equal(gw.gateway.keepalive?.tracked, before);
    } finally {
      phone.close();
    }
  });
});
