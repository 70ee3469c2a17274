import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCdrRepository } from '../../src/store/index.js';
import { storeBackends } from '../helpers/store-backends.js';
import { startApiApp, type ApiApp } from '../helpers/api-app.js';

const backends = (await storeBackends()).filter((b) => b.name !== 'PGlite (data directory)');

for (const backend of backends) {
  describe(`API contract: ${backend.name}`, { skip: backend.skip }, () => {
    let api: ApiApp;
    let cleanup: () => Promise<void>;
    let admin: string;
    let tenant: string;

    before(async () => {
      const opened = await backend.open();
      api = await startApiApp(opened.db, { bodyLimit: 4096 });
      cleanup = async () => {
        await api.close();
        await opened.db.close();
        await opened.cleanup();
      };
      admin = await api.key(null, 'admin');
      tenant = await api.tenant('Acme');
    });
    after(() => cleanup());

    const rowCounts = async () => {
      const { rows } = await api.db.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM trunks) || '/' || (SELECT count(*) FROM sip_users) || '/' ||
                (SELECT count(*) FROM routes) || '/' || (SELECT count(*) FROM audit_log) AS n`,
      );
      return rows[0]?.n;
    };

    test('malformed JSON, unknown fields, oversize bodies, wrong media types and bad ids: problem+json 4xx, nothing changes', async () => {
      const trunk = await api.call(admin, 'POST', `/v1/tenants/${tenant}/trunks`, {
        name: 't',
        host: '192.0.2.1',
      });
      assert.equal(trunk.statusCode, 201);
      const trunkId = trunk.json<{ id: string }>().id;
      const counts = await rowCounts();
      const cases: [string, string, string, unknown, { raw?: string; contentType?: string }?, number?][] = [
        ['malformed JSON', 'POST', `/v1/tenants/${tenant}/trunks`, undefined, { raw: '{"name": "x",' }],
        ['empty JSON body', 'POST', `/v1/tenants/${tenant}/users`, undefined, { raw: '' }],
        ['JSON that is not an object', 'POST', `/v1/tenants/${tenant}/trunks`, [1, 2]],
        [
          'unknown field',
          'POST',
          `/v1/tenants/${tenant}/trunks`,
          { name: 'y', host: '192.0.2.1', colour: 'red' },
        ],
        ['unknown field in a change', 'PATCH', `/v1/tenants/${tenant}/trunks/${trunkId}`, { secret: 'x' }],
        ['empty change', 'PATCH', `/v1/tenants/${tenant}/trunks/${trunkId}`, {}],
        ['wrong type', 'PATCH', `/v1/tenants/${tenant}/trunks/${trunkId}`, { port: 'five' }],
        ['username without password', 'PATCH', `/v1/tenants/${tenant}/trunks/${trunkId}`, { username: 'u' }],
        [
          'a CIDR PostgreSQL refuses',
          'POST',
          `/v1/tenants/${tenant}/trunks`,
          { name: 'z', host: 'h', inboundCidrs: ['10.0.0.1/8'] },
        ],
        [
          'a pattern that does not compile',
          'POST',
          `/v1/tenants/${tenant}/routes`,
          { name: 'r', pattern: '(', trunkIds: [trunkId] },
        ],
        [
          'oversize body',
          'POST',
          `/v1/tenants/${tenant}/trunks`,
          { name: 'big', host: 'h', inboundCidrs: [] },
          { raw: JSON.stringify({ name: 'x'.repeat(5000), host: 'h' }) },
          413,
        ],
        [
          'not JSON',
          'POST',
          `/v1/tenants/${tenant}/trunks`,
          undefined,
          { raw: 'name=x', contentType: 'application/x-www-form-urlencoded' },
          415,
        ],
        ['bad tenant id', 'GET', '/v1/tenants/not-a-uuid/trunks', undefined],
        ['bad object id', 'DELETE', `/v1/tenants/${tenant}/trunks/123`, undefined],
        ['bad key id', 'DELETE', '/v1/api-keys/!!', undefined],
        ['bad cursor', 'GET', `/v1/tenants/${tenant}/routes?after=nonsense`, undefined],
        ['unknown query parameter', 'GET', `/v1/tenants/${tenant}/trunks?sort=name`, undefined],
        ['limit out of range', 'GET', `/v1/tenants/${tenant}/trunks?limit=100000`, undefined],
      ];
      for (const [label, method, url, body, options, status] of cases) {
        const res = await api.call(admin, method, url, body, options);
        assert.equal(res.statusCode, status ?? 400, `${label}: ${res.body}`);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/, label);
        const problem = res.json<{ type: string; status: number; title: string }>();
        assert.equal(problem.status, res.statusCode, label);
        assert.match(problem.type, /^\/problems\//, label);
      }
      assert.equal(await rowCounts(), counts, 'nothing was written');
      const unknown = await api.call(admin, 'GET', '/v1/nothing-here');
      assert.equal(unknown.statusCode, 404);
      assert.match(String(unknown.headers['content-type']), /problem\+json/);
      const anonymous = await api.call(undefined, 'POST', `/v1/tenants/${tenant}/trunks`, undefined, {
        raw: '{',
      });
      assert.equal(anonymous.statusCode, 401, 'authentication comes before the body is read');
    });

    test('secrets: shown once or never, masked in the audit log; a new trunk password reaches the store', async () => {
      const created = await api.call(admin, 'POST', `/v1/tenants/${tenant}/trunks`, {
        name: 'carrier',
        host: '192.0.2.5',
        username: 'acme',
        password: 'first-secret',
        inboundCidrs: ['198.51.100.0/24'],
      });
      assert.equal(created.statusCode, 201);
      const id = created.json<{ id: string }>().id;
      const changed = await api.call(admin, 'PATCH', `/v1/tenants/${tenant}/trunks/${id}`, {
        username: 'acme2',
        password: 'second-secret',
      });
      assert.equal(changed.statusCode, 200, changed.body);
      assert.equal(changed.json<{ username: string }>().username, 'acme2');
      const user = await api.call(admin, 'POST', `/v1/tenants/${tenant}/users`, {
        username: 'alice',
        password: 'user-password-1',
      });
      const userId = user.json<{ id: string }>().id;
      await api.call(admin, 'PATCH', `/v1/tenants/${tenant}/users/${userId}`, {
        password: 'user-password-2',
      });
      const key = await api.call(admin, 'POST', '/v1/api-keys', {
        name: 'ci',
        role: 'viewer',
        tenantId: tenant,
      });
      const token = key.json<{ key: string; id: string }>().key;
      assert.match(token, /^vxg_/);
      const audit = await api.call(admin, 'GET', `/v1/audit?tenantId=${tenant}&limit=500`);
      for (const secret of ['first-secret', 'second-secret', 'user-password-1', 'user-password-2', token]) {
        for (const body of [created.body, changed.body, user.body, audit.body])
          assert.ok(!body.includes(secret), secret);
      }
      const shown = await api.call(admin, 'GET', `/v1/api-keys/${key.json<{ id: string }>().id}`);
      assert.ok(
        !shown.body.includes(token.slice(token.indexOf('_', 4) + 1)),
        'the secret is shown only once',
      );
      const entries = audit.json<{
        items: { entity: string; action: string; after: Record<string, unknown> }[];
      }>().items;
      const trunkUpdate = entries.find((e) => e.entity === 'trunk' && e.action === 'update');
      assert.equal(trunkUpdate?.after.password, '****', 'the audit says the password changed, not what to');
      const { rows } = await api.db.query<{ password: string }>('SELECT password FROM trunks WHERE id = $1', [
        id,
      ]);
      assert.equal(rows[0]?.password, 'second-secret');
      assert.equal((await api.call(token, 'GET', `/v1/tenants/${tenant}/trunks`)).statusCode, 200);
    });

    test('cursor pages walk every list once; CDRs filter by time, party and disposition and export as CSV', async () => {
      const t = (
        await api.call(admin, 'POST', `/v1/tenants/${tenant}/trunks`, { name: 'pg', host: 'h' })
      ).json<{ id: string }>();
      for (let i = 0; i < 5; i++) {
        const r = await api.call(admin, 'POST', `/v1/tenants/${tenant}/routes`, {
          name: `r${i}`,
          pattern: `${i}\\d+`,
          priority: 10 - (i % 3),
          trunkIds: [t.id],
        });
        assert.equal(r.statusCode, 201, r.body);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await api.call(
          admin,
          'GET',
          `/v1/tenants/${tenant}/routes?limit=2${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`,
        );
        const body = page.json<{
          items: { name: string; priority: number; trunks: { id: string }[] }[];
          nextCursor: string | null;
        }>();
        seen.push(...body.items.map((r) => `${r.priority}:${r.name}`));
        assert.ok(
          body.items.every((r) => r.trunks[0]?.id === t.id),
          'routes carry their trunks',
        );
        cursor = body.nextCursor;
      } while (cursor);
      assert.deepEqual(seen, ['8:r2', '9:r1', '9:r4', '10:r0', '10:r3']);

      const cdrs = createCdrRepository(api.db);
      const base = Date.parse('2026-01-01T00:00:00Z');
      for (let i = 0; i < 6; i++) {
        await cdrs.upsertFromEvent({
          type: 'ended',
          callId: `c${i}`,
          tenantId: tenant,
          direction: 'outbound',
          from: i % 2 ? 'sip:alice@acme.example' : 'sip:bob@acme.example',
          to: `+4420794600${i}`,
          startedAt: base + i * 60_000,
          answeredAt: i % 3 ? base + i * 60_000 + 2000 : undefined,
          endedAt: base + i * 60_000 + 32_000,
          disposition: i % 3 ? 'answered' : 'no-answer',
          sipCode: i % 3 ? 200 : 480,
        });
      }
      const q = (query: string) => api.call(admin, 'GET', `/v1/tenants/${tenant}/calls?${query}`);
      const ids = async (query: string) =>
        (await q(query)).json<{ items: { callId: string }[] }>().items.map((c) => c.callId);
      assert.deepEqual(await ids(''), ['c5', 'c4', 'c3', 'c2', 'c1', 'c0'], 'newest first');
      assert.deepEqual(await ids('party=alice'), ['c5', 'c3', 'c1']);
      assert.deepEqual(await ids('disposition=no-answer'), ['c3', 'c0']);
      assert.deepEqual(
        await ids(
          `since=${new Date(base + 120_000).toISOString()}&until=${new Date(base + 240_000).toISOString()}`,
        ),
        ['c3', 'c2'],
      );
      const first = (await q('limit=4')).json<{ nextCursor: string }>();
      assert.deepEqual(await ids(`limit=4&after=${first.nextCursor}`), ['c1', 'c0']);
      const csv = await q('format=csv&party=alice');
      assert.match(String(csv.headers['content-type']), /^text\/csv/);
      const lines = csv.body.trim().split('\r\n');
      assert.equal(
        lines[0],
        'callId,direction,from,to,trunkId,startedAt,answeredAt,endedAt,durationSeconds,disposition,sipCode,hangupBy,reason,ringingAt',
      );
      assert.equal(lines.length, 4);
      assert.match(lines[1]!, /^c5,outbound,sip:alice@acme.example,\+44207946005,,2026-01-01T00:05:00.000Z,/);
      assert.equal(
        (await api.call(admin, 'GET', `/v1/tenants/${tenant}/calls/c5`)).json<{ durationSeconds: number }>()
          .durationSeconds,
        30,
      );
    });

    test('every instant is ISO 8601: a live call reads like its CDR, and the OpenAPI document says so', async () => {
      const tenant = await api.tenant('Clock');
      const admin = await api.key(null, 'admin');
      const started = Date.parse('2026-02-03T04:05:06.789Z');
      const party = { tenantId: tenant, from: 'sip:alice@clock.example', to: 'sip:bob@clock.example' };
      await api.state.calls.put({
        ...party,
        callId: 'live-answered',
        state: 'answered',
        startedAt: started,
        answeredAt: started + 2000,
        gateway: 'gw-1',
      });
      await api.state.calls.put({ ...party, callId: 'live-ringing', state: 'ringing', startedAt: started });
      const live = await api.call(admin, 'GET', `/v1/tenants/${tenant}/calls/live`);
      assert.equal(live.statusCode, 200, live.body);
      const items = live.json<{ items: { callId: string }[] }>().items;
      assert.deepEqual(
        items.sort((a, b) => a.callId.localeCompare(b.callId)),
        [
          {
            ...party,
            callId: 'live-answered',
            state: 'answered',
            startedAt: '2026-02-03T04:05:06.789Z',
            answeredAt: '2026-02-03T04:05:08.789Z',
            gateway: 'gw-1',
            recording: false,
          },
          {
            ...party,
            callId: 'live-ringing',
            state: 'ringing',
            startedAt: '2026-02-03T04:05:06.789Z',
            answeredAt: null,
            recording: false,
          },
        ],
      );
      await createCdrRepository(api.db).upsertFromEvent({
        ...party,
        type: 'ended',
        callId: 'live-answered',
        direction: 'internal',
        startedAt: started,
        answeredAt: started + 2000,
        endedAt: started + 5000,
        disposition: 'answered',
      });
      const cdr = (await api.call(admin, 'GET', `/v1/tenants/${tenant}/calls/live-answered`)).json<{
        startedAt: string;
        answeredAt: string;
      }>();
      assert.equal(cdr.startedAt, '2026-02-03T04:05:06.789Z');
      assert.equal(cdr.answeredAt, '2026-02-03T04:05:08.789Z');

      const doc = (await api.app.inject({ url: '/openapi.json' })).json<{
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      }>();
      const text = JSON.stringify(doc.paths);
      assert.ok(!/epoch/i.test(text), 'no epoch timestamps documented');
      const liveSchema = JSON.stringify(
        doc.paths['/v1/tenants/{tenantId}/calls/live']?.get?.responses['200'],
      );
      assert.match(liveSchema, /"startedAt":\{"type":"string","format":"date-time"\}/);
    });

    test('OpenAPI 3.1 from the route schemas at /openapi.json, every /v1 route in it; docs UI at /docs', async () => {
      const doc = (await api.app.inject({ url: '/openapi.json' })).json<{
        openapi: string;
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
        components: { securitySchemes: Record<string, unknown> };
      }>();
      assert.equal(doc.openapi, '3.1.0');
      assert.ok(doc.components.securitySchemes.bearer);
      const documented = new Set(
        Object.entries(doc.paths).flatMap(([path, ops]) =>
          Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
        ),
      );
      const routes = api.app
        .printRoutes({ commonPrefix: false })
        .split('\n')
        .filter((l) => l.includes('/v1/'));
      assert.ok(routes.length > 0);
      for (const expected of [
        'POST /v1/tenants/{tenantId}/trunks',
        'PATCH /v1/tenants/{tenantId}/trunks/{id}',
        'DELETE /v1/tenants/{tenantId}/routes/{id}',
        'GET /v1/tenants/{tenantId}/numbers',
        'GET /v1/api-keys',
        'GET /v1/tenants/{tenantId}/calls',
        'GET /v1/tenants/{tenantId}/calls/live',
        'GET /v1/tenants/{tenantId}/registrations',
        'DELETE /v1/tenants/{tenantId}/calls/live/{callId}',
        'DELETE /v1/tenants/{tenantId}/registrations/{aor}',
        'GET /v1/audit',
      ]) {
        assert.ok(documented.has(expected), `${expected} is documented`);
      }
      assert.ok(![...documented].some((d) => d.includes('/healthz') || d.includes('/docs')));
      assert.ok(doc.paths['/v1/tenants/{tenantId}/trunks']?.post?.responses['201']);
      const ui = await api.app.inject({ url: '/docs/' });
      assert.equal(ui.statusCode, 200);
      assert.match(ui.body, /swagger/i);
    });
  });
}

describe('rate limit per API key', () => {
  test('past the limit a key gets 429 with Retry-After; other keys are not affected', async () => {
    const [backend] = await storeBackends();
    const opened = await backend!.open();
    const api = await startApiApp(opened.db, { rateLimitPerMinute: 5 });
    try {
      const busy = await api.key(null, 'viewer');
      const quiet = await api.key(null, 'viewer');
      // 12 requests in at most two fixed windows of 5: at least 2 are refused wherever a boundary falls.
      const answers = [];
      for (let i = 0; i < 12; i++) answers.push(await api.call(busy, 'GET', '/v1/whoami'));
      const refused = answers.filter((r) => r.statusCode === 429);
      assert.ok(refused.length >= 2, answers.map((r) => r.statusCode).join());
      assert.ok(answers.every((r) => r.statusCode === 200 || r.statusCode === 429));
      assert.match(String(refused[0]!.headers['retry-after']), /^\d+$/);
      assert.match(String(refused[0]!.headers['content-type']), /problem\+json/);
      assert.equal(refused[0]!.json<{ type: string }>().type, '/problems/rate-limited');
      const other = await api.call(quiet, 'GET', '/v1/whoami');
      assert.equal(other.statusCode, 200);
      assert.equal(other.headers['ratelimit-limit'], '5');
    } finally {
      await api.close();
      await opened.db.close();
      await opened.cleanup();
    }
  });
});
