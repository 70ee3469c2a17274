import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createWebhookRepository,
  openDatabase,
  parseWebhookAllow,
  webhookEventOfCall,
} from '../../src/store/index.js';
import { openApiProperties, startApiApp, type ApiApp } from '../helpers/api-app.js';

/** Names the tests resolve without DNS. */
const NAMES: Record<string, string[]> = {
  'inside.example': ['10.1.2.3'],
  'mixed.example': ['203.0.113.9', '127.0.0.1'],
  'outside.example': ['198.51.100.20'],
};
const resolve = async (host: string) => {
  const found = NAMES[host];
  if (!found) throw new Error(`ENOTFOUND ${host}`);
  return found;
};

describe('webhooks through the API', () => {
  let api: ApiApp;
  let closed: ApiApp;
  let tenant: string;
  let other: string;
  let admin: string;

  before(async () => {
    const allow = parseWebhookAllow('127.0.0.1, .hooks.example, 198.51.100.0/24');
    assert.ok(allow);
    api = await startApiApp(await openDatabase({ dataDir: 'memory://' }), { webhooks: { allow, resolve } });
    closed = await startApiApp(await openDatabase({ dataDir: 'memory://' }));
    tenant = await api.tenant('Acme');
    other = await api.tenant('Other');
    admin = await api.key(tenant, 'admin');
  });
  after(async () => {
    await api.close();
    await closed.close();
  });

  test('create returns the secret once; reads never do; change, list and delete; audited masked', async () => {
    const base = `/v1/tenants/${tenant}/webhooks`;
    const created = await api.call(admin, 'POST', base, {
      url: 'http://127.0.0.1:9/hook',
      events: ['call.ended', 'registration.changed'],
    });
    assert.equal(created.statusCode, 201, created.body);
    const hook = created.json<{ id: string; secret: string; enabled: boolean; events: string[] }>();
    assert.match(hook.secret, /^whsec_[A-Za-z0-9_-]{32}$/, 'a generated secret');
    assert.equal(hook.enabled, true);
    assert.equal(created.headers.location, `${base}/${hook.id}`);

    const read = await api.call(admin, 'GET', `${base}/${hook.id}`);
    assert.equal(read.statusCode, 200);
    assert.equal(read.json<{ secret?: string }>().secret, undefined);
    assert.doesNotMatch(read.body, new RegExp(hook.secret));
    const listed = await api.call(await api.key(tenant, 'viewer'), 'GET', base);
    assert.equal(listed.statusCode, 200, 'a viewer reads');
    assert.equal(listed.json<{ items: unknown[] }>().items.length, 1);
    assert.doesNotMatch(listed.body, new RegExp(hook.secret));

    const given = await api.call(admin, 'POST', base, {
      url: 'https://a.hooks.example/x',
      events: ['call.started'],
      secret: 'my-own-secret-0123456789',
      enabled: false,
    });
    assert.equal(given.statusCode, 201, given.body);
    assert.equal(given.json<{ secret: string }>().secret, 'my-own-secret-0123456789');

    const patched = await api.call(admin, 'PATCH', `${base}/${hook.id}`, {
      enabled: false,
      secret: 'rotated-secret-0123456789',
    });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json<{ enabled: boolean }>().enabled, false);
    assert.doesNotMatch(patched.body, /rotated-secret/);

    const audit = await api.call(await api.key(null, 'admin'), 'GET', `/v1/audit?tenantId=${tenant}`);
    assert.match(audit.body, /"entity":"webhook"/);
    assert.doesNotMatch(audit.body, new RegExp(hook.secret), 'the audit log masks the secret');
    assert.doesNotMatch(audit.body, /my-own-secret|rotated-secret/);

    assert.equal((await api.call(admin, 'DELETE', `${base}/${hook.id}`)).statusCode, 204);
    assert.equal((await api.call(admin, 'GET', `${base}/${hook.id}`)).statusCode, 404);
  });

  test('only admin keys change webhooks; another tenant sees nothing', async () => {
    const base = `/v1/tenants/${tenant}/webhooks`;
    const body = { url: 'http://127.0.0.1:9/', events: ['call.started'] };
    for (const role of ['viewer', 'operator'] as const) {
      const refused = await api.call(await api.key(tenant, role), 'POST', base, body);
      assert.equal(refused.statusCode, 403, role);
      assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
    }
    const made = (await api.call(admin, 'POST', base, body)).json<{ id: string }>();
    const foreign = await api.key(other, 'admin');
    assert.equal((await api.call(foreign, 'GET', `${base}/${made.id}`)).statusCode, 404);
    assert.equal((await api.call(foreign, 'GET', `${base}/${made.id}/deliveries`)).statusCode, 404);
    assert.equal(
      (await api.call(foreign, 'GET', `/v1/tenants/${other}/webhooks/${made.id}/deliveries`)).statusCode,
      404,
      "another tenant's webhook id under one's own tenant",
    );
  });

  test('URLs outside http(s) or to hosts the operator did not allow are refused with a problem', async () => {
    const base = `/v1/tenants/${tenant}/webhooks`;
    const cases: [string, RegExp][] = [
      ['ftp://127.0.0.1/x', /http or https/],
      ['file:///etc/passwd', /http or https/],
      ['not a url', /absolute URL/],
      ['http://10.0.0.1/hook', /10\.0\.0\.1 is not an allowed/],
      ['http://169.254.169.254/latest/meta-data', /not an allowed/],
      ['http://[::1]:8080/', /::1 is not an allowed/],
      ['http://127.0.0.2/', /not an allowed/],
      ['http://user:pw@127.0.0.1/', /credentials/],
      // The suffix allows names under it, not itself: hooks.example must resolve into an allowed address.
      ['http://hooks.example/', /hooks\.example does not resolve/],
      ['http://inside.example/', /resolves to 10\.1\.2\.3/],
      ['http://mixed.example/', /resolves to 203\.0\.113\.9/],
      ['http://nowhere.example/', /does not resolve/],
    ];
    for (const [url, detail] of cases) {
      const res = await api.call(admin, 'POST', base, { url, events: ['call.ended'] });
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const problem = res.json<{ type: string; detail: string }>();
      assert.equal(problem.type, '/problems/validation-failed');
      assert.match(problem.detail, detail, url);
    }
    const ok = await api.call(admin, 'POST', base, {
      url: 'https://outside.example/',
      events: ['call.ended'],
    });
    assert.equal(ok.statusCode, 201, 'a name resolving into an allowed CIDR');
    const id = ok.json<{ id: string }>().id;
    const moved = await api.call(admin, 'PATCH', `${base}/${id}`, { url: 'http://10.0.0.1/' });
    assert.equal(moved.statusCode, 400, 'a PATCH is checked too');
    for (const bad of [
      { url: 'http://127.0.0.1/', events: [] },
      { url: 'http://127.0.0.1/', events: ['call.exploded'] },
      { url: 'http://127.0.0.1/', events: ['call.ended'], secret: 'short' },
      { url: 'http://127.0.0.1/', events: ['call.ended'], extra: 1 },
    ]) {
      assert.equal((await api.call(admin, 'POST', base, bad)).statusCode, 400, JSON.stringify(bad));
    }

    // Without VOXGATE_WEBHOOK_ALLOW, no URL at all.
    const t = await closed.tenant('Closed');
    const none = await closed.call(await closed.key(t, 'admin'), 'POST', `/v1/tenants/${t}/webhooks`, {
      url: 'https://example.com/hook',
      events: ['call.ended'],
    });
    assert.equal(none.statusCode, 400);
    assert.match(none.json<{ detail: string }>().detail, /not enabled.*VOXGATE_WEBHOOK_ALLOW/);
  });

  test('the delivery log is paged newest first and filtered by state', async () => {
    const base = `/v1/tenants/${tenant}/webhooks`;
    const made = await api.call(admin, 'POST', base, {
      url: 'http://127.0.0.1:9/',
      events: ['call.started'],
    });
    const { id } = made.json<{ id: string }>();
    const hooks = createWebhookRepository(api.db);
    for (const callId of ['a', 'b', 'c']) {
      await hooks.enqueue([
        webhookEventOfCall({
          type: 'started',
          callId,
          tenantId: tenant,
          direction: 'internal',
          from: 'sip:alice@acme.example',
          to: 'sip:bob@acme.example',
          startedAt: Date.now(),
        }),
      ]);
    }
    const viewer = await api.key(tenant, 'viewer');
    const first = await api.call(viewer, 'GET', `${base}/${id}/deliveries?limit=2`);
    assert.equal(first.statusCode, 200, first.body);
    const page = first.json<{
      items: { id: string; state: string; eventType: string }[];
      nextCursor: string;
    }>();
    assert.equal(page.items.length, 2);
    assert.ok(page.items.every((d) => d.state === 'pending' && d.eventType === 'call.started'));
    const second = await api.call(viewer, 'GET', `${base}/${id}/deliveries?limit=2&after=${page.nextCursor}`);
    assert.equal(second.json<{ items: unknown[] }>().items.length, 1);
    const failed = await api.call(viewer, 'GET', `${base}/${id}/deliveries?state=failed`);
    assert.deepEqual(failed.json<{ items: unknown[] }>().items, []);
    assert.equal((await api.call(viewer, 'GET', `${base}/${id}/deliveries?state=lost`)).statusCode, 400);
  });

  test('the OpenAPI document has the webhook routes, the secret write-only in requests', async () => {
    const doc = await openApiProperties(api.app);
    const create = doc.request('/v1/tenants/{tenantId}/webhooks', 'post');
    assert.deepEqual(Object.keys(create).sort(), ['enabled', 'events', 'secret', 'url']);
    assert.ok(doc.response('/v1/tenants/{tenantId}/webhooks/{id}/deliveries', 'get', '200').items);
  });
});
