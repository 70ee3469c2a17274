// The SBC's affinity rule, proven with a real balancer: two sip-gateway processes share one PostgreSQL and one
// Redis, and Kamailio's dispatcher (Debian kamailio) sits in front of them as the SBC does in production
// (deploy/kubernetes/base/core/sbc-envoy.yaml). Every request from the phones goes to Kamailio, which, like Envoy,
// never follows the gateway's Contact: it picks a replica per request with the dispatcher algorithm. Hashing the
// Call-ID (algorithm 0) keeps each dialog on one replica — calls spread over both, every one completes; picking
// per request at random (algorithm 6, what Envoy's per-packet balancing would do) breaks dialogs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { provisionUsers } from '../helpers/provision-users.js';
import { createScratchDatabase, postgresAvailable } from '../helpers/postgres.js';
import { freeUdpPort } from '../helpers/rtpengine.js';
import {
  runSipp,
  sippInstalled,
  sippMediaPort,
  sippPort,
  sippRegisterArgs,
  startSipp,
  type SippRun,
} from '../helpers/sipp.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const REDIS_URL = process.env.VOXGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CONFIG = join(import.meta.dirname, '..', 'fixtures', 'kamailio', 'sbc-dispatcher.cfg');
const PASSWORDS = { alice: 'a1ice-pw', bob: 'b0b-pw', carol: 'car0l-pw' } as const;
/** Answered calls placed through the balancer with the Call-ID hash: 20 spread over two replicas by a hash
 * land all on one with probability 2 × 2^-20. */
const CALLS = 20;
const CANCELLED = 6;

const kamailio = spawnSync('which', ['kamailio']).status === 0;
if (!kamailio && process.env.CI) throw new Error('kamailio (Debian package kamailio) is required in CI');

/** One request Kamailio sent (its onsend_route log line): method, Call-ID, destination port. */
interface Sent {
  method: string;
  callId: string;
  port: number;
}

interface Balancer {
  port: number;
  sent: Sent[];
  stop(): Promise<void>;
}

/** Resolves once something holds UDP `port` on 127.0.0.1 (binding it fails), or after `ms`. */
async function untilBound(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const probe = createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.bind(port, '127.0.0.1', () => resolve(true));
    });
    probe.close();
    if (!free) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Kamailio with the dispatcher in front of `replicas` (UDP ports on 127.0.0.1), picking with `algorithm`. */
