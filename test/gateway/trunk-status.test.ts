// Each gateway replica shares its view of the carriers in shared state (the API's trunk `health`): the OPTIONS
// check's outcome and, for trunks with `register` set, the outbound registration.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTrunkRepository } from '../../src/store/index.js';
import { startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { SipPhone } from '../helpers/sip-phone.js';

const FAST = { t1: 20, t2: 160, t4: 200 };

describe('trunk status in shared state', () => {
  let gw: GatewayHarness;
  let carrier: SipPhone;
  before(async () => {
    gw = await startGateway({ timers: FAST, trunkCheckMs: 200 });
    carrier = await SipPhone.open('carrier', '', gw.port, 'carrier.example', '127.0.0.2');
  });
  after(async () => {
    carrier.close();
    await gw.close();
  });

  test('reachable while the carrier answers OPTIONS, unreachable once it stops (Timer F)', async () => {
    const trunk = await createTrunkRepository(gw.db).create({
      tenantId: gw.tenantId,
      name: 'checked',
      host: '127.0.0.2',
      port: carrier.port,
    });
    const status = async () => (await gw.state.trunkStatus.list([trunk.id])).get(trunk.id)?.[0];
    carrier.reply(await carrier.request('OPTIONS'), 200, 'OK', 'c1');
    const deadline = Date.now() + 3000;
    while ((await status())?.reachable !== true && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const up = await status();
    assert.equal(up?.reachable, true);
    assert.match(up?.gateway ?? '', /^127\.0\.0\.1:\d+$/, 'the reporting replica by its SIP address');
    // From now on nothing answers: the next check times out after 64*T1 = 1.28 s.
    const until = Date.now() + 5000;
    while ((await status())?.reachable !== false && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal((await status())?.reachable, false);
  });
});
