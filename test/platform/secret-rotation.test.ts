// Rotation of the secrets given as files (VOXGATE_<NAME>_FILE), the way a Kubernetes Secret volume filled by
// the External Secrets Operator changes: the kubelet writes the new values into a new directory and swaps the
// `..data` symlink to it. A running voxgate (all targets, from the sources) applies the new admin API key, SIP
// nonce secret and peer secret without a restart, and keeps accepting the previous ones for the overlap.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  answerChallenge,
  buildRequest,
  headerValues,
  newTag,
  parseAuthHeader,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/index.js';
import { ConfigError, formatEffectiveConfig, loadConfig } from '../../src/platform/config/index.js';
import { RotatingSecret } from '../../src/platform/rotating-secret.js';
import { freeUdpPort } from '../helpers/rtpengine.js';
import { secretReloads, SecretVolume } from '../helpers/secret-volume.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const NAMES = ['VOXGATE_ADMIN_API_KEY', 'VOXGATE_SIP_NONCE_SECRET', 'VOXGATE_SIP_PEER_SECRET'] as const;
type Values = Record<(typeof NAMES)[number], string>;

const values = (tag: string): Values => ({
  VOXGATE_ADMIN_API_KEY: `vxg_rot${tag}${randomBytes(3).toString('hex')}_${randomBytes(24).toString('base64url')}`,
  VOXGATE_SIP_NONCE_SECRET: randomBytes(32).toString('base64url'),
  VOXGATE_SIP_PEER_SECRET: randomBytes(32).toString('base64url'),
});

const OVERLAP_SECONDS = 20;

