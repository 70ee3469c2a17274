import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { registrationChannel, type RegistrationEvent } from '../../src/gateway/registrar.js';
import type { SipRequest } from '../../src/sip/index.js';
import type { Binding } from '../../src/store/shared-state/index.js';
import { startGateway, HARNESS_USERS, type GatewayHarness } from '../helpers/gateway-harness.js';
import { SipPhone } from '../helpers/sip-phone.js';

describe('registration events and the keepalive of bindings accepted before a restart', () => {
  let gw: GatewayHarness;
  const events: RegistrationEvent[] = [];
  const onEvent = (m: unknown) => events.push(m as RegistrationEvent);
  const phones: SipPhone[] = [];
  before(async () => {
    gw = await startGateway({ keepaliveMs: 60_000 });
    subscribe(registrationChannel.name as string, onEvent);
  });
  after(async () => {
    unsubscribe(registrationChannel.name as string, onEvent);
    await gw.close();
  });
  afterEach(async () => {
    for (const p of phones.splice(0)) p.close();
    for (const { aor } of await gw.state.registrations.listByTenant(gw.tenantId))
      await gw.state.registrations.removeAll(aor);
    events.length = 0;
  });
  const self = () => `127.0.0.1:${gw.port}`;
  const binding = (phone: SipPhone, extra: Partial<Binding> = {}): Binding => ({
    contact: `sip:${phone.user}@127.0.0.1:${phone.port}`,
    expiresAt: Date.now() + 600_000,
    source: { address: '127.0.0.1', port: phone.port },
    transport: 'udp',
    callId: 'before-restart',
    cseq: 1,
    tenantId: gw.tenantId,
    gateway: self(),
    reach: 'source',
    ...extra,
  });

  test('registered, refreshed, unregistered: one event each, with user, contact, source and where calls go', async () => {
    const phone = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
    phones.push(phone);
    await phone.register(600);
    await phone.register(600);
    await phone.register(0);
    assert.deepEqual(
      events.map((e) => e.kind),
      ['registered', 'refreshed', 'unregistered'],
    );
    const [added] = events;
    assert.equal(added?.aor, 'sip:alice@acme.example');
    assert.equal(added?.contact, `sip:alice@127.0.0.1:${phone.port}`);
    assert.equal(added?.source, `127.0.0.1:${phone.port}`);
    assert.equal(added?.transport, 'udp');
    assert.equal(added?.reach, 'contact', 'Via and Contact are the source: not behind NAT');
    assert.equal(added?.nat, 'auto');
    assert.deepEqual(added?.natReasons, []);
    assert.equal(events[2]?.reason, 'expires 0');
  });

  test('restore: the bindings shared state holds for this replica are pinged, those of another replica are not', async () => {
    // A gateway built from the same shared state without these bindings in its tracked set, as after a restart:
    // they were put there by "the previous process".
    const mine = await SipPhone.open('bob', HARNESS_USERS.bob, gw.port);
    const theirs = await SipPhone.open('carol', HARNESS_USERS.carol, gw.port);
    phones.push(mine, theirs);
    await gw.state.registrations.put('sip:bob@acme.example', binding(mine));
    await gw.state.registrations.put(
      'sip:carol@acme.example',
      binding(theirs, { gateway: '192.0.2.99:5060' }),
    );
    const keepalive = gw.gateway.keepalive!;
    const before = keepalive.tracked;
    assert.equal(await keepalive.restore(), 1);
    assert.equal(keepalive.tracked, before + 1);
    const round = keepalive.pingAll();
    const ping = (await mine.request('OPTIONS')) as SipRequest;
    assert.equal(ping.uri, `sip:bob@127.0.0.1:${mine.port}`);
    mine.reply(ping, 200, 'OK', 'ka');
    await round;
    assert.equal(theirs.received.length, 0, 'a binding of another replica is not pinged from here');
    assert.equal((await gw.state.registrations.list('sip:bob@acme.example')).length, 1);
  });

  test('a tracked binding whose time ran out is reported expired by the next round', async () => {
    const phone = await SipPhone.open('alice', HARNESS_USERS.alice, gw.port);
    phones.push(phone);
    const b = binding(phone, { expiresAt: Date.now() + 100 });
    await gw.state.registrations.put('sip:alice@acme.example', b);
    gw.gateway.keepalive!.track('sip:alice@acme.example', b);
    await new Promise((r) => setTimeout(r, 150));
    await gw.gateway.keepalive!.pingAll();
    const expired = events.find((e) => e.kind === 'expired');
    assert.equal(expired?.aor, 'sip:alice@acme.example');
    assert.equal(expired?.contact, b.contact);
    assert.equal(phone.received.length, 0, 'an expired binding is not pinged');
  });
});
