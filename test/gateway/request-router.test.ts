import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { sipRequest, udpRequest } from '../helpers/udp.js';

describe('gateway request routing over real UDP', () => {
  let gw: GatewayHarness;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.close());

  test('§11.2: OPTIONS gets 200 with Allow, Accept and Supported', async () => {
    const reply = (await udpRequest(gw.port, sipRequest('OPTIONS', gw.port))).toString('latin1');
    assert.match(reply, /^SIP\/2\.0 200 OK\r\n/);
    assert.match(
      reply,
      /\r\nAllow: OPTIONS, REGISTER, INVITE, ACK, CANCEL, BYE, UPDATE, INFO, PRACK, NOTIFY, MESSAGE, REFER\r\n/,
    );
    assert.match(reply, /\r\nAccept: application\/sdp\r\n/);
    assert.match(reply, /\r\nSupported: path, outbound, gruu, 100rel, replaces\r\n/);
  });

  test('§22.3: an INVITE without credentials is challenged with 407 Proxy-Authenticate', async () => {
    const invite = sipRequest('INVITE', gw.port, ['Contact: <sip:u@127.0.0.1:9>']).replace(
      'From: <sip:probe@example.com>',
      'From: <sip:alice@acme.example>',
    );
    const reply = (await udpRequest(gw.port, invite)).toString('latin1');
    assert.match(reply, /^SIP\/2\.0 407 Proxy Authentication Required\r\n/);
    assert.match(reply, /\r\nProxy-Authenticate: Digest realm="acme\.example"/);
  });

  test('§19.1.1: an INVITE to a URI naming a host only (no user part) rings nobody: 404, not the host as a user', async () => {
    const invite = sipRequest('INVITE', gw.port, ['Contact: <sip:u@127.0.0.1:9>'])
      .replace(`INVITE sip:gateway@127.0.0.1:${gw.port} `, 'INVITE sip:acme.example ')
      .replace('From: <sip:probe@example.com>', 'From: <sip:alice@acme.example>');
    const reply = (await udpRequest(gw.port, invite)).toString('latin1');
    assert.match(reply, /^SIP\/2\.0 404 Not Found\r\n/);
  });

  test('§8.2.1: a known method the gateway does not serve gets 405, an unknown one 501, both with Allow', async () => {
    const subscribe = (await udpRequest(gw.port, sipRequest('SUBSCRIBE', gw.port))).toString('latin1');
    assert.match(subscribe, /^SIP\/2\.0 405 Method Not Allowed\r\n/);
    assert.match(subscribe, /\r\nAllow: OPTIONS, REGISTER, INVITE/);
    const unknown = (await udpRequest(gw.port, sipRequest('FROB', gw.port))).toString('latin1');
    assert.match(unknown, /^SIP\/2\.0 501 Not Implemented\r\n/);
  });

  test('§8.2.2: an OPTIONS with an unknown URI scheme or Require is refused', async () => {
    const unk = sipRequest('OPTIONS', gw.port).replace(/^OPTIONS sip:/, 'OPTIONS soap.beep:');
    assert.match((await udpRequest(gw.port, unk)).toString('latin1'), /^SIP\/2\.0 416 /);
    const req = (
      await udpRequest(gw.port, sipRequest('OPTIONS', gw.port, ['Require: nothing-known']))
    ).toString('latin1');
    assert.match(req, /^SIP\/2\.0 420 Bad Extension\r\n/);
    assert.match(req, /\r\nUnsupported: nothing-known\r\n/);
  });

  test('while draining, new requests get 503 with Retry-After (§21.5.4)', async () => {
    gw.draining.value = true;
    try {
      const reply = (await udpRequest(gw.port, sipRequest('OPTIONS', gw.port))).toString('latin1');
      assert.match(reply, /^SIP\/2\.0 503 Service Unavailable\r\n/);
      assert.match(reply, /\r\nRetry-After: \d+\r\n/);
    } finally {
      gw.draining.value = false;
    }
  });
});