describe('secrets given as files rotate without a restart (VOXGATE_<NAME>_FILE)', () => {
  const first = values('a');
  const second = values('b');
  let volume: SecretVolume;
  let vx: VoxgateProcess;
  let alice: SipPhone;
  let bob: SipPhone;
  const api = async (path: string, key: string, body?: unknown) => {
    const res = await fetch(`${vx.httpUrl}/v1${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, type: res.headers.get('content-type'), json: (await res.json()) as never };
  };
  const until = async (what: string, check: () => Promise<boolean>, ms = 60_000) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const metric = (secret: string, outcome: string) => secretReloads(vx.httpUrl, secret, outcome);

  before(async () => {
    volume = await SecretVolume.create(first);
    const portMin = 35000 + 2 * Math.floor(Math.random() * 2000);
    vx = await startVoxgate(
      ['--target=all'],
      {
        ...volume.env(NAMES),
        VOXGATE_SECRET_POLL_SECONDS: '1',
        VOXGATE_SECRET_OVERLAP_SECONDS: String(OVERLAP_SECONDS),
        VOXGATE_SECRET_ACTIVATION_SECONDS: '0',
        VOXGATE_MEDIA_NG: `127.0.0.1:${await freeUdpPort()}`,
        VOXGATE_RTP_PORT_MIN: String(portMin),
        VOXGATE_RTP_PORT_MAX: String(portMin + 99),
      },
      { startTimeoutMs: 120_000 },
    );
    const tenant = await api('/tenants', first.VOXGATE_ADMIN_API_KEY, {
      name: 'Rotation',
      sipDomain: 'acme.example',
    });
    assert.equal(tenant.status, 201, JSON.stringify(tenant.json));
    const tenantId = (tenant.json as { id: string }).id;
    for (const [username, password] of [
      ['alice', 'alice-pass'],
      ['bob', 'bob-pass'],
    ]) {
      const user = await api(`/tenants/${tenantId}/users`, first.VOXGATE_ADMIN_API_KEY, {
        username,
        password,
      });
      assert.equal(user.status, 201, JSON.stringify(user.json));
    }
    alice = await SipPhone.open('alice', 'alice-pass', vx.sipUdpPort!);
    bob = await SipPhone.open('bob', 'bob-pass', vx.sipUdpPort!);
  });
  after(async () => {
    alice?.close();
    bob?.close();
    assert.equal(await vx?.stop(), 0);
    await volume?.remove();
  });

  /** A REGISTER of alice on `callId`, with an Authorization answering `challenge` when given. */
  const register = (callId: string, seq: number, authorization?: string) =>
    buildRequest('REGISTER', 'sip:acme.example', [
      {
        name: 'Via',
        value: `SIP/2.0/UDP 127.0.0.1:${alice.port};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
      },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `<sip:alice@acme.example>;tag=${newTag()}` },
      { name: 'To', value: '<sip:alice@acme.example>' },
      { name: 'Call-ID', value: callId },
      { name: 'CSeq', value: `${seq} REGISTER` },
      { name: 'Contact', value: alice.contact },
      { name: 'Expires', value: '600' },
      ...(authorization ? [{ name: 'Authorization', value: authorization }] : []),
    ]);
  const answer = (challenges: readonly string[], previousUses = 0) =>
    answerChallenge({
      challenges,
      method: 'REGISTER',
      uri: 'sip:acme.example',
      username: 'alice',
      password: 'alice-pass',
      previousUses,
    })!.authorization;
  const challengeOf = async (callId: string) => {
    alice.send(register(callId, 1));
    return headerValues(await alice.response(callId, 401, 'REGISTER'), 'WWW-Authenticate');
  };
  const opaqueOf = (challenges: readonly string[]) => parseAuthHeader(challenges[0]!)?.params.opaque;

  test('registrations, a call, digest nonces and API keys all survive the kubelet swapping the files', async () => {
    // Before: both phones registered, a call from alice to bob established.
    assert.equal((await alice.register()).status, 200);
    assert.equal((await bob.register()).status, 200);
    const call = await alice.invite('bob', sdp(40000));
    const invite = (await bob.request('INVITE')) as SipRequest;
    bob.reply(invite, 200, 'OK', 'rot', {}, sdp(40002));
    assert.equal((await call.final()).status, 200);
    call.ack();
    // A nonce answered once (the phone goes on using it, nc=2 next), and one challenge not answered yet (a
    // phone mid-registration): both issued under the first nonce secret.
    const used = await challengeOf('rot-used');
    alice.send(register('rot-used', 2, answer(used)));
    assert.equal((await alice.response('rot-used', (s) => s >= 200, 'REGISTER')).status, 200);
    const pending = await challengeOf('rot-pending');

    await volume.update(second);
    for (const name of NAMES) {
      await until(`${name} reloaded`, async () => (await metric(name, 'applied')) === 1);
    }

    // The SIP nonce secret changed: nonces issued before still verify (no 401 at all) …
    alice.send(register('rot-pending', 2, answer(pending)));
    assert.equal((await alice.response('rot-pending', (s) => s >= 200, 'REGISTER')).status, 200);
    alice.send(register('rot-used', 3, answer(used, 1)));
    assert.equal((await alice.response('rot-used', (s) => s >= 200, 'REGISTER')).status, 200);
    // … and new challenges are made with the new key (the opaque is an HMAC of the realm under it).
    const fresh = await challengeOf('rot-fresh');
    assert.notEqual(opaqueOf(fresh), opaqueOf(used));
    alice.send(register('rot-fresh', 2, answer(fresh)));
    assert.equal((await alice.response('rot-fresh', (s) => s >= 200, 'REGISTER')).status, 200);

    // The call established before the rotation ends normally: its BYE reaches bob and bob's 200 reaches alice.
    call.send('BYE');
    bob.reply(await bob.request('BYE'), 200, 'OK', 'rot');
    assert.equal((await alice.response(call.callId, 200, 'BYE')).status, 200);

    // The API: the new admin key works at once, the previous one until the overlap ends, then not.
    assert.equal((await api('/whoami', second.VOXGATE_ADMIN_API_KEY)).status, 200);
    assert.equal((await api('/whoami', first.VOXGATE_ADMIN_API_KEY)).status, 200);
    await until(
      'the previous admin key refused',
      async () => (await api('/whoami', first.VOXGATE_ADMIN_API_KEY)).status === 401,
      (OVERLAP_SECONDS + 60) * 1000,
    );
    const refused = await api('/whoami', first.VOXGATE_ADMIN_API_KEY);
    assert.match(refused.type ?? '', /^application\/problem\+json/);
    assert.equal((refused.json as { status: number }).status, 401);
    assert.equal((await api('/whoami', second.VOXGATE_ADMIN_API_KEY)).status, 200);
    const revoked = vx.logs.find((l) => String(l.msg).startsWith('revoked the platform admin API keys'));
    assert.deepEqual(revoked?.revoked, [first.VOXGATE_ADMIN_API_KEY.split('_')[1]]);

    // The overlap is over for the nonce secret too: the old nonce is no longer ours. The password is right, so
    // it is answered 401 stale=true, which a client retries with the new nonce without asking the user (RFC
    // 2617 §3.2.1) — and the retry is accepted.
    // (The gateway read the file apart from the API: its overlap may end a poll later.)
    let seq = 3;
    let stale: SipResponse | undefined;
    await until('the old nonce refused', async () => {
      alice.send(register('rot-used', ++seq, answer(used, seq - 2)));
      const response = await alice.response('rot-used', (s) => s >= 200, 'REGISTER');
      if (response.status === 401) stale = response;
      else assert.equal(response.status, 200);
      return stale !== undefined;
    });
    const renewed = headerValues(stale!, 'WWW-Authenticate');
    assert.equal(parseAuthHeader(renewed[0]!)?.params.stale, 'TRUE');
    alice.send(register('rot-used', ++seq, answer(renewed)));
    assert.equal((await alice.response('rot-used', (s) => s >= 200, 'REGISTER')).status, 200);

    // Logged and counted, never the values.
    const reloaded = vx.logs.filter((l) => l.msg === 'secret reloaded from its file').map((l) => l.secret);
    assert.deepEqual([...reloaded].sort(), [...NAMES].sort());
    const text = JSON.stringify(vx.logs) + vx.stderr.join('\n');
    for (const v of [...Object.values(first), ...Object.values(second)]) {
      assert.ok(!text.includes(v), 'no secret value in the logs');
    }
    const exposition = await (await fetch(`${vx.httpUrl}/metrics`)).text();
    for (const v of Object.values(second)) assert.ok(!exposition.includes(v));
  });

  test('a file with a value its setting refuses is reported and not applied; the keys in use stay', async () => {
    const bad = { ...second, VOXGATE_ADMIN_API_KEY: 'not-a-key', VOXGATE_SIP_NONCE_SECRET: 'short' };
    await volume.update(bad);
    await until(
      'invalid values reported',
      async () => (await metric('VOXGATE_ADMIN_API_KEY', 'invalid')) === 1,
    );
    await until(
      'invalid nonce secret',
      async () => (await metric('VOXGATE_SIP_NONCE_SECRET', 'invalid')) === 1,
    );
    assert.equal((await api('/whoami', second.VOXGATE_ADMIN_API_KEY)).status, 200);
    assert.equal((await alice.register()).status, 200);
    assert.equal(await metric('VOXGATE_ADMIN_API_KEY', 'applied'), 1);
    await volume.update(second);
  });
});

