import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { answerChallenge } from '../../src/sip/index.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';
import { udpRequest } from '../helpers/udp.js';

const adminKey = `vxg_test${randomBytes(2).toString('hex')}_${randomBytes(24).toString('base64url')}`;

describe('provisioning API over real HTTP, then SIP registration with what it created', () => {
  let vx: VoxgateProcess;
  let tenantId: string;
  const api = (path: string, init: { method?: string; body?: unknown; key?: string } = {}) =>
    fetch(`${vx.httpUrl}/v1${path}`, {
      method: init.method ?? (init.body ? 'POST' : 'GET'),
      headers: {
        authorization: `Bearer ${init.key ?? adminKey}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
      },
      body:
        init.body === undefined
          ? undefined
          : typeof init.body === 'string'
            ? init.body
            : JSON.stringify(init.body),
    });

  before(async () => {
    vx = await startVoxgate([], { VOXGATE_ADMIN_API_KEY: adminKey });
  });
  after(() => vx.stop());

  test('POST /v1/tenants creates a tenant (201, Location); the same domain again is a 409 problem', async () => {
    const created = await api('/tenants', { body: { name: 'Acme', sipDomain: 'Acme.Example' } });
    assert.equal(created.status, 201);
    const tenant = (await created.json()) as { id: string; sipDomain: string };
    tenantId = tenant.id;
    assert.equal(created.headers.get('location'), `/v1/tenants/${tenant.id}`);
    assert.equal(tenant.sipDomain, 'acme.example');
    const again = await api('/tenants', { body: { name: 'Acme 2', sipDomain: 'acme.example' } });
    assert.equal(again.status, 409);
    assert.equal(again.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    const problem = (await again.json()) as { type: string; status: number; detail: string };
    assert.equal(problem.type, '/problems/conflict');
    assert.equal(problem.status, 409);
  });

  test('bad JSON and bad fields are RFC 9457 validation problems, never a 500', async () => {
    const broken = await api('/tenants', { body: '{"name": ' });
    assert.equal(broken.status, 400);
    assert.equal(((await broken.json()) as { type: string }).type, '/problems/validation-failed');
    const bad = await api('/tenants', { body: { name: 'X', sipDomain: 'not a domain!' } });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { detail: string }).detail, /sipDomain/);
    const extra = await api('/tenants', { body: { name: 'X', sipDomain: 'x.example', admin: true } });
    assert.equal(extra.status, 400);
  });

  test('GET /v1/tenants pages with a cursor; an unknown tenant is 404', async () => {
    await api('/tenants', { body: { name: 'Beta', sipDomain: 'beta.example' } });
    const page = (await (await api('/tenants?limit=1')).json()) as {
      items: { id: string }[];
      nextCursor: string | null;
    };
    assert.equal(page.items.length, 1);
    assert.ok(page.nextCursor);
    const next = (await (await api(`/tenants?limit=1&after=${page.nextCursor}`)).json()) as {
      items: { id: string }[];
    };
    assert.equal(next.items.length, 1);
    assert.notEqual(next.items[0]!.id, page.items[0]!.id);
    assert.equal((await api('/tenants/00000000-0000-4000-8000-000000000000')).status, 404);
  });

  test('a SIP user is created with a password that is never returned, and can then REGISTER over SIP', async () => {
    const created = await api(`/tenants/${tenantId}/users`, {
      body: { username: 'alice', password: 'correct horse' },
    });
    assert.equal(created.status, 201);
    const user = (await created.json()) as Record<string, unknown>;
    assert.equal(user.sipUri, 'sip:alice@acme.example');
    assert.ok(!JSON.stringify(user).includes('correct horse') && !('ha1Md5' in user));
    const list = (await (await api(`/tenants/${tenantId}/users`)).json()) as {
      items: { username: string }[];
    };
    assert.deepEqual(
      list.items.map((u) => u.username),
      ['alice'],
    );
    assert.equal(
      (await api(`/tenants/${tenantId}/users`, { body: { username: 'alice', password: 'another one' } }))
        .status,
      409,
    );

    const port = vx.sipUdpPort!;
    const register = (cseq: number, authorization?: string) =>
      [
        'REGISTER sip:acme.example SIP/2.0',
        `Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
        'Max-Forwards: 70',
        'From: <sip:alice@acme.example>;tag=api1',
        'To: <sip:alice@acme.example>',
        'Call-ID: api-e2e@127.0.0.1',
        `CSeq: ${cseq} REGISTER`,
        'Contact: <sip:alice@192.0.2.77:5060>',
        'Expires: 300',
        ...(authorization ? [`Authorization: ${authorization}`] : []),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    const challenge = (await udpRequest(port, register(1))).toString('latin1');
    assert.match(challenge, /^SIP\/2\.0 401 /);
    const answer = answerChallenge({
      challenges: [...challenge.matchAll(/\r\nWWW-Authenticate: ([^\r]*)/g)].map((m) => m[1]!),
      method: 'REGISTER',
      uri: 'sip:acme.example',
      username: 'alice',
      password: 'correct horse',
    });
    const ok = (await udpRequest(port, register(2, answer!.authorization))).toString('latin1');
    assert.match(ok, /^SIP\/2\.0 200 OK\r\n/);
    assert.match(ok, /\r\nContact: <sip:alice@192\.0\.2\.77:5060>;expires=\d+\r\n/);
  });

  test('every successful mutation is in the audit log with actor and address; the refused one is not', async () => {
    const res = await api('/audit?limit=100');
    assert.equal(res.status, 200);
    const { items } = (await res.json()) as {
      items: {
        action: string;
        entity: string;
        actorKeyId: string;
        sourceIp: string;
        after: Record<string, unknown>;
      }[];
    };
    assert.deepEqual(
      items.map((e) => `${e.action} ${e.entity}`).reverse(),
      ['create tenant', 'create tenant', 'create sip-user'],
      'two tenants and one user: the 409 attempts left nothing',
    );
    assert.ok(items.every((e) => adminKey.startsWith(`vxg_${e.actorKeyId}_`)));
    assert.ok(items.every((e) => e.sourceIp === '127.0.0.1'));
    const user = items.find((e) => e.entity === 'sip-user')!;
    assert.equal(user.after.username, 'alice');
    assert.ok(!JSON.stringify(user).includes('correct horse'));
  });

  test("digest challenges: MD5 alone by default; a tenant's and then a user's sipDigestAlgorithms reach the running gateway", async () => {
    const port = vx.sipUdpPort!;
    const challengeOf = async () => {
      const request = [
        'REGISTER sip:acme.example SIP/2.0',
        `Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
        'Max-Forwards: 70',
        'From: <sip:alice@acme.example>;tag=api2',
        'To: <sip:alice@acme.example>',
        'Call-ID: api-digest@127.0.0.1',
        'CSeq: 1 REGISTER',
        'Contact: <sip:alice@192.0.2.77:5060>',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      const reply = (await udpRequest(port, request)).toString('latin1');
      return [...reply.matchAll(/\r\nWWW-Authenticate: [^\r]*algorithm=([A-Z0-9-]+)/g)].map((m) => m[1]!);
    };
    /** The gateway drops its directory cache when the change is announced: soon, not at once. */
    const eventually = async (expected: string[]) => {
      const deadline = Date.now() + 10_000;
      let seen = await challengeOf();
      while (JSON.stringify(seen) !== JSON.stringify(expected) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        seen = await challengeOf();
      }
      assert.deepEqual(seen, expected);
    };
    assert.deepEqual(await challengeOf(), ['MD5'], 'one challenge, MD5, on the defaults');
    const tenant = await api(`/tenants/${tenantId}`, {
      method: 'PATCH',
      body: { sipDigestAlgorithms: ['SHA-256', 'MD5'] },
    });
    assert.equal(tenant.status, 200);
    await eventually(['SHA-256', 'MD5']);
    const users = (await (await api(`/tenants/${tenantId}/users`)).json()) as { items: { id: string }[] };
    const user = await api(`/tenants/${tenantId}/users/${users.items[0]!.id}`, {
      method: 'PATCH',
      body: { sipDigestAlgorithms: ['MD5'] },
    });
    assert.equal(user.status, 200);
    await eventually(['MD5']);
  });

  test('without a valid key every route is a 401 problem', async () => {
    const res = await api('/tenants', { key: 'vxg_nope_aaaaaaaaaaaaaaaaaaaaaaaaaaaa' });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="voxgate"');
  });
});
