import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { storeBackends } from '../helpers/store-backends.js';
import { startApiApp, type ApiApp, openApiProperties } from '../helpers/api-app.js';

const backends = (await storeBackends()).filter((b) => b.name !== 'PGlite (data directory)');

interface Problem {
  type: string;
  status: number;
  detail: string;
  errors: { where: string; pointer: string; detail: string }[];
}

for (const backend of backends) {
  describe(
    `API: sipDigestAlgorithms of tenants and SIP users: ${backend.name}`,
    { skip: backend.skip },
    () => {
      let api: ApiApp;
      let cleanup: () => Promise<void>;
      let admin: string;

      before(async () => {
        const opened = await backend.open();
        api = await startApiApp(opened.db);
        cleanup = async () => {
          await api.close();
          await opened.db.close();
          await opened.cleanup();
        };
        admin = await api.key(null, 'admin');
      });
      after(() => cleanup());

      test('a tenant: null (inherit) by default, a list on create and change, null again', async () => {
        const plain = await api.call(admin, 'POST', '/v1/tenants', {
          name: 'Plain',
          sipDomain: 'plain.example',
        });
        assert.equal(plain.statusCode, 201);
        assert.equal(plain.json<{ sipDigestAlgorithms: unknown }>().sipDigestAlgorithms, null);

        const created = await api.call(admin, 'POST', '/v1/tenants', {
          name: 'Strong',
          sipDomain: 'strong.example',
          sipDigestAlgorithms: ['SHA-256', 'MD5'],
        });
        assert.equal(created.statusCode, 201);
        const tenant = created.json<{ id: string; sipDigestAlgorithms: unknown }>();
        assert.deepEqual(tenant.sipDigestAlgorithms, ['SHA-256', 'MD5']);
        const read = await api.call(admin, 'GET', `/v1/tenants/${tenant.id}`);
        assert.deepEqual(read.json<{ sipDigestAlgorithms: unknown }>().sipDigestAlgorithms, [
          'SHA-256',
          'MD5',
        ]);

        const changed = await api.call(admin, 'PATCH', `/v1/tenants/${tenant.id}`, {
          sipDigestAlgorithms: ['MD5', 'SHA-256'],
        });
        assert.equal(changed.statusCode, 200);
        assert.deepEqual(changed.json<{ sipDigestAlgorithms: unknown }>().sipDigestAlgorithms, [
          'MD5',
          'SHA-256',
        ]);
        const renamed = await api.call(admin, 'PATCH', `/v1/tenants/${tenant.id}`, { name: 'Strong Ltd' });
        assert.deepEqual(
          renamed.json<{ sipDigestAlgorithms: unknown }>().sipDigestAlgorithms,
          ['MD5', 'SHA-256'],
          'a change without the field keeps it',
        );
        const inherit = await api.call(admin, 'PATCH', `/v1/tenants/${tenant.id}`, {
          sipDigestAlgorithms: null,
        });
        assert.equal(inherit.json<{ sipDigestAlgorithms: unknown }>().sipDigestAlgorithms, null);

        const listed = await api.call(admin, 'GET', '/v1/tenants?limit=500');
        const items = listed.json<{ items: { id: string; sipDigestAlgorithms: unknown }[] }>().items;
        assert.equal(items.find((t) => t.id === tenant.id)?.sipDigestAlgorithms, null);
      });

      test('a SIP user: the same field, changed by an operator; the audit log keeps it', async () => {
        const tenantId = await api.tenant('Users');
        const operator = await api.key(tenantId, 'operator');
        const created = await api.call(operator, 'POST', `/v1/tenants/${tenantId}/users`, {
          username: 'alice',
          password: 'correct horse',
          sipDigestAlgorithms: ['SHA-256'],
        });
        assert.equal(created.statusCode, 201, created.body);
        const user = created.json<{ id: string; sipDigestAlgorithms: unknown }>();
        assert.deepEqual(user.sipDigestAlgorithms, ['SHA-256']);
        const bob = await api.call(operator, 'POST', `/v1/tenants/${tenantId}/users`, {
          username: 'bob',
          password: 'correct horse',
        });
        assert.equal(bob.json<{ sipDigestAlgorithms: unknown }>().sipDigestAlgorithms, null);

        const changed = await api.call(operator, 'PATCH', `/v1/tenants/${tenantId}/users/${user.id}`, {
          sipDigestAlgorithms: ['SHA-256', 'MD5'],
        });
        assert.equal(changed.statusCode, 200);
        assert.deepEqual(changed.json<{ sipDigestAlgorithms: unknown }>().sipDigestAlgorithms, [
          'SHA-256',
          'MD5',
        ]);
        const read = await api.call(operator, 'GET', `/v1/tenants/${tenantId}/users/${user.id}`);
        assert.deepEqual(read.json<{ sipDigestAlgorithms: unknown }>().sipDigestAlgorithms, [
          'SHA-256',
          'MD5',
        ]);
        const cleared = await api.call(operator, 'PATCH', `/v1/tenants/${tenantId}/users/${user.id}`, {
          sipDigestAlgorithms: null,
        });
        assert.equal(cleared.json<{ sipDigestAlgorithms: unknown }>().sipDigestAlgorithms, null);

        const { rows } = await api.db.query<{ before: { sipDigestAlgorithms: unknown } }>(
          `SELECT before FROM audit_log WHERE entity_id = $1 AND action = 'update' ORDER BY at DESC LIMIT 1`,
          [user.id],
        );
        assert.deepEqual(rows[0]?.before.sipDigestAlgorithms, ['SHA-256', 'MD5']);
      });

      test('a list that is empty, repeats or names another algorithm, or an object: a validation problem naming it', async () => {
        const tenantId = await api.tenant('Invalid');
        const created = await api.call(admin, 'POST', `/v1/tenants/${tenantId}/users`, {
          username: 'carol',
          password: 'correct horse',
        });
        const userId = created.json<{ id: string }>().id;
        const cases: [unknown, string][] = [
          [[], '/sipDigestAlgorithms'],
          [['MD5', 'MD5'], '/sipDigestAlgorithms'],
          [['SHA-512'], '/sipDigestAlgorithms/0'],
          [['md5'], '/sipDigestAlgorithms/0'],
          [{ MD5: true }, '/sipDigestAlgorithms'],
          ['MD5,SHA-256', '/sipDigestAlgorithms/0'],
          [['MD5', 'SHA-256', 'MD5'], '/sipDigestAlgorithms'],
        ];
        for (const [value, pointer] of cases) {
          for (const [method, url] of [
            ['PATCH', `/v1/tenants/${tenantId}`],
            ['PATCH', `/v1/tenants/${tenantId}/users/${userId}`],
            ['POST', `/v1/tenants/${tenantId}/users`],
          ] as const) {
            const body =
              method === 'POST'
                ? { username: 'dave', password: 'correct horse', sipDigestAlgorithms: value }
                : { sipDigestAlgorithms: value };
            const res = await api.call(admin, method, url, body);
            const label = `${method} ${url} ${JSON.stringify(value)}`;
            assert.equal(res.statusCode, 400, label);
            assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', label);
            const problem = res.json<Problem>();
            assert.equal(problem.type, '/problems/validation-failed', label);
            assert.ok(
              problem.errors.some((e) => e.where === 'body' && e.pointer === pointer),
              `${label}: ${JSON.stringify(problem.errors)}`,
            );
          }
        }
        // One name alone is a list of one: the API's JSON schemas coerce a scalar to an array, as for every list.
        const one = await api.call(admin, 'PATCH', `/v1/tenants/${tenantId}/users/${userId}`, {
          sipDigestAlgorithms: 'SHA-256',
        });
        assert.equal(one.statusCode, 200);
        assert.deepEqual(one.json<{ sipDigestAlgorithms: unknown }>().sipDigestAlgorithms, ['SHA-256']);
        const badTenant = await api.call(admin, 'POST', '/v1/tenants', {
          name: 'X',
          sipDomain: 'x.example',
          sipDigestAlgorithms: ['SHA-1'],
        });
        assert.equal(badTenant.statusCode, 400);
        assert.equal(badTenant.json<Problem>().errors[0]?.pointer, '/sipDigestAlgorithms/0');
      });

      test('the OpenAPI document shows the field on tenants and users, in requests and responses', async () => {
        const { request: body, response } = await openApiProperties(api.app);
        const expected = {
          type: ['array', 'null'],
          items: { enum: ['MD5', 'SHA-256'] },
          minItems: 1,
          maxItems: 2,
          uniqueItems: true,
        };
        for (const schema of [
          body('/v1/tenants', 'post'),
          body('/v1/tenants/{tenantId}', 'patch'),
          body('/v1/tenants/{tenantId}/users', 'post'),
          body('/v1/tenants/{tenantId}/users/{id}', 'patch'),
          response('/v1/tenants/{tenantId}', 'get', '200'),
          response('/v1/tenants/{tenantId}/users/{id}', 'get', '200'),
        ]) {
          assert.deepEqual(
            Object.fromEntries(
              Object.entries(schema.sipDigestAlgorithms as Record<string, unknown>).filter(
                ([k]) => k !== 'description',
              ),
            ),
            expected,
          );
        }
      });
    },
  );
}