async function startBalancer(dir: string, replicas: number[], algorithm: 0 | 6): Promise<Balancer> {
  const port = await freeUdpPort();
  const list = join(dir, `dispatcher-${port}.list`);
  writeFileSync(list, replicas.map((p) => `1 sip:127.0.0.1:${p}\n`).join(''));
  const child: ChildProcess = spawn(
    'kamailio',
    [
      '-f',
      CONFIG,
      '-DD',
      '-E',
      '-l',
      `udp:127.0.0.1:${port}`,
      '-A',
      `DS_LIST="${list}"`,
      '-A',
      `DS_ALG=${algorithm}`,
      '-P',
      join(dir, `kamailio-${port}.pid`),
      '-Y',
      dir,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const sent: Sent[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    const m = /vxlb (\S+) (\S+) 127\.0\.0\.1:(\d+)/.exec(line);
    if (m) sent.push({ method: m[1]!, callId: m[2]!, port: Number(m[3]) });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await untilBound(port, 10_000);
  return {
    port,
    sent,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A Prometheus text exposition as `name{labels}` → value. */
async function metrics(vx: VoxgateProcess): Promise<Map<string, number>> {
  const text = await (await fetch(`${vx.httpUrl}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]));
  }
  return values;
}

/** The sum of the samples of `name` whose labels include every `labels` pair. */
function sum(values: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [key, value] of values) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))) total += value;
  }
  return total;
}

/** The replica ports each dialog's requests were sent to, by Call-ID (requests to replicas only). */
function destinations(sent: readonly Sent[], replicas: readonly number[]): Map<string, Set<number>> {
  const byCall = new Map<string, Set<number>>();
  for (const s of sent) {
    if (!replicas.includes(s.port)) continue;
    const set = byCall.get(s.callId) ?? new Set<number>();
    set.add(s.port);
    byCall.set(s.callId, set);
  }
  return byCall;
}

describe('dialog affinity through a balancer in front of two sip-gateway replicas', async () => {
  const skip = !kamailio
    ? 'kamailio not installed'
    : !sippInstalled()
      ? 'sipp not installed'
      : (await postgresAvailable())
        ? false
        : 'PostgreSQL not reachable';
  let db: Awaited<ReturnType<typeof createScratchDatabase>>;
  let replicas: VoxgateProcess[] = [];
  let ports: number[] = [];
  const balancers: Balancer[] = [];
  const phones: SippRun[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'voxgate-sbc-'));
  const domain = `sbc-${randomBytes(4).toString('hex')}.example`;
  const bobPort = await sippPort();
  const carolPort = await sippPort();

  /** Registers `user` through `balancer` from `port`, with digest. */
  async function register(balancer: Balancer, user: 'bob' | 'carol', port: number): Promise<void> {
    const reg = await runSipp('register-digest.xml', `127.0.0.1:${balancer.port}`, [
      ...sippRegisterArgs(user, PASSWORDS[user], port, domain),
    ]);
    assert.equal(reg.code, 0, `${user} did not register through the balancer\n${reg.logs}`);
  }

  /** A SIPp phone answering or ringing on `port` for `calls` calls. */
  async function callee(balancer: Balancer, scenario: string, port: number, calls: number): Promise<SippRun> {
    const run = startSipp(scenario, `127.0.0.1:${balancer.port}`, [
      '-p',
      String(port),
      '-m',
      String(calls),
      '-mi',
      '127.0.0.1',
      '-mp',
      String(await sippMediaPort()),
      '-rtp_echo',
      '-timeout',
      '90s',
      '-timeout_error',
    ]);
    phones.push(run);
    // Under load SIPp takes a while to start: the calls go only once the phone holds its port.
    await untilBound(port, 5000);
    return run;
  }

  /** alice places `calls` calls to `to` through `balancer` with `scenario`, up to 5 at once, within `timeout`. */
  async function caller(
    balancer: Balancer,
    scenario: string,
    to: 'bob' | 'carol',
    calls: number,
    timeout = '60s',
  ) {
    return runSipp(scenario, `127.0.0.1:${balancer.port}`, [
      '-p',
      String(await sippPort()),
      '-m',
      String(calls),
      '-r',
      '5',
      '-l',
      '5',
      '-s',
      to,
      '-au',
      'alice',
      '-ap',
      PASSWORDS.alice,
      '-key',
      'domain',
      domain,
      '-key',
      'caller',
      'alice',
      '-mi',
      '127.0.0.1',
      '-mp',
      String(await sippMediaPort()),
      '-timeout',
      timeout,
      '-timeout_error',
    ]);
  }

  before(async () => {
    if (skip) return;
    db = await createScratchDatabase();
    const env = {
      VOXGATE_DATABASE_URL: db.url,
      VOXGATE_REDIS_URL: REDIS_URL,
      VOXGATE_SIP_NONCE_SECRET: randomBytes(24).toString('hex'),
      VOXGATE_GATEWAY_MEDIA_RELAYS: 'off',
      VOXGATE_SIP_ADVERTISED_ADDRESS: '127.0.0.1',
      VOXGATE_SIP_KEEPALIVE_SECONDS: '0',
      // The calls the test without affinity leaves broken are not waited for at the end.
      VOXGATE_SHUTDOWN_GRACE_SECONDS: '1',
    };
    // One after the other: each start has 30 s (startVoxgate), which two at once on a loaded machine can miss.
    replicas = [
      await startVoxgate(['--target=sip-gateway'], env),
      await startVoxgate(['--target=sip-gateway'], env),
    ];
    ports = replicas.map((r) => r.sipUdpPort!);
    await provisionUsers(db.url, { name: 'SBC', domain }, PASSWORDS);
  });
  after(async () => {
    for (const phone of phones) phone.kill();
    for (const b of balancers) await b.stop();
    for (const r of replicas) await r.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    'Call-ID hash: calls spread over both replicas, every request of a dialog reaches its replica',
    { skip },
    async (t) => {
      const lb = await startBalancer(dir, ports, 0);
      balancers.push(lb);
      await register(lb, 'bob', bobPort);
      await register(lb, 'carol', carolPort);
      const bob = await callee(lb, 'uas-answer.xml', bobPort, CALLS);
      const carol = await callee(lb, 'uas-ring-cancel.xml', carolPort, CANCELLED);
      // Answered, held and resumed by re-INVITE, hung up by the caller; then calls cancelled while they ring.
      const answered = await caller(lb, 'uac-call.xml', 'bob', CALLS);
      assert.equal(answered.code, 0, `answered calls\n${answered.logs}`);
      const cancelled = await caller(lb, 'uac-cancel.xml', 'carol', CANCELLED);
      assert.equal(cancelled.code, 0, `cancelled calls\n${cancelled.logs}`);
      assert.equal(await bob.exited, 0, bob.logs());
      assert.equal(await carol.exited, 0, carol.logs());

      // The balancer's own account: each dialog's requests (INVITEs, ACKs, re-INVITEs, BYE or CANCEL) went to one
      // replica, and the dialogs went to both.
      const byCall = destinations(lb.sent, ports);
      const invites = lb.sent.filter((s) => s.method === 'INVITE' && ports.includes(s.port));
      const dialogs = new Set(invites.map((s) => s.callId));
      assert.equal(dialogs.size, CALLS + CANCELLED, 'every call reached a replica');
      for (const callId of dialogs) {
        assert.equal(byCall.get(callId)?.size, 1, `${callId} went to ${[...byCall.get(callId)!]}`);
      }
      // (A CANCEL is sent by Kamailio's tm to the branch of its INVITE, outside onsend_route: the replicas'
      // counts below show where it went — a replica without the INVITE would answer it 481.)
      const methods = new Set(lb.sent.filter((s) => dialogs.has(s.callId)).map((s) => s.method));
      for (const m of ['INVITE', 'ACK', 'BYE']) assert.ok(methods.has(m), `${m} through the balancer`);
      for (const port of ports) {
        assert.ok(
          [...dialogs].some((c) => byCall.get(c)!.has(port)),
          `calls on replica ${port}: ${[...dialogs].map((c) => [...byCall.get(c)!]).join(' ')}`,
        );
      }

      // The replicas' account: both challenged calls from the outside, and no request found no dialog.
      const counts = await Promise.all(replicas.map(metrics));
      for (const [i, values] of counts.entries()) {
        const challenged = sum(values, 'voxgate_sip_responses_sent_total', { method: 'INVITE', code: '407' });
        assert.ok(challenged > 0, `replica ${i + 1} took calls from the balancer`);
      }
      const total = (labels: Record<string, string>) =>
        counts.reduce((n, values) => n + sum(values, 'voxgate_sip_responses_sent_total', labels), 0);
      assert.equal(
        total({ code: '481' }),
        0,
        'no in-dialog request or CANCEL reached a replica without its dialog',
      );
      assert.ok(total({ method: 'BYE', code: '200' }) >= CALLS, 'every BYE answered 200');
      assert.ok(total({ method: 'CANCEL', code: '200' }) >= CANCELLED, 'every CANCEL answered 200');
      const answeredCalls = counts.reduce(
        (n, values) => n + sum(values, 'voxgate_calls_total', { disposition: 'answered' }),
        0,
      );
      assert.ok(answeredCalls >= CALLS, `answered calls in the replicas' records: ${answeredCalls}`);
      const cancelledCalls = counts.reduce(
        (n, values) => n + sum(values, 'voxgate_calls_total', { disposition: 'cancelled' }),
        0,
      );
      assert.ok(cancelledCalls >= CANCELLED, `cancelled calls in the replicas' records: ${cancelledCalls}`);
      const perReplica = ports.map((port) => [...dialogs].filter((c) => byCall.get(c)!.has(port)).length);
      t.diagnostic(`calls per replica: ${perReplica.join(' / ')}`);
    },
  );

  test(
    'without affinity (a replica picked per request at random) dialogs break: in-dialog requests get 481',
    { skip },
    async (t) => {
      const lb = await startBalancer(dir, ports, 6);
      balancers.push(lb);
      const before = await Promise.all(replicas.map(metrics));
      // Each call has three requests that need their dialog (two re-INVITEs, the BYE): all six calls get
      // through only with probability (1/8)^6 when each request picks one of two replicas at random.
      const calls = 6;
      const bob = await callee(lb, 'uas-answer.xml', bobPort, calls);
      const run = await caller(lb, 'uac-call.xml', 'bob', calls, '30s');
      bob.kill();
      assert.notEqual(run.code, 0, 'some calls failed');
      const after = await Promise.all(replicas.map(metrics));
      const refused = after.reduce(
        (n, values, i) =>
          n +
          sum(values, 'voxgate_sip_responses_sent_total', { code: '481' }) -
          sum(before[i]!, 'voxgate_sip_responses_sent_total', { code: '481' }),
        0,
      );
      assert.ok(refused > 0, 'a replica answered 481 to a request of a dialog it does not hold');
      const split = [...destinations(lb.sent, ports).values()].filter((s) => s.size > 1).length;
      assert.ok(split > 0, 'dialogs were split over the replicas');
      t.diagnostic(`${split} of ${calls} dialogs split, ${refused} requests answered 481`);
    },
  );
});
