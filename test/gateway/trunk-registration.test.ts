// Outbound registration to carriers (RFC 3261 §10.2): a trunk with `register` set is registered with its
// credentials, refreshed before the granted expiration, retried after a failure and unregistered when the
// flag is cleared. The carrier's registrar is a FakeCarrier on 127.0.0.2 whose challenges are the repo's digest
// server's, over real sockets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  computeHa1,
  createDigestServer,
  header,
  headerValues,
  type SipRequest,
} from '../../src/sip/index.js';
import {
  createTrunkRepository,
  type Trunk,
  type TrunkInput,
  type TrunkPatch,
  type TrunkRepository,
} from '../../src/store/index.js';
import { FakeCarrier } from '../helpers/fake-carrier.js';
import { HARNESS_USERS, startGateway, type GatewayHarness } from '../helpers/gateway-harness.js';
import { assignNumber } from '../helpers/harness-numbers.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';

const FAST = { t1: 50, t2: 400, t4: 500 };
const REALM = 'carrier.example';

describe('outbound registration of trunks (§10.2)', () => {
  let gw: GatewayHarness;
  let carrier: FakeCarrier;
  let trunks: TrunkRepository;
  const digest = createDigestServer({
    realm: REALM,
    secret: randomBytes(32),
    algorithms: ['SHA-256', 'MD5'],
  });
  const ha1 = (algorithm: 'MD5' | 'SHA-256', user: string) =>
    user === 'acme-reg' ? computeHa1(algorithm, 'acme-reg', REALM, 'reg-secret') : undefined;

  before(async () => {
    gw = await startGateway({
      timers: FAST,
      trunkRegistration: { expiresSec: 600, syncMs: 60_000, retryMs: 300 },
    });
    carrier = await FakeCarrier.open(gw.port, '127.0.0.2');
    trunks = createTrunkRepository(gw.db);
  });
  after(async () => {
    carrier.close();
    await gw.close();
  });

  /** Challenges the REGISTER with 401 and returns the request that answers the challenge, unchecked. */
  async function challenged(first: SipRequest): Promise<SipRequest> {
    carrier.reply(first, 401, { headers: { 'WWW-Authenticate': digest.challenges()[0]! } });
    return carrier.next('REGISTER');
  }

  /** Challenges the next REGISTER with 401 and returns the answered one, checked. */
  async function authenticated(): Promise<SipRequest> {
    const first = await carrier.next('REGISTER');
    assert.equal(headerValues(first, 'Authorization').length, 0);
    const second = await challenged(first);
    assert.equal(second.callId, first.callId, '§10.2: the same Call-ID');
    assert.equal(second.cseq.seq, first.cseq.seq + 1, '§10.2: CSeq incremented');
    const verdict = await digest.verify(
      'REGISTER',
      headerValues(second, 'Authorization'),
      (user, algorithm) => ha1(algorithm, user),
    );
    assert.ok(verdict.ok, 'the trunk credentials answer the challenge');
    return second;
  }

  /** A trunk to the carrier that registers as acme-reg; `fields` add to or replace these. */
  function registeringTrunk(name: string, fields: Partial<TrunkInput> = {}): Promise<Trunk> {
    return trunks.create({
      tenantId: gw.tenantId,
      name,
      host: '127.0.0.2',
      port: carrier.port,
      credentials: { username: 'acme-reg', password: 'reg-secret' },
      register: true,
      ...fields,
    });
  }

  /** Ends the trunk's registration by `patch`, answers the REGISTER that removes it and returns that REGISTER. */
  async function deregister(trunk: Trunk, patch: TrunkPatch = { register: false }): Promise<SipRequest> {
    await trunks.update(gw.tenantId, trunk.id, patch);
    const sync = gw.gateway.trunkRegistrar!.sync();
    const removal = await carrier.next('REGISTER');
    carrier.reply(removal, 200);
    await sync;
    return removal;
  }

  test('a trunk with register set is registered, and refreshed within the granted expiration', async () => {
    const trunk = await registeringTrunk('registered-carrier');
    await gw.gateway.trunkRegistrar!.sync();
    const register = await authenticated();
    assert.match(header(register, 'To') ?? '', /^<sip:acme-reg@127\.0\.0\.2>$/);
    assert.equal(header(register, 'Expires'), '600');
    const contact = header(register, 'Contact') ?? '';
    assert.match(
      contact,
      new RegExp(`^<sip:acme-reg@127\\.0\\.0\\.1:${gw.port}>$`),
      'our advertised address',
    );
    // The carrier grants 3 s: the refresh comes at a third of it, with the same Call-ID.
    carrier.reply(register, 200, { headers: { Contact: `${contact};expires=3` } });
    const refresh = await carrier.next('REGISTER', 3000);
    assert.equal(refresh.callId, register.callId);
    assert.ok(refresh.cseq.seq > register.cseq.seq);
    assert.deepEqual(gw.gateway.trunkRegistrar!.status(trunk.id)?.state, 'registered');
    carrier.reply(refresh, 200, { headers: { Contact: `${contact};expires=600` } });

    // Clearing the flag unregisters (§10.2.2: expires 0).
    const removal = await deregister(trunk);
    assert.equal(header(removal, 'Expires'), '0');
    assert.equal(gw.gateway.trunkRegistrar!.status(trunk.id), undefined);
    await trunks.delete(gw.tenantId, trunk.id);
  });

  test('423 Interval Too Brief: registered again with the Min-Expires asked for (§10.2.8)', async () => {
    const trunk = await registeringTrunk('min-expires-carrier');
    await gw.gateway.trunkRegistrar!.sync();
    const register = await authenticated();
    carrier.reply(register, 423, { reason: 'Interval Too Brief', headers: { 'Min-Expires': '1200' } });
    const again = await carrier.next('REGISTER');
    assert.equal(header(again, 'Expires'), '1200');
    carrier.reply(again, 200, { headers: { Expires: '1200' } });
    await waitUntil(() => gw.gateway.trunkRegistrar!.status(trunk.id)?.state === 'registered');
    await deregister(trunk, { enabled: false });
    await trunks.delete(gw.tenantId, trunk.id);
  });

  test('wrong credentials: the registration fails with the carrier code, and is tried again later', async () => {
    const trunk = await registeringTrunk('wrong-password-carrier', {
      credentials: { username: 'acme-reg', password: 'not-the-secret' },
    });
    await gw.gateway.trunkRegistrar!.sync();
    const first = await carrier.next('REGISTER');
    const answered = await challenged(first);
    const verdict = await digest.verify(
      'REGISTER',
      headerValues(answered, 'Authorization'),
      (user, algorithm) => ha1(algorithm, user),
    );
    assert.equal(verdict.ok, false);
    // Not stale: a second challenge means the credentials are wrong; no third attempt in this round.
    carrier.reply(answered, 401, { headers: { 'WWW-Authenticate': digest.challenges()[0]! } });
    await waitUntil(() => gw.gateway.trunkRegistrar!.status(trunk.id)?.state === 'failed');
    assert.equal(gw.gateway.trunkRegistrar!.status(trunk.id)?.code, 401);
    assert.ok(
      gw.warnings.some((w) => w.message === 'trunk registration failed' && w.detail.trunkId === trunk.id),
      'the failure is logged',
    );
    // Retried after retryMs (300 ms here).
    const retry = await carrier.next('REGISTER', 3000);
    assert.equal(retry.callId, first.callId);
    await trunks.delete(gw.tenantId, trunk.id);
    await gw.gateway.trunkRegistrar!.sync();
  });

  test('a call the carrier sends to our registered Contact rings the user of the DID in its To', async () => {
    const trunk = await registeringTrunk('registered-inbound', { inboundCidrs: ['127.0.0.2/32'] });
    await gw.gateway.trunkRegistrar!.sync();
    carrier.reply(await authenticated(), 200, { headers: { Expires: '600' } });
    await assignNumber(gw, 'bob', '+442079460077');
    const bob = await SipPhone.open('bob', HARNESS_USERS.bob, gw.port);
    try {
      assert.equal((await bob.register()).status, 200);
      // To our registered Contact (sip:acme-reg@us), the DID in To.
      const inbound = carrier.invite('+442079460077', { body: sdp(44100), requestUser: 'acme-reg' });
      const invite = await bob.request('INVITE');
      bob.reply(invite, 486, 'Busy Here', 'bb');
      assert.equal((await inbound.response(486)).status, 486);
    } finally {
      bob.close();
      await deregister(trunk);
      await trunks.delete(gw.tenantId, trunk.id);
    }
  });

  test('the window already counted (a previous boot cycle): registered after the retry interval, not a window later', async () => {
    const trunk = await registeringTrunk('counted-carrier');
    // A process that registered this trunk before a restart counted the window (a third of 600 s); whatever it
    // was granted, this one has not registered and knows nothing of it.
    await gw.state.counters.hit(`trunk-register:${trunk.id}`, 200);
    await gw.gateway.trunkRegistrar!.sync();
    assert.equal(gw.gateway.trunkRegistrar!.status(trunk.id), undefined, 'nothing sent in the window');
    // Registered after retryMs (300 ms here), not 200 s later.
    const register = await authenticated();
    carrier.reply(register, 200, { headers: { Expires: '600' } });
    await waitUntil(() => gw.gateway.trunkRegistrar!.status(trunk.id)?.state === 'registered');
    await deregister(trunk);
    await trunks.delete(gw.tenantId, trunk.id);
  });
});

async function waitUntil(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
