// The store goes away under a running gateway: requests that need it are answered 503 with Retry-After
// (RFC 3261 §21.5.4), not 500, and the gateway keeps answering what does not need it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway-harness.js';
import { sipRequest, udpRequest } from '../helpers/udp.js';

test('store unavailable: REGISTER and INVITE get 503 with Retry-After; OPTIONS still 200', async () => {
  const gw = await startGateway();
  try {
    await gw.db.close();
    // A REGISTER without credentials already needs the store (its challenges are the realm's digest algorithms:
    // docs/api.md), so the 503 comes at once instead of a 401 no answer could pass.
    const challenge = (
      await udpRequest(
        gw.port,
        sipRequest('REGISTER', gw.port).replace(/\r\nTo: [^\r]*/, '\r\nTo: <sip:alice@acme.example>'),
      )
    ).toString('latin1');
    assert.match(challenge, /^SIP\/2\.0 503 /);
    assert.match(challenge, /\r\nRetry-After: \d+\r\n/);
    const options = (await udpRequest(gw.port, sipRequest('OPTIONS', gw.port))).toString('latin1');
    assert.match(options, /^SIP\/2\.0 200 OK\r\n/);
    assert.ok(
      gw.warnings.some((w) => w.message === 'SIP request handling failed'),
      'the failure is logged',
    );
  } finally {
    await gw.gateway.close();
    await gw.state.close();
  }
});
