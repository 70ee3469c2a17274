import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const adminKey = `vxg_car${randomBytes(2).toString('hex')}_${randomBytes(24).toString('base64url')}`;

describe('trunks, numbers, routes, CDRs and live state through the API', () => {
  let vx: VoxgateProcess;
  let tenantId: string;
  let otherTenantId: string;
  const api = async (path: string, body?: unknown, key = adminKey) => {
    const res = await fetch(`${vx.httpUrl}/v1${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      text,
      json: () => JSON.parse(text) as Record<string, unknown>,
    };
  };

  before(async () => {
    vx = await startVoxgate(['--target=api'], { VOXGATE_ADMIN_API_KEY: adminKey });
    tenantId = (await api('/tenants', { name: 'Acme', sipDomain: 'acme.example' })).json().id as string;
    otherTenantId = (await api('/tenants', { name: 'Other', sipDomain: 'other.example' })).json()
      .id as string;
  });
  after(() => vx.stop());

  test('a trunk is created with its credentials, which are never returned; bad input is a 400 problem', async () => {
    const created = await api(`/tenants/${tenantId}/trunks`, {
      name: 'carrier-a',
      host: '192.0.2.10',
      username: 'acme',
      password: 'carrier-secret',
      inboundCidrs: ['192.0.2.0/24'],
    });
    assert.equal(created.status, 201, created.text);
    assert.doesNotMatch(created.text, /carrier-secret/);
    assert.equal(created.json().hasPassword, true);
    const listed = await api(`/tenants/${tenantId}/trunks`);
    assert.doesNotMatch(listed.text, /carrier-secret/);
    assert.equal((listed.json().items as unknown[]).length, 1);
    const audit = await api(`/audit?tenantId=${tenantId}`);
    assert.doesNotMatch(audit.text, /carrier-secret/, 'the audit log masks the password');

    for (const bad of [
      { name: 'x', host: '192.0.2.1', username: 'only-user' },
      { name: 'x', host: '192.0.2.1', inboundCidrs: ['999.1.1.1/99'] },
      { name: 'x', host: 'bad host' },
      { name: 'x', host: '192.0.2.1', extra: true },
    ]) {
      const r = await api(`/tenants/${tenantId}/trunks`, bad);
      assert.equal(r.status, 400, `${JSON.stringify(bad)} → ${r.text}`);
      assert.match(r.type, /application\/problem\+json/);
    }
    assert.equal(
      (await api(`/tenants/${tenantId}/trunks`, { name: 'carrier-a', host: '192.0.2.11' })).status,
      409,
    );
  });

  test('numbers ring users of their own tenant only; routes need a valid pattern and own trunks', async () => {
    const user = (
      await api(`/tenants/${tenantId}/users`, { username: 'bob', password: 'bob-password' })
    ).json();
    const foreignUser = (
      await api(`/tenants/${otherTenantId}/users`, { username: 'eve', password: 'eve-password' })
    ).json();
    assert.equal(
      (await api(`/tenants/${tenantId}/numbers`, { e164: '+442079460000', userId: user.id })).status,
      201,
    );
    assert.equal(
      (await api(`/tenants/${tenantId}/numbers`, { e164: '+442079460000', userId: user.id })).status,
      409,
    );
    assert.equal(
      (await api(`/tenants/${tenantId}/numbers`, { e164: '+442079460001', userId: foreignUser.id })).status,
      404,
    );
    assert.equal((await api(`/tenants/${tenantId}/numbers`, { e164: '02079460000' })).status, 400);

    const trunkId = ((await api(`/tenants/${tenantId}/trunks`)).json().items as { id: string }[])[0]!.id;
    const route = await api(`/tenants/${tenantId}/routes`, {
      name: 'national',
      pattern: '0\\d{10}',
      stripDigits: 1,
      prefix: '+44',
      trunkIds: [trunkId],
    });
    assert.equal(route.status, 201, route.text);
    const bad = await api(`/tenants/${tenantId}/routes`, {
      name: 'broken',
      pattern: '(',
      trunkIds: [trunkId],
    });
    assert.equal(bad.status, 400);
    assert.match(bad.json().detail as string, /regular expression/);
    const foreignTrunk = (
      await api(`/tenants/${otherTenantId}/trunks`, { name: 'theirs', host: '198.51.100.1' })
    ).json().id as string;
    assert.equal(
      (await api(`/tenants/${tenantId}/routes`, { name: 'steal', pattern: '.*', trunkIds: [foreignTrunk] }))
        .status,
      404,
    );
    const routes = (await api(`/tenants/${tenantId}/routes`)).json().items as { trunkIds: string[] }[];
    assert.deepEqual(
      routes.map((r) => r.trunkIds),
      [[trunkId]],
    );
  });

  test('a key scoped to another tenant sees none of this tenant: 404, as if it did not exist', async () => {
    const created = await api('/api-keys', { name: 'other-admin', role: 'admin', tenantId: otherTenantId });
    assert.equal(created.status, 201, created.text);
    const key = created.json().key as string;
    for (const path of ['trunks', 'numbers', 'routes', 'calls', 'calls/live', 'registrations']) {
      assert.equal((await api(`/tenants/${tenantId}/${path}`, undefined, key)).status, 404, path);
    }
  });

  test('API keys: shown once, roles enforced, a tenant admin stays in its tenant, revoked keys stop working', async () => {
    const viewer = await api('/api-keys', { name: 'viewer', role: 'viewer', tenantId });
    assert.equal(viewer.status, 201);
    const viewerKey = viewer.json().key as string;
    assert.match(viewerKey, /^vxg_/);
    assert.equal((await api(`/tenants/${tenantId}/trunks`, undefined, viewerKey)).status, 200);
    assert.equal(
      (await api(`/tenants/${tenantId}/trunks`, { name: 'nope', host: '192.0.2.99' }, viewerKey)).status,
      403,
      'a viewer cannot change anything',
    );
    const tenantAdmin = (await api('/api-keys', { name: 'ta', role: 'admin', tenantId })).json()
      .key as string;
    assert.equal(
      (await api('/api-keys', { name: 'x', role: 'viewer', tenantId: otherTenantId }, tenantAdmin)).status,
      404,
    );
    assert.equal(
      (await api('/api-keys', { name: 'x', role: 'viewer' }, tenantAdmin)).status,
      201,
      'defaults to its tenant',
    );
    const del = await fetch(`${vx.httpUrl}/v1/api-keys/${viewer.json().id as string}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${adminKey}` },
    });
    assert.equal(del.status, 204);
    assert.equal((await api(`/tenants/${tenantId}/trunks`, undefined, viewerKey)).status, 401);
    const audit = await api('/audit');
    const secret = viewerKey.slice(viewerKey.indexOf('_', 4) + 1);
    assert.ok(secret.length >= 20 && !audit.text.includes(secret), 'no token secret in the audit log');
  });

  test('CDRs list as JSON and CSV; live calls and registrations come from shared state', async () => {
    const json = await api(`/tenants/${tenantId}/calls?disposition=answered&limit=10`);
    assert.equal(json.status, 200, json.text);
    assert.deepEqual(json.json(), { items: [], nextCursor: null });
    const csv = await api(`/tenants/${tenantId}/calls?format=csv`);
    assert.match(csv.type, /^text\/csv/);
    assert.equal(
      csv.text.split('\r\n')[0],
      'callId,direction,from,to,trunkId,startedAt,answeredAt,endedAt,durationSeconds,disposition,sipCode,hangupBy,reason,ringingAt',
    );
    assert.equal((await api(`/tenants/${tenantId}/calls?since=yesterday`)).status, 400);
    assert.deepEqual((await api(`/tenants/${tenantId}/calls/live`)).json(), { items: [] });
    assert.deepEqual((await api(`/tenants/${tenantId}/registrations`)).json(), { items: [] });
  });
});