describe('RotatingSecret: accepted at once, signing after the activation delay, the old one for the overlap', () => {
  test('the keys signed with and accepted over time', () => {
    let now = 1_000_000;
    const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const ring = new RotatingSecret(a, { activationMs: 100, overlapMs: 1000 }, () => now);
    assert.deepEqual([ring.current, ring.accepted], [a, [a]]);
    assert.equal(ring.rotate(a), false, 'the same value again changes nothing');
    assert.equal(ring.rotate(b), true);
    // Read, not signing yet: what replicas that have not read it yet sign (a) is still what this one signs.
    assert.deepEqual([ring.current, ring.accepted], [a, [a, b]]);
    now += 100;
    assert.deepEqual([ring.current, ring.accepted], [b, [b, a]]);
    now += 999;
    assert.deepEqual(ring.accepted, [b, a], 'a is accepted for the overlap after b began to sign');
    now += 1;
    assert.deepEqual([ring.current, ring.accepted], [b, [b]]);
    ring.rotate(c);
    now += 50;
    ring.rotate(a);
    assert.deepEqual([ring.current, ring.accepted], [b, [b, c, a]]);
  });
});

describe('VOXGATE_<NAME>_FILE: a secret setting read from a file', () => {
  test('the value is the file without its final line end; both ways at once, a non-secret or a missing file are refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'voxgate-secret-file-'));
    try {
      const secret = randomBytes(32).toString('base64url');
      await writeFile(join(dir, 'nonce'), `${secret}\n`);
      const env = { VOXGATE_SIP_NONCE_SECRET_FILE: join(dir, 'nonce') };
      const config = loadConfig(env);
      assert.equal(config.sip.nonceSecret, secret);
      assert.deepEqual(config.secretFiles, { VOXGATE_SIP_NONCE_SECRET: join(dir, 'nonce') });
      assert.match(
        formatEffectiveConfig(env),
        new RegExp(
          `^VOXGATE_SIP_NONCE_SECRET=\\*{4} {2}# set from VOXGATE_SIP_NONCE_SECRET_FILE=${dir}/nonce:`,
          'm',
        ),
      );
      const refused = (e: Record<string, string>, message: RegExp) =>
        assert.throws(
          () => loadConfig(e),
          (err: unknown) => err instanceof ConfigError && message.test(err.message),
        );
      refused(
        { ...env, VOXGATE_SIP_NONCE_SECRET: secret },
        /VOXGATE_SIP_NONCE_SECRET and VOXGATE_SIP_NONCE_SECRET_FILE are both set/,
      );
      refused({ VOXGATE_SIP_PORT_FILE: join(dir, 'nonce') }, /unknown setting VOXGATE_SIP_PORT_FILE/);
      refused(
        { VOXGATE_SIP_NONCE_SECRET_FILE: join(dir, 'none') },
        /VOXGATE_SIP_NONCE_SECRET_FILE=.* cannot read the file \(ENOENT\)/,
      );
      await writeFile(join(dir, 'short'), 'short');
      refused(
        { VOXGATE_SIP_NONCE_SECRET_FILE: join(dir, 'short') },
        /^VOXGATE_SIP_NONCE_SECRET_FILE=\(secret, not shown\) is invalid/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
