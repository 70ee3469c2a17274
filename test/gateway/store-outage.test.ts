// The store goes away under a running gateway: requests that need it are answered 503 with Retry-After
// (RFC 3261 §21.5.4), not 500, and the gateway keeps answering what does not need it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HARNESS_USERS, startGateway } from '../helpers/gateway-harness.js';
import { SipPhone } from '../helpers/sip-phone.js';
import { sipRequest, udpRequest } from '../helpers/udp.js';

test('store unavailable: REGISTER and INVITE get 503 with Retry-After; OPTIONS still 200', async () => {
  const gw = await startGateway();
  const phone = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
  try {
    await gw.db.close();
    const registered = await phone.register();
    assert.equal(registered.status, 503);
    assert.ok(
      registered.headers.some((h) => h.name === 'Retry-After'),
      'Retry-After',
    );
    const options = (await udpRequest(gw.port, sipRequest('OPTIONS', gw.port))).toString('latin1');
    assert.match(options, /^SIP\/2\.0 200 OK\r\n/);
    assert.ok(
      gw.warnings.some((w) => w.message === 'SIP request handling failed'),
      'the failure is logged',
    );
  } finally {
    phone.close();
    await gw.gateway.close();
    await gw.state.close();
  }
});
