// Overload (RFC 3261 §21.5.4): while the gateway does not admit new work (the sip-gateway module's heap
// pressure), new requests outside a dialog — INVITE, REGISTER, OPTIONS — are answered 503 with Retry-After over
// real UDP and reach neither the registrar nor the B2BUA, while a call already up still ends with its BYE and a
// CANCEL still stops a ringing call; once admitted again, the same requests are served.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildRequest, header, type SipRequest } from '../../src/sip/index.js';
import { phoneBook, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { sdp, type SipPhone } from '../helpers/sip-phone.js';

/** An out-of-dialog request from `phone` to the gateway; its Call-ID. */
function sendFresh(phone: SipPhone, method: string, uri: string): string {
  const callId = randomBytes(8).toString('hex');
  phone.send(
    buildRequest(method, uri, [
      {
        name: 'Via',
        value: `SIP/2.0/UDP 127.0.0.1:${phone.port};branch=z9hG4bK${randomBytes(6).toString('hex')}`,
      },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `<sip:${phone.user}@acme.example>;tag=${randomBytes(4).toString('hex')}` },
      // REGISTER: the To is the address of record (§10.2).
      { name: 'To', value: method === 'REGISTER' ? `<sip:${phone.user}@acme.example>` : `<${uri}>` },
      { name: 'Call-ID', value: callId },
      { name: 'CSeq', value: `1 ${method}` },
      { name: 'Contact', value: phone.contact },
    ]),
  );
  return callId;
}

describe('overload: new requests refused with 503 and Retry-After, dialogs in progress go on', () => {
  let gw: GatewayHarness;
  const admit = { value: true };
  const { phone, reset } = phoneBook(() => gw);
  before(async () => {
    gw = await startGateway({ timers: { t1: 50, t2: 400, t4: 500 }, admitting: () => admit.value });
  });
  afterEach(() => {
    admit.value = true;
    return reset();
  });
  after(() => gw.close());

  test('INVITE, REGISTER and OPTIONS get 503 with Retry-After and are not kept; served again once admitted', async () => {
    const alice = await phone('alice');
    await phone('bob');
    const before = gw.gateway.layer.refusedOverload;
    const kept = gw.gateway.layer.size.server;
    admit.value = false;
    for (const [method, uri] of [
      ['INVITE', 'sip:bob@acme.example'],
      ['REGISTER', 'sip:acme.example'],
      ['OPTIONS', 'sip:acme.example'],
    ] as const) {
      const refused = await alice.response(sendFresh(alice, method, uri), () => true, method);
      assert.equal(refused.status, 503, method);
      assert.match(header(refused, 'Retry-After') ?? '', /^\d+$/, `${method}: Retry-After`);
    }
    assert.equal(gw.gateway.layer.refusedOverload - before, 3);
    assert.ok(gw.gateway.layer.size.server <= kept, 'nothing kept for the refused requests');
    admit.value = true;
    const options = await alice.response(sendFresh(alice, 'OPTIONS', 'sip:acme.example'), () => true);
    assert.equal(options.status, 200);
    assert.equal((await alice.register()).status, 200, 'the registrar takes REGISTER again');
  });

  test('a call already up ends with its BYE, and a ringing call is cancelled, while new requests are refused', async () => {
    const alice = await phone('alice');
    const bob = await phone('bob');
    const { call: up } = await alice.answeredCall(bob, sdp(41000), sdp(42000), 'bob-up');
    const ringing = await alice.invite('bob', sdp(43000));
    const second = (await bob.request('INVITE')) as SipRequest;
    bob.reply(second, 180, 'Ringing', 'bob-ringing');
    await alice.response(ringing.callId, 180);

    const before = gw.gateway.layer.refusedOverload;
    admit.value = false;
    up.send('BYE');
    await bob.request('BYE');
    assert.equal(
      (await alice.response(up.callId, 200, 'BYE')).status,
      200,
      'the BYE within the dialog went on',
    );
    ringing.cancel();
    await alice.response(ringing.callId, 200, 'CANCEL');
    await bob.request('CANCEL');
    assert.equal(gw.gateway.layer.refusedOverload - before, 0, 'neither was refused');
  });
});
