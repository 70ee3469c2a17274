// The platform on a PostgreSQL primary and streaming standby (test/helpers/postgres-pair.ts) through one
// multi-host URL (`…/voxgate?target_session_attrs=read-write`): three voxgate processes — api, sip-gateway,
// worker — sharing a Redis of their own, calls placed one after another (alice calls bob, bob answers, alice
// hangs up) and the API read every 100 ms, while the primary is stopped (fast shutdown) and the standby promoted
// with `pg_ctl promote`. Then: each process moved to the promoted server by itself (its log says so), the API
// answers again, a user created after the failover registers and calls, and the CDRs are exactly the calls the
// gateway ended — the call events of the stream, none missing (0 lost) and none twice (0 doubled). The gateway
// caches nothing (VOXGATE_DIRECTORY_CACHE_SECONDS=0), so every call needs the database; what the calls and the
// API got during the outage is printed as a diagnostic (docs/deployment.md). Skips without PostgreSQL's server
// binaries or redis-server, except in CI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { answerChallenge, buildRequest, headerValues, newTag, type SipRequest } from '../../src/sip/index.js';
import { decodeCallEvent, migrate, openDatabase } from '../../src/store/index.js';
import { postgresPairUnavailable, startPostgresPair, type PostgresPair } from '../helpers/postgres-pair.js';
import { OutgoingCall, sdp, SipPhone } from '../helpers/sip-phone.js';
import { MIGRATIONS_DIR } from '../helpers/store-backends.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const noRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0;
if (noRedis && process.env.CI) throw new Error('redis-server is required in CI');
const unavailable = (await postgresPairUnavailable()) || (noRedis && 'redis-server is not installed');
const KEY = `vxg_pgha${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`;
const DOMAIN = 'ha.example';
/** 0: every call needs the database. VOXGATE_TEST_DIRECTORY_CACHE_SECONDS=60 runs it with the default cache. */
const CACHE_SECONDS = process.env.VOXGATE_TEST_DIRECTORY_CACHE_SECONDS ?? '0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000) {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(100)) {
    if (await Promise.resolve(check()).catch(() => false)) return;
    assert.ok(Date.now() < deadline, `timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** A Redis of this test's own (the shared one on 6379 has other tests' call-event consumers). */
async function startRedis(): Promise<{ url: string; client: Redis; stop(): Promise<void> }> {
  const port = await freePort();
  const proc: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const exited = new Promise((r) => proc.once('exit', r));
  process.once('exit', () => proc.kill('SIGKILL'));
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  await until('redis-server to answer', async () => {
    if (client.status !== 'ready') await client.connect();
    return (await client.ping()) === 'PONG';
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    client,
    async stop() {
      client.disconnect();
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

interface Placed {
  callId: string;
  /** Final status of the INVITE: the challenge's when not 407 (503 while the store is down), else the call's. */
  status: number;
  /** When it was placed, and when its outcome was known. */
  at: number;
  done: number;
}

/**
 * alice calls bob: INVITE, the 407 answered with credentials, 200, ACK, BYE. Any other final response to either
 * INVITE (503 while there is no database) ends the attempt with that status.
 */
async function placeCall(
  alice: SipPhone,
  password: string,
  seq: { n: number },
  /** Answered calls are put here, up, instead of being hung up. */
  hold?: OutgoingCall[],
): Promise<Placed> {
  const at = Date.now();
  const callId = `pgha-${randomBytes(6).toString('hex')}`;
  const fromTag = newTag();
  const uri = `sip:bob@${DOMAIN}`;
  const invite = (cseq: number, viaBranch: string, extra: { name: string; value: string }[]) =>
    buildRequest(
      'INVITE',
      uri,
      [
        { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${alice.port};branch=${viaBranch};rport` },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `<sip:alice@${DOMAIN}>;tag=${fromTag}` },
        { name: 'To', value: `<${uri}>` },
        { name: 'Call-ID', value: callId },
        { name: 'CSeq', value: `${cseq} INVITE` },
        { name: 'Contact', value: alice.contact },
        { name: 'Content-Type', value: 'application/sdp' },
        ...extra,
      ],
      sdp(40000),
    );
  const ackFailure = (cseq: number, viaBranch: string, to: string) =>
    alice.send(
      buildRequest('ACK', uri, [
        { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${alice.port};branch=${viaBranch};rport` },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `<sip:alice@${DOMAIN}>;tag=${fromTag}` },
        { name: 'To', value: to },
        { name: 'Call-ID', value: callId },
        { name: 'CSeq', value: `${cseq} ACK` },
      ]),
    );
  const first = seq.n++;
  const firstBranch = `z9hG4bK${randomBytes(8).toString('hex')}`;
  alice.send(invite(first, firstBranch, []));
  const challenge = await alice.response(callId, (s) => s >= 200, 'INVITE', 15_000, first);
  ackFailure(first, firstBranch, headerValues(challenge, 'To')[0] ?? '');
  if (challenge.status !== 407) return { callId, status: challenge.status, at, done: Date.now() };
  const answer = answerChallenge({
    challenges: headerValues(challenge, 'Proxy-Authenticate'),
    method: 'INVITE',
    uri,
    username: 'alice',
    password,
  });
  assert.ok(answer, 'a usable challenge');
  const second = seq.n++;
  const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
  alice.send(invite(second, branch, [{ name: 'Proxy-Authorization', value: answer.authorization }]));
  const call = new OutgoingCall(alice, callId, fromTag, uri, second, branch);
  const final = await call.final(15_000);
  if (final.status >= 300) {
    ackFailure(second, branch, headerValues(final, 'To')[0] ?? '');
    return { callId, status: final.status, at, done: Date.now() };
  }
  call.ack();
  const done = Date.now();
  if (hold) {
    hold.push(call);
    return { callId, status: 200, at, done };
  }
  await sleep(50);
  call.send('BYE');
  await alice.response(callId, 200, 'BYE', 15_000);
  seq.n += 1;
  return { callId, status: 200, at, done };
}

/** bob answers every INVITE, BYE and OPTIONS 200 until stopped (the gateway's keepalive drops a silent contact). */
function answering(bob: SipPhone): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      const req = (await bob
        .waitFor(
          (m) => m.kind === 'request' && ['INVITE', 'BYE', 'OPTIONS'].includes(m.method),
          500,
          'a request',
        )
        .catch(() => undefined)) as SipRequest | undefined;
      if (!req) continue;
      if (req.method === 'INVITE')
        bob.reply(req, 200, 'OK', `b${randomBytes(4).toString('hex')}`, {}, sdp(41000));
      else bob.reply(req, 200, 'OK', req.toTag ?? 'b');
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

describe(
  'platform on a PostgreSQL primary + standby: the primary stopped and the standby promoted during calls',
  { skip: unavailable },
  () => {
    let pair: PostgresPair;
    let redis: Awaited<ReturnType<typeof startRedis>>;
    const procs: Record<string, VoxgateProcess> = {};
    before(async () => {
      [pair, redis] = await Promise.all([startPostgresPair(), startRedis()]);
      const env = {
        VOXGATE_DATABASE_URL: pair.url(),
        VOXGATE_DATABASE_POOL_SIZE: '4',
        VOXGATE_REDIS_URL: redis.url,
        VOXGATE_ADMIN_API_KEY: KEY,
        VOXGATE_GATEWAY_MEDIA_RELAYS: 'off',
        VOXGATE_SIP_ADVERTISED_ADDRESS: '127.0.0.1',
        VOXGATE_DIRECTORY_CACHE_SECONDS: CACHE_SECONDS,
      };
      // The schema first (the processes find nothing to apply and start sooner), then the three processes at once,
      // each given 90 s: on 2 shared cores tsx processes starting together may take more than 30 s. (The file
      // must end within the runner's 2 minutes, 30 s of which are the worker's wait for the outage's events.)
      const db = await openDatabase({ url: pair.url(), dataDir: 'unused', poolSize: 1 });
      try {
        await migrate(db, MIGRATIONS_DIR);
      } finally {
        await db.close();
      }
      const targets = ['api', 'sip-gateway', 'worker'];
      const started = await Promise.allSettled(
        targets.map((target) => startVoxgate([`--target=${target}`], env, { startTimeoutMs: 90_000 })),
      );
      started.forEach((s, i) => {
        if (s.status === 'fulfilled') procs[targets[i]!] = s.value;
      });
      const failed = started.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
    });
    after(async () => {
      for (const p of Object.values(procs)) await p.stop();
      await redis?.stop();
      await pair?.stop();
    });

    test(
      'API, gateway and worker carry on on the promoted standby; CDRs: 0 lost, 0 doubled',
      { timeout: 420_000 },
      async (t) => {
        const api = procs.api!;
        const gw = procs['sip-gateway']!;
        const call = async (path: string, body?: unknown, method = body ? 'POST' : 'GET') =>
          fetch(`${api.httpUrl}/v1${path}`, {
            method,
            headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
            ...(body ? { body: JSON.stringify(body) } : {}),
            signal: AbortSignal.timeout(15_000),
          });
        const created = async (path: string, body: unknown) => {
          const res = await call(path, body);
          assert.equal(res.status, 201, await res.clone().text());
          return (await res.json()) as { id: string };
        };
        const tenantId = (await created('/tenants', { name: 'HA', sipDomain: DOMAIN })).id;
        await created(`/tenants/${tenantId}/users`, { username: 'alice', password: 'alice-pass' });
        await created(`/tenants/${tenantId}/users`, { username: 'bob', password: 'bob-pass' });
        const alice = await SipPhone.open('alice', 'alice-pass', gw.sipUdpPort!, DOMAIN);
        const bob = await SipPhone.open('bob', 'bob-pass', gw.sipUdpPort!, DOMAIN);
        const bobAnswers = answering(bob);
        const placed: Placed[] = [];
        const apiSeen: { at: number; done: number; status: number }[] = [];
        let running = true;
        let caller: Promise<void> | undefined;
        let poller: Promise<void> | undefined;
        try {
          assert.equal((await alice.register()).status, 200);
          assert.equal((await bob.register()).status, 200);
          const seq = { n: 1000 };
          // Three calls up when the primary stops, hung up during the outage: their CDRs cannot be written then.
          const held: OutgoingCall[] = [];
          for (let i = 0; i < 3; i++) placed.push(await placeCall(alice, 'alice-pass', seq, held));
          assert.equal(held.length, 3);
          caller = (async () => {
            while (running) {
              placed.push(await placeCall(alice, 'alice-pass', seq));
              await sleep(20);
            }
          })();
          poller = (async () => {
            while (running) {
              const at = Date.now();
              const status = await call(`/tenants/${tenantId}/users?limit=10`).then(
                (r) => r.status,
                () => 0,
              );
              apiSeen.push({ at, done: Date.now(), status });
              await sleep(100);
            }
          })();
          await until('10 calls answered', () => placed.filter((p) => p.status === 200).length >= 10);

          const stoppedAt = Date.now();
          await pair.primary.stopFast();
          // The outage is seen before the standby is promoted (the operator's decision): API requests and, with
          // no cache, calls refused 503.
          await until(
            'calls and API requests refused while no server is writable',
            () =>
              (CACHE_SECONDS !== '0' ||
                placed.filter((p) => p.at > stoppedAt && p.status === 503).length >= 3) &&
              apiSeen.filter((a) => a.at > stoppedAt && a.status === 503).length >= 3,
          );
          for (const c of held) {
            c.send('BYE');
            await alice.response(c.callId, 200, 'BYE', 15_000);
          }
          // The worker got their call events and could not store the CDRs: the events stay unacknowledged.
          await until('a CDR run of the worker to fail', () =>
            procs.worker!.logs.some((l) => l.msg === 'job run failed' && l.job === 'cdr-writer'),
          );
          const heldEndedAt = Date.now();
          await pair.promote();
          const promotedAt = Date.now();
          await until('the API to answer again', () =>
            apiSeen.some((a) => a.at > promotedAt && a.status === 200),
          );
          await until(
            'calls to be answered again',
            () => placed.filter((p) => p.at > promotedAt && p.status === 200).length >= 5,
          );
          running = false;
          await Promise.all([caller, poller]);

          // Each process let the stopped primary go and chose the promoted standby by itself.
          const promoted = `127.0.0.1:${pair.standby.port}`;
          for (const [name, p] of Object.entries(procs)) {
            await until(`${name} to choose the promoted standby`, () =>
              p.logs.some((l) => l.msg === 'PostgreSQL server chosen' && l.server === promoted),
            );
          }
          // New things work on the new primary: a user created through the API registers and calls.
          await created(`/tenants/${tenantId}/users`, { username: 'carol', password: 'carol-pass' });
          const carol = await SipPhone.open('carol', 'carol-pass', gw.sipUdpPort!, DOMAIN);
          let carolCallId = '';
          try {
            assert.equal((await carol.register()).status, 200);
            const c = await carol.invite('bob', sdp(40100));
            carolCallId = c.callId;
            assert.equal((await c.final(15_000)).status, 200);
            c.ack();
            c.send('BYE');
            await carol.response(c.callId, 200, 'BYE', 15_000);
          } finally {
            carol.close();
          }

          // The gateway's ended calls (its call events in the stream) against the CDRs the worker wrote: after the
          // outage the worker takes the events it could not store back (claimStale after 30 s) — poll for them.
          const [streamKey] = await redis.client.keys('*call-events*');
          assert.ok(streamKey, 'the call-events stream exists');
          const endedCalls = async () => {
            const ids = new Set<string>();
            for (const [, fields] of await redis.client.xrange(streamKey, '-', '+')) {
              const record: Record<string, string> = {};
              for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
              const event = decodeCallEvent(record);
              if (event.type === 'ended') ids.add(event.callId);
            }
            return ids;
          };
          // Carol's 200 for her BYE can arrive before the gateway's `ended` event is in the stream (the call is
          // recorded once the relay gave its stats, and the event is a Redis write of its own): the stream is read
          // once that event is there.
          await until("carol's call's ended event", async () => (await endedCalls()).has(carolCallId));
          const ended = await endedCalls();
          const cdrs = async () =>
            pair.standby.query<{ call_id: string; n: string }>(
              'SELECT call_id, count(*) AS n FROM cdrs GROUP BY call_id',
            );
          await until(
            'a CDR for every ended call',
            async () => {
              const have = new Set((await cdrs()).map((r) => r.call_id));
              return [...ended].every((id) => have.has(id));
            },
            180_000,
          );
          const rows = await cdrs();
          const doubled = rows.filter((r) => r.n !== '1').map((r) => r.call_id);
          const stored = new Set(rows.map((r) => r.call_id));
          const answered = placed.filter((p) => p.status === 200).map((p) => p.callId);
          assert.deepEqual(doubled, [], 'no Call-ID has two CDRs');
          assert.deepEqual(
            answered.filter((id) => !stored.has(id)),
            [],
            'every answered call has its CDR',
          );
          assert.deepEqual(
            [...stored].sort(),
            [...ended].sort(),
            'the CDRs are exactly the calls the gateway ended',
          );
          const [group] = (await redis.client.xpending(streamKey, 'cdr-writer')) as [number];
          assert.equal(group, 0, 'no call event left unacknowledged by the worker');

          const allStoredAt = Date.now();
          const during = placed.filter((p) => p.done >= stoppedAt && p.at < promotedAt);
          const byStatus = (list: Placed[]) =>
            Object.entries(
              list.reduce<Record<number, number>>(
                (m, p) => ({ ...m, [p.status]: (m[p.status] ?? 0) + 1 }),
                {},
              ),
            )
              .map(([s, n]) => `${n}× ${s}`)
              .join(', ');
          const window = (list: { at: number; done: number; status: number }[]) => {
            const bad = list.filter((x) => x.done >= stoppedAt && x.status !== 200);
            if (bad.length === 0) return 'none refused';
            const last = Math.max(stoppedAt, ...bad.map((x) => x.done));
            const back = list.find((x) => x.done > last && x.status === 200)?.done ?? NaN;
            return (
              `${bad.length} refused (${[...new Set(bad.map((x) => x.status))].join(', ') || '-'}) from ` +
              `${Math.min(...bad.map((x) => x.done)) - stoppedAt} to ${last - stoppedAt} ms, a 200 again at ` +
              `${back - stoppedAt} ms`
            );
          };
          const failedRuns = procs.worker!.logs.filter(
            (l) => l.msg === 'job run failed' && l.job === 'cdr-writer',
          ).length;
          t.diagnostic(
            `directory cache ${CACHE_SECONDS} s; after the fast shutdown (0 ms), pg_ctl promote returned at ` +
              `${promotedAt - stoppedAt} ms (3 calls up at the stop hung up by ${heldEndedAt - stoppedAt} ms); ` +
              `API: ${window(apiSeen)}; calls: ${window(placed)}; calls placed ` +
              `${placed.length} (${byStatus(placed)}), of which during the outage ${during.length} ` +
              `(${byStatus(during) || '-'}); the worker's CDR runs failed ${failedRuns} times; ended calls ` +
              `${ended.size}, CDRs ${stored.size} (all stored ${allStoredAt - stoppedAt} ms after the stop), ` +
              `lost 0, doubled 0`,
          );
        } finally {
          running = false;
          await Promise.all([caller?.catch(() => undefined), poller?.catch(() => undefined)]);
          await bobAnswers.stop();
          alice.close();
          bob.close();
        }
      },
    );
  },
);
