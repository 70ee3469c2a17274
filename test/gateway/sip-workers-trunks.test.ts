// Trunks of one sip-gateway with VOXGATE_SIP_WORKERS=3: the carriers get the OPTIONS checks and the
// registration of one gateway, sent by worker 0 alone (each worker's Call-IDs hash to it, so a request's
// Call-ID names the worker that sent it), and the other workers route by worker 0's checks as it reports them
// in shared state: a call worker 1 owns skips the trunk worker 0 saw down, also while worker 0 restarts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ownerOf } from '../../src/gateway/index.js';
import { header, type SipRequest } from '../../src/sip/index.js';
import { createRouteRepository, createTrunkRepository, openDatabase } from '../../src/store/index.js';
import { createRedisSharedState, type SharedState } from '../../src/store/shared-state/index.js';
import { FakeCarrier } from '../helpers/fake-carrier.js';
import { provisionUsers } from '../helpers/provision-users.js';
import { createScratchDatabase, postgresAvailable } from '../helpers/postgres.js';
import { SipPhone } from '../helpers/sip-phone.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const REDIS_URL = process.env.VOXGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const WORKERS = 3;

/** Polls `check` every 100 ms until it holds; fails with `what` after `ms` (generous: a loaded machine). */
async function waitUntil(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The requests of `method` a carrier received, one per transaction (retransmissions left out). */
function transactions(carrier: FakeCarrier, method: string): SipRequest[] {
  const seen = new Map<string, SipRequest>();
  for (const m of carrier.received)
    if (m.kind === 'request' && m.method === method) seen.set(`${m.callId} ${m.cseq.seq}`, m);
  return [...seen.values()];
}

describe(`trunks of one sip-gateway with ${WORKERS} SIP workers`, async () => {
  const skip = (await postgresAvailable()) ? false : 'PostgreSQL not reachable';
  let db: Awaited<ReturnType<typeof createScratchDatabase>>;
  let vx: VoxgateProcess;
  let state: SharedState;
  let alive: FakeCarrier;
  let silent: FakeCarrier;
  let registrar: FakeCarrier;
  let alice: SipPhone;
  const trunkIds: Record<'alive' | 'silent' | 'registering', string> = {
    alive: '',
    silent: '',
    registering: '',
  };
  const domain = `worker-trunks-${randomBytes(4).toString('hex')}.example`;
  /** The gateway's address, under which worker 0 reports the trunks in shared state. */
  let gateway: string;

  before(async () => {
    if (skip) return;
    db = await createScratchDatabase();
    vx = await startVoxgate(
      ['--target=sip-gateway'],
      {
        VOXGATE_DATABASE_URL: db.url,
        VOXGATE_REDIS_URL: REDIS_URL,
        VOXGATE_SIP_WORKERS: String(WORKERS),
        VOXGATE_GATEWAY_MEDIA_RELAYS: 'off',
        VOXGATE_SIP_ADVERTISED_ADDRESS: '127.0.0.1',
        VOXGATE_SIP_KEEPALIVE_SECONDS: '0',
        // Trunks are written to the database below, with no change announced: read at every use.
        VOXGATE_DIRECTORY_CACHE_SECONDS: '0',
        VOXGATE_TRUNK_CHECK_SECONDS: '1',
      },
      { startTimeoutMs: 120_000 },
    );
    await waitUntil(
      () => vx.logs.some((l) => l.msg === 'SIP workers ready'),
      'every worker listens',
      120_000,
    );
    gateway = `127.0.0.1:${vx.sipUdpPort!}`;
    // The schema is the gateway's to migrate: provisioned once it started.
    const tenantId = await provisionUsers(db.url, { name: 'Worker trunks', domain }, { alice: 'a1ice' });
    state = await createRedisSharedState({ url: REDIS_URL });
    alive = (await FakeCarrier.open(vx.sipUdpPort!, '127.0.0.2'))
      .answer('OPTIONS', { status: 200 })
      .answer('INVITE', { status: 486 });
    // Answers no OPTIONS (its checks time out: Timer F, 32 s); a call that reaches it all the same is refused
    // at once, so that a worker that does not skip it fails over and the test sees where the INVITE went.
    silent = (await FakeCarrier.open(vx.sipUdpPort!, '127.0.0.3'))
      .answer('OPTIONS', 'ignore')
      .answer('INVITE', { status: 503 });
    // Grants 3 s: the registration is refreshed every second (a third of it).
    registrar = (await FakeCarrier.open(vx.sipUdpPort!, '127.0.0.4'))
      .answer('OPTIONS', { status: 200 })
      .answer('REGISTER', (request) => ({
        status: 200,
        headers: { Contact: `${header(request, 'Contact') ?? ''};expires=3` },
      }));
    const store = await openDatabase({ url: db.url, dataDir: 'unused' });
    try {
      const trunks = createTrunkRepository(store);
      const trunk = (name: string, carrier: FakeCarrier, extra = {}) =>
        trunks.create({ tenantId, name, host: carrier.address, port: carrier.port, ...extra });
      trunkIds.silent = (await trunk('silent', silent)).id;
      trunkIds.alive = (await trunk('alive', alive)).id;
      trunkIds.registering = (
        await trunk('registering', registrar, {
          register: true,
          credentials: { username: 'acme-reg', password: 'carrier-secret' },
        })
      ).id;
      // The trunk that stops answering is tried first.
      await createRouteRepository(store).create({
        tenantId,
        name: 'all',
        pattern: '\\d+',
        trunkIds: [trunkIds.silent, trunkIds.alive],
      });
    } finally {
      await store.close();
    }
    alice = await SipPhone.open('alice', 'a1ice', vx.sipUdpPort!, domain);
  });
  after(async () => {
    alice?.close();
    for (const carrier of [alive, silent, registrar]) carrier?.close();
    await state?.close();
    if (vx && vx.child.exitCode === null) await vx.stop();
    await db?.drop();
  });

  const ownReport = async (trunkId: string) =>
    (await state.trunkStatus.list([trunkId])).get(trunkId)?.find((r) => r.gateway === gateway);

  test(
    'worker 0 alone sends the OPTIONS checks and the REGISTERs: one per interval per trunk',
    { skip },
    async () => {
      const carriers = [alive, silent, registrar];
      // The silent trunk's checks each last Timer F (32 s): no new one starts while one is under way.
      await waitUntil(
        () =>
          [alive, registrar].every((c) => transactions(c, 'OPTIONS').length >= 5) &&
          transactions(silent, 'OPTIONS').length >= 2,
        'five checks of the trunks that answer, two of the silent one',
        120_000,
      );
      // The trunks were written after the start: the registrar finds them at its next sync (30 s).
      await waitUntil(() => transactions(registrar, 'REGISTER').length >= 5, 'five registrations', 90_000);
      for (const carrier of carriers) {
        const owners = transactions(carrier, 'OPTIONS').map((r) => ownerOf(r.callId, WORKERS));
        assert.deepEqual(new Set(owners), new Set([0]), `every OPTIONS to ${carrier.address} from worker 0`);
        const callIds = transactions(carrier, 'OPTIONS').map((r) => r.callId);
        assert.equal(new Set(callIds).size, callIds.length, 'one transaction per check');
      }
      // One registration flow (§10.2: "the same Call-ID for all registrations during a single boot cycle"),
      // its CSeq counting up by one: no other worker's flow in between.
      const registers = transactions(registrar, 'REGISTER');
      assert.deepEqual(new Set(registers.map((r) => r.callId)).size, 1, 'one Call-ID');
      assert.equal(ownerOf(registers[0]!.callId, WORKERS), 0);
      assert.deepEqual(
        registers.map((r) => r.cseq.seq),
        registers.map((_, i) => i + 1),
      );
      // What the API shows: one report for the gateway, worker 0's, with the registration.
      const reports = (await state.trunkStatus.list([trunkIds.registering])).get(trunkIds.registering) ?? [];
      assert.deepEqual(
        reports.map((r) => ({
          gateway: r.gateway,
          reachable: r.reachable,
          registration: r.registration?.state,
        })),
        [{ gateway, reachable: true, registration: 'registered' }],
      );
    },
  );

  /** Calls until `count` calls worker 1 owns were made; every call is refused by the trunk it reached. */
  async function callsOwnedBy1(count: number): Promise<string[]> {
    const owned: string[] = [];
    for (let i = 0; i < 40 && owned.length < count; i++) {
      const call = await alice.invite('5551234');
      const final = await call.final();
      assert.ok(final.status === 486 || final.status === 503, `refused by a carrier (${final.status})`);
      if (ownerOf(call.callId, WORKERS) === 1) owned.push(call.callId);
    }
    assert.equal(owned.length, count, 'calls worker 1 owns were made');
    return owned;
  }

  test('a call worker 1 owns skips the trunk worker 0 saw down', { skip }, async () => {
    await waitUntil(
      async () => (await ownReport(trunkIds.silent))?.reachable === false,
      'worker 0 reports the silent trunk unreachable (after Timer F)',
      120_000,
    );
    // The other workers read the reports on the checks' interval: three more checks of the live trunk later,
    // each has read the report since.
    const checks = transactions(alive, 'OPTIONS').length;
    await waitUntil(() => transactions(alive, 'OPTIONS').length >= checks + 3, 'three more checks');
    await callsOwnedBy1(3);
    assert.deepEqual(transactions(silent, 'INVITE'), [], 'no worker sent a call to the trunk seen down');
    assert.ok(
      transactions(alive, 'INVITE').some((r) => ownerOf(r.callId, WORKERS) === 1),
      "worker 1's calls went to the live trunk",
    );
  });

  test(
    'worker 0 killed and restarted: the others route by its last reports; its registration goes on',
    { skip },
    async () => {
      const ready = vx.logs.find((l) => l.msg === 'SIP workers ready') as { pids: number[] };
      const registersBefore = transactions(registrar, 'REGISTER').length;
      process.kill(ready.pids[0]!, 'SIGKILL');
      await waitUntil(
        () => vx.logs.some((l) => l.msg === 'SIP worker back' && l.worker === 0),
        'worker 0 restarted',
        120_000,
      );
      const restartedAt = Date.now();
      // The restarted worker 0 has not seen the silent trunk fail yet (its first check takes Timer F) and
      // routes to it; the other workers keep it out, by the report its predecessor made, which lives on.
      await callsOwnedBy1(3);
      assert.deepEqual(
        transactions(silent, 'INVITE').filter((r) => ownerOf(r.callId, WORKERS) !== 0),
        [],
        'workers 1 and 2 never sent a call to the trunk seen down',
      );
      // The restarted worker 0 registers again, with a Call-ID of its new boot cycle, and reports it.
      await waitUntil(
        () => new Set(transactions(registrar, 'REGISTER').map((r) => r.callId)).size >= 2,
        'a registration flow of the restarted worker 0',
        120_000,
      );
      const since = transactions(registrar, 'REGISTER').slice(registersBefore);
      assert.deepEqual(new Set(since.map((r) => ownerOf(r.callId, WORKERS))), new Set([0]));
      // Reported by the new worker 0 (a check made since it came back), not what its predecessor left.
      await waitUntil(async () => {
        const report = await ownReport(trunkIds.registering);
        return (report?.checkedAt ?? 0) > restartedAt && report?.registration?.state === 'registered';
      }, "the restarted worker 0's report with its registration");
    },
  );
});
