import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  createApiKeyRepository,
  createCdrRepository,
  createNumberRepository,
  createRouteRepository,
  createSipUserRepository,
  createTrunkRepository,
  type ApiKeyRole,
} from '../../src/store/index.js';
import { storeBackends } from '../helpers/store-backends.js';
import { startApiApp, testHa1, type ApiApp } from '../helpers/api-app.js';

type Scope = 'platform' | 'own' | 'foreign';
const RANK: Record<ApiKeyRole, number> = { viewer: 0, operator: 1, admin: 2 };

interface Endpoint {
  name: string;
  /** Whether the endpoint works on tenant A (a foreign tenant's key gets 404). */
  scoped: boolean;
  platformOnly?: boolean;
  /**
   * The role is checked before the scope: admin-only endpoints (keys, audit) refuse a lesser key whatever it
   * names, so that 403 says nothing about whether the named object exists.
   */
  roleFirst?: boolean;
  role: ApiKeyRole;
  ok: number;
  /** The request; `allowed` says whether it will succeed (a mutation then gets a fresh object). */
  request(allowed: boolean): Promise<{ method: string; url: string; body?: unknown }>;
}

const backends = (await storeBackends()).filter((b) => b.name !== 'PGlite (data directory)');

for (const backend of backends) {
  describe(`authorization matrix: ${backend.name}`, { skip: backend.skip }, () => {
    let api: ApiApp;
    let cleanup: () => Promise<void>;
    let a: string;
    let b: string;
    const keys = new Map<string, string>();
    let n = 0;
    const uniq = () => `x${++n}`;

    // Fresh objects of tenant A, made directly in the store.
    const fixture = {
      user: async () =>
        createSipUserRepository(api.db).create({
          tenantId: a,
          username: uniq(),
          ha1Md5: '0'.repeat(32),
          ha1Sha256: '0'.repeat(64),
        }),
      trunk: async () =>
        createTrunkRepository(api.db).create({ tenantId: a, name: uniq(), host: '192.0.2.1' }),
      number: async () =>
        createNumberRepository(api.db).create({ tenantId: a, e164: `+1555${String(++n).padStart(7, '0')}` }),
      route: async () => {
        const trunk = await fixture.trunk();
        return createRouteRepository(api.db).create({
          tenantId: a,
          name: uniq(),
          pattern: '.*',
          trunkIds: [trunk.id],
        });
      },
      apiKey: async () =>
        (await createApiKeyRepository(api.db).create({ tenantId: a, role: 'viewer', name: 'k' })).id,
      /** A live call of tenant A in shared state, as a gateway replica records it. */
      liveCall: async () => {
        const callId = `live-${uniq()}`;
        await api.state.calls.put({
          callId,
          tenantId: a,
          from: 'sip:alice@alpha.example',
          to: 'sip:bob@alpha.example',
          state: 'answered',
          startedAt: Date.now(),
          answeredAt: Date.now(),
          gateway: 'gw-1',
        });
        return callId;
      },
      /** A registered contact of a user of tenant A. */
      binding: async () => {
        const aor = `sip:${uniq()}@alpha.example`;
        await api.state.registrations.put(aor, {
          contact: 'sip:phone@192.0.2.7:5060',
          expiresAt: Date.now() + 600_000,
          source: { address: '192.0.2.7', port: 5060 },
          transport: 'udp',
          callId: 'reg',
          cseq: 1,
          tenantId: a,
        });
        return aor;
      },
    };

    const get = (url: string) => async () => ({ method: 'GET', url });
    const crud = (
      kind: 'users' | 'trunks' | 'numbers' | 'routes',
      make: () => Promise<{ id: string }>,
      body: () => Promise<unknown>,
      patch: unknown,
    ): Endpoint[] => [
      {
        name: `POST ${kind}`,
        scoped: true,
        role: 'operator',
        ok: 201,
        request: async () => ({ method: 'POST', url: `/v1/tenants/${a}/${kind}`, body: await body() }),
      },
      {
        name: `GET ${kind}`,
        scoped: true,
        role: 'viewer',
        ok: 200,
        request: get(`/v1/tenants/${a}/${kind}`),
      },
      {
        name: `GET ${kind}/:id`,
        scoped: true,
        role: 'viewer',
        ok: 200,
        request: async () => ({ method: 'GET', url: `/v1/tenants/${a}/${kind}/${(await make()).id}` }),
      },
      {
        name: `PATCH ${kind}/:id`,
        scoped: true,
        role: 'operator',
        ok: 200,
        request: async () => ({
          method: 'PATCH',
          url: `/v1/tenants/${a}/${kind}/${(await make()).id}`,
          body: patch,
        }),
      },
      {
        name: `DELETE ${kind}/:id`,
        scoped: true,
        role: 'operator',
        ok: 204,
        request: async () => ({ method: 'DELETE', url: `/v1/tenants/${a}/${kind}/${(await make()).id}` }),
      },
    ];

    const endpoints = (): Endpoint[] => [
      { name: 'GET whoami', scoped: false, role: 'viewer', ok: 200, request: get('/v1/whoami') },
      { name: 'GET tenants', scoped: false, role: 'viewer', ok: 200, request: get('/v1/tenants') },
      {
        name: 'POST tenants',
        scoped: false,
        platformOnly: true,
        role: 'admin',
        ok: 201,
        request: async () => ({
          method: 'POST',
          url: '/v1/tenants',
          body: { name: 'T', sipDomain: `${uniq()}.example` },
        }),
      },
      {
        name: 'GET tenants/:id',
        scoped: true,
        role: 'viewer',
        ok: 200,
        request: async () => ({ method: 'GET', url: `/v1/tenants/${a}` }),
      },
      {
        name: 'PATCH tenants/:id',
        scoped: true,
        platformOnly: true,
        role: 'admin',
        ok: 200,
        request: async () => ({ method: 'PATCH', url: `/v1/tenants/${a}`, body: { maxCallsPerSecond: 10 } }),
      },
      {
        name: 'DELETE tenants/:id',
        scoped: true,
        platformOnly: true,
        role: 'admin',
        ok: 204,
        // Only a platform admin succeeds: it deletes a throwaway tenant, never A.
        request: async (allowed) => ({
          method: 'DELETE',
          url: `/v1/tenants/${allowed ? await api.tenant(uniq()) : a}`,
        }),
      },
      ...crud('users', fixture.user, async () => ({ username: uniq(), password: 'long enough' }), {
        displayName: 'D',
        password: 'another one',
      }),
      ...crud(
        'trunks',
        fixture.trunk,
        async () => ({ name: uniq(), host: '192.0.2.9', username: 'u', password: 'trunk-secret' }),
        { port: 5070, username: 'u', password: 'new-secret' },
      ),
      ...crud(
        'numbers',
        fixture.number,
        async () => ({ e164: `+1666${String(++n).padStart(7, '0')}`, userId: (await fixture.user()).id }),
        { userId: null },
      ),
      ...crud(
        'routes',
        fixture.route,
        async () => ({ name: uniq(), pattern: '00\\d+', trunkIds: [(await fixture.trunk()).id] }),
        { priority: 7 },
      ),
      {
        name: 'POST api-keys',
        scoped: true,
        roleFirst: true,
        role: 'admin',
        ok: 201,
        request: async () => ({
          method: 'POST',
          url: '/v1/api-keys',
          body: { name: 'k', role: 'viewer', tenantId: a },
        }),
      },
      {
        name: 'GET api-keys',
        scoped: true,
        roleFirst: true,
        role: 'admin',
        ok: 200,
        request: get(`/v1/api-keys?tenantId=${a}`),
      },
      {
        name: 'GET api-keys/:id',
        scoped: true,
        roleFirst: true,
        role: 'admin',
        ok: 200,
        request: async () => ({ method: 'GET', url: `/v1/api-keys/${await fixture.apiKey()}` }),
      },
      {
        name: 'DELETE api-keys/:id',
        scoped: true,
        roleFirst: true,
        role: 'admin',
        ok: 204,
        request: async () => ({ method: 'DELETE', url: `/v1/api-keys/${await fixture.apiKey()}` }),
      },
      { name: 'GET calls', scoped: true, role: 'viewer', ok: 200, request: get(`/v1/tenants/${a}/calls`) },
      {
        name: 'GET calls CSV',
        scoped: true,
        role: 'viewer',
        ok: 200,
        request: get(`/v1/tenants/${a}/calls?format=csv`),
      },
      {
        name: 'GET calls/:callId',
        scoped: true,
        role: 'viewer',
        ok: 200,
        request: get(`/v1/tenants/${a}/calls/call-a`),
      },
      {
        name: 'GET calls/live',
        scoped: true,
        role: 'viewer',
        ok: 200,
        request: get(`/v1/tenants/${a}/calls/live`),
      },
      {
        name: 'GET registrations',
        scoped: true,
        role: 'viewer',
        ok: 200,
        request: get(`/v1/tenants/${a}/registrations`),
      },
      {
        name: 'DELETE calls/live/:callId',
        scoped: true,
        role: 'operator',
        ok: 202,
        request: async (allowed) => ({
          method: 'DELETE',
          url: `/v1/tenants/${a}/calls/live/${allowed ? await fixture.liveCall() : 'none'}`,
        }),
      },
      {
        name: 'DELETE registrations/:aor',
        scoped: true,
        role: 'operator',
        ok: 204,
        request: async (allowed) => ({
          method: 'DELETE',
          url: `/v1/tenants/${a}/registrations/${encodeURIComponent(allowed ? await fixture.binding() : 'sip:none@alpha.example')}`,
        }),
      },
      {
        name: 'GET audit',
        scoped: true,
        roleFirst: true,
        role: 'admin',
        ok: 200,
        request: get(`/v1/audit?tenantId=${a}`),
      },
    ];

    const expected = (e: Endpoint, scope: Scope, role: ApiKeyRole): number => {
      if (e.roleFirst && RANK[role] < RANK[e.role]) return 403;
      if (e.scoped && scope === 'foreign') return 404;
      if (e.platformOnly && scope !== 'platform') return 403;
      return RANK[role] >= RANK[e.role] ? e.ok : 403;
    };

    before(async () => {
      const opened = await backend.open();
      cleanup = async () => {
        await api.close();
        await opened.db.close();
        await opened.cleanup();
      };
      api = await startApiApp(opened.db);
      a = await api.tenant('Alpha');
      b = await api.tenant('Beta');
      for (const role of ['admin', 'operator', 'viewer'] as const) {
        keys.set(`platform:${role}`, await api.key(null, role));
        keys.set(`own:${role}`, await api.key(a, role));
        keys.set(`foreign:${role}`, await api.key(b, role));
      }
      await createCdrRepository(api.db).upsertFromEvent({
        type: 'ended',
        callId: 'call-a',
        tenantId: a,
        direction: 'internal',
        from: 'sip:alice@alpha.example',
        to: 'sip:bob@alpha.example',
        startedAt: Date.now() - 5000,
        endedAt: Date.now(),
        disposition: 'no-answer',
      });
    });
    after(() => cleanup());

    test('every endpoint × role × platform/own/foreign tenant: allowed, 403 in scope, 404 out of scope', async () => {
      const failures: string[] = [];
      let cases = 0;
      for (const endpoint of endpoints()) {
        for (const scope of ['platform', 'own', 'foreign'] as const) {
          for (const role of ['admin', 'operator', 'viewer'] as const) {
            const want = expected(endpoint, scope, role);
            const req = await endpoint.request(want === endpoint.ok);
            const auditBefore = await api.auditCount();
            const res = await api.call(keys.get(`${scope}:${role}`), req.method, req.url, req.body);
            cases++;
            const label = `${endpoint.name} as ${scope} ${role}`;
            if (res.statusCode !== want)
              failures.push(`${label}: ${res.statusCode}, expected ${want}: ${res.body}`);
            if (want >= 400) {
              if (!/application\/problem\+json/.test(String(res.headers['content-type'])))
                failures.push(`${label}: not a problem document`);
              if ((await api.auditCount()) !== auditBefore) failures.push(`${label}: refused yet audited`);
            } else if (req.method !== 'GET' && (await api.auditCount()) !== auditBefore + 1) {
              failures.push(`${label}: the mutation has no audit entry`);
            }
          }
        }
      }
      assert.deepEqual(failures, []);
      assert.equal(cases, endpoints().length * 9);
    });

    test("tenant A's keys reach none of tenant B's objects through A's paths (404), nor wire B's objects into A", async () => {
      const admin = keys.get('own:admin')!;
      const bUser = await createSipUserRepository(api.db).create({
        tenantId: b,
        username: 'eve',
        ha1Md5: testHa1('MD5', 'eve', 'beta.example', 'pw'),
        ha1Sha256: testHa1('SHA-256', 'eve', 'beta.example', 'pw'),
      });
      const bTrunk = await createTrunkRepository(api.db).create({
        tenantId: b,
        name: 'bt',
        host: '192.0.2.2',
      });
      const bNumber = await createNumberRepository(api.db).create({ tenantId: b, e164: '+15559990000' });
      const bRoute = await createRouteRepository(api.db).create({
        tenantId: b,
        name: 'br',
        pattern: '.*',
        trunkIds: [bTrunk.id],
      });
      const bKey = (await createApiKeyRepository(api.db).create({ tenantId: b, role: 'viewer', name: 'bk' }))
        .id;
      const auditBefore = await api.auditCount();
      for (const [kind, id] of [
        ['users', bUser.id],
        ['trunks', bTrunk.id],
        ['numbers', bNumber.id],
        ['routes', bRoute.id],
      ] as const) {
        for (const method of ['GET', 'PATCH', 'DELETE']) {
          const body =
            method === 'PATCH' ? (kind === 'numbers' ? { userId: null } : { enabled: true }) : undefined;
          const body2 = kind === 'routes' && method === 'PATCH' ? { priority: 1 } : body;
          const res = await api.call(admin, method, `/v1/tenants/${a}/${kind}/${id}`, body2);
          assert.equal(res.statusCode, 404, `${method} ${kind}: ${res.body}`);
        }
      }
      for (const [method, url] of [
        ['GET', `/v1/api-keys/${bKey}`],
        ['DELETE', `/v1/api-keys/${bKey}`],
        ['GET', `/v1/tenants/${a}/calls/call-b`],
      ] as const) {
        assert.equal((await api.call(admin, method, url)).statusCode, 404, `${method} ${url}`);
      }
      const number = await api.call(admin, 'POST', `/v1/tenants/${a}/numbers`, {
        e164: '+15559990001',
        userId: bUser.id,
      });
      assert.equal(number.statusCode, 404, 'a number cannot ring another tenant’s user');
      const route = await api.call(admin, 'POST', `/v1/tenants/${a}/routes`, {
        name: 'r',
        pattern: '.*',
        trunkIds: [bTrunk.id],
      });
      assert.equal(route.statusCode, 404, 'a route cannot use another tenant’s trunk');
      const listed = await api.call(admin, 'GET', '/v1/api-keys');
      assert.ok(!listed.body.includes(bKey), 'a tenant admin lists its own keys only');
      assert.equal(await api.auditCount(), auditBefore, 'nothing changed');
      // Random ids are the same 404 as foreign ones: no way to tell them apart.
      assert.equal((await api.call(admin, 'GET', `/v1/tenants/${a}/trunks/${randomUUID()}`)).statusCode, 404);
      assert.equal((await api.call(admin, 'GET', `/v1/tenants/${randomUUID()}/trunks`)).statusCode, 404);
    });
  });
}
