// A route may keep its calls' media off the relays (issue: "a route may set media bypass"): with a relay in
// rotation, a call on an anchored route reaches the carrier with the relay's address and port, a call on a
// bypass route with the caller's SDP unchanged.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest } from '../../src/sip/index.js';
import { createRouteRepository, createTrunkRepository } from '../../src/store/index.js';
import { startGateway, HARNESS_USERS, type GatewayHarness } from '../helpers/gateway-harness.js';
import { startRelay, type RunningRelay } from '../helpers/relays.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };

describe('media bypass per route', () => {
  let relay: RunningRelay;
  let gw: GatewayHarness;
  let carrier: SipPhone;
  before(async () => {
    relay = await startRelay('voxgate');
    gw = await startGateway({ timers: FAST, relays: [{ host: '127.0.0.1', port: relay.ngPort }] });
    carrier = await SipPhone.open('carrier', '', gw.port, 'carrier.example', '127.0.0.2');
    const trunk = await createTrunkRepository(gw.db).create({
      tenantId: gw.tenantId,
      name: 'carrier',
      host: '127.0.0.2',
      port: carrier.port,
    });
    const routes = createRouteRepository(gw.db);
    await routes.create({ tenantId: gw.tenantId, name: 'anchored', pattern: '1\\d+', trunkIds: [trunk.id] });
    const bypass = await routes.create({
      tenantId: gw.tenantId,
      name: 'bypass',
      pattern: '2\\d+',
      trunkIds: [trunk.id],
      mediaBypass: true,
    });
    assert.equal(bypass.mediaBypass, true);
  });
  after(async () => {
    carrier.close();
    await gw.close();
    await relay.stop();
  });

  for (const [route, dialled, anchored] of [
    ['anchored', '1555', true],
    ['bypass', '2555', false],
  ] as const) {
    test(`${route} route: the carrier gets ${anchored ? "the relay's" : "the caller's own"} media address`, async () => {
      const alice = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
      try {
        const call = await alice.invite(dialled, sdp(41500));
        const invite = (await carrier.request('INVITE')) as SipRequest;
        const port = Number(/^m=audio (\d+)/m.exec(invite.body.toString())?.[1]);
        if (anchored) assert.notEqual(port, 41500, 'rewritten to a relay port');
        else assert.equal(port, 41500, 'passed through unchanged');
        carrier.reply(invite, 486, 'Busy Here', `c-${route}`);
        assert.equal((await call.final()).status, 486);
        call.ack();
      } finally {
        alice.close();
      }
    });
  }
});
