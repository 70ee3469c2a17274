// mediaEncryption (auto | none | sdes | dtls) of SIP users, trunks and routes through the tenant resources: auto
// by default, set on create, changed and kept (dtls too, through migration 0014's constraint), audited; anything
// else is a validation problem naming the member; the OpenAPI document shows the field in requests and responses.
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

type Encrypted = { id: string; mediaEncryption: unknown };

for (const backend of backends) {
  describe(
    `API: mediaEncryption of users, trunks and routes: ${backend.name}`,
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

      test('auto by default, set on create, changed, kept by other changes, audited', async () => {
        const tenantId = await api.tenant('Secure');
        const operator = await api.key(tenantId, 'operator');
        const base = `/v1/tenants/${tenantId}`;

        const alice = await api.call(operator, 'POST', `${base}/users`, {
          username: 'alice',
          password: 'correct horse',
        });
        assert.equal(alice.statusCode, 201, alice.body);
        assert.equal(alice.json<Encrypted>().mediaEncryption, 'auto');
        const bob = await api.call(operator, 'POST', `${base}/users`, {
          username: 'bob',
          password: 'correct horse',
          mediaEncryption: 'sdes',
        });
        assert.equal(bob.json<Encrypted>().mediaEncryption, 'sdes');
        const bobId = bob.json<Encrypted>().id;
        const userChanged = await api.call(operator, 'PATCH', `${base}/users/${bobId}`, {
          mediaEncryption: 'none',
        });
        assert.equal(userChanged.statusCode, 200);
        assert.equal(userChanged.json<Encrypted>().mediaEncryption, 'none');
        const renamed = await api.call(operator, 'PATCH', `${base}/users/${bobId}`, { displayName: 'Bob' });
        assert.equal(
          renamed.json<Encrypted>().mediaEncryption,
          'none',
          'a change without the field keeps it',
        );

        const trunk = await api.call(operator, 'POST', `${base}/trunks`, {
          name: 'carrier',
          host: '192.0.2.1',
        });
        assert.equal(trunk.statusCode, 201, trunk.body);
        assert.equal(trunk.json<Encrypted>().mediaEncryption, 'auto');
        const trunkId = trunk.json<Encrypted>().id;
        const trunkChanged = await api.call(operator, 'PATCH', `${base}/trunks/${trunkId}`, {
          mediaEncryption: 'sdes',
        });
        assert.equal(trunkChanged.json<Encrypted>().mediaEncryption, 'sdes');
        const trunkRead = await api.call(operator, 'GET', `${base}/trunks/${trunkId}`);
        assert.equal(trunkRead.json<Encrypted>().mediaEncryption, 'sdes');

        const route = await api.call(operator, 'POST', `${base}/routes`, {
          name: 'out',
          pattern: '\\d+',
          trunkIds: [trunkId],
          mediaEncryption: 'none',
        });
        assert.equal(route.statusCode, 201, route.body);
        const created = route.json<Encrypted & { trunks: Encrypted[] }>();
        assert.equal(created.mediaEncryption, 'none');
        assert.equal(created.trunks[0]?.mediaEncryption, 'sdes', "the route's trunks show their own");
        const routeChanged = await api.call(operator, 'PATCH', `${base}/routes/${created.id}`, {
          mediaEncryption: 'auto',
        });
        assert.equal(routeChanged.json<Encrypted>().mediaEncryption, 'auto');
        const listed = await api.call(operator, 'GET', `${base}/routes`);
        assert.equal(listed.json<{ items: Encrypted[] }>().items[0]?.mediaEncryption, 'auto');

        const { rows } = await api.db.query<{
          before: { mediaEncryption: unknown };
          after: { mediaEncryption: unknown };
        }>(
          `SELECT before, after FROM audit_log WHERE entity_id = $1 AND action = 'update' ORDER BY at LIMIT 1`,
          [bobId],
        );
        assert.deepEqual([rows[0]?.before.mediaEncryption, rows[0]?.after.mediaEncryption], ['sdes', 'none']);
      });

      test('dtls is kept on users, trunks and routes (the store accepts it)', async () => {
        const tenantId = await api.tenant('Dtls');
        const base = `/v1/tenants/${tenantId}`;
        const user = await api.call(admin, 'POST', `${base}/users`, {
          username: 'webrtc',
          password: 'correct horse',
          mediaEncryption: 'dtls',
        });
        assert.equal(user.statusCode, 201, user.body);
        assert.equal(user.json<Encrypted>().mediaEncryption, 'dtls');
        const trunk = await api.call(admin, 'POST', `${base}/trunks`, {
          name: 'wt',
          host: '192.0.2.9',
          mediaEncryption: 'dtls',
        });
        assert.equal(trunk.json<Encrypted>().mediaEncryption, 'dtls');
        const route = await api.call(admin, 'POST', `${base}/routes`, {
          name: 'wr',
          pattern: '9',
          trunkIds: [trunk.json<Encrypted>().id],
          mediaEncryption: 'dtls',
        });
        assert.equal(route.json<Encrypted>().mediaEncryption, 'dtls');
      });

      test('another value — SRTP, DTLS-SRTP, an upper-case or empty one, null, a list — is a validation problem', async () => {
        const tenantId = await api.tenant('Invalid');
        const base = `/v1/tenants/${tenantId}`;
        const user = await api.call(admin, 'POST', `${base}/users`, {
          username: 'carol',
          password: 'correct horse',
        });
        const trunk = await api.call(admin, 'POST', `${base}/trunks`, { name: 't', host: '192.0.2.2' });
        const trunkId = trunk.json<Encrypted>().id;
        const route = await api.call(admin, 'POST', `${base}/routes`, {
          name: 'r',
          pattern: '\\d+',
          trunkIds: [trunkId],
        });
        const targets: [string, string, Record<string, unknown>][] = [
          ['POST', `${base}/users`, { username: 'dave', password: 'correct horse' }],
          ['PATCH', `${base}/users/${user.json<Encrypted>().id}`, {}],
          ['POST', `${base}/trunks`, { name: 'u', host: '192.0.2.3' }],
          ['PATCH', `${base}/trunks/${trunkId}`, {}],
          ['POST', `${base}/routes`, { name: 's', pattern: '1', trunkIds: [trunkId] }],
          ['PATCH', `${base}/routes/${route.json<Encrypted>().id}`, {}],
        ];
        for (const value of ['srtp', 'dtls-srtp', 'SDES', 'DTLS', '', null, ['sdes'], true]) {
          for (const [method, url, rest] of targets) {
            const res = await api.call(admin, method as 'POST' | 'PATCH', url, {
              ...rest,
              mediaEncryption: value,
            });
            const label = `${method} ${url} ${JSON.stringify(value)}`;
            assert.equal(res.statusCode, 400, label);
            assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', label);
            const problem = res.json<Problem>();
            assert.equal(problem.type, '/problems/validation-failed', label);
            assert.ok(
              problem.errors.some((e) => e.where === 'body' && e.pointer === '/mediaEncryption'),
              `${label}: ${JSON.stringify(problem.errors)}`,
            );
          }
        }
        const unchanged = await api.call(admin, 'GET', `${base}/trunks/${trunkId}`);
        assert.equal(unchanged.json<Encrypted>().mediaEncryption, 'auto');
      });

      test('the OpenAPI document shows the field on users, trunks and routes, in requests and responses', async () => {
        const { request: body, response } = await openApiProperties(api.app);
        for (const resource of ['users', 'trunks', 'routes']) {
          const collection = `/v1/tenants/{tenantId}/${resource}`;
          const item = `${collection}/{id}`;
          for (const [label, schema] of [
            ['create', body(collection, 'post')],
            ['update', body(item, 'patch')],
            ['read', response(item, 'get', '200')],
          ] as const) {
            const field = schema.mediaEncryption as { enum?: unknown; description?: unknown } | undefined;
            assert.deepEqual(field?.enum, ['auto', 'none', 'sdes', 'dtls'], `${resource} ${label}`);
            assert.equal(typeof field?.description, 'string', `${resource} ${label}`);
          }
        }
      });
    },
  );
}
