// Call control through the API: ending a live call (a command on the call command stream for the gateway
// replica that holds it) and removing registrations (kick), with their statuses, problems, audit entries and
// roles; and a CDR may say the API ended the call.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CALL_COMMANDS_STREAM,
  createCdrRepository,
  decodeCallCommand,
  PROVISIONING_CHANGES_STREAM,
} from '../../src/store/index.js';
import type { Binding, LiveCall } from '../../src/store/shared-state/index.js';
import { startApiApp, type ApiApp } from '../helpers/api-app.js';
import { storeBackends } from '../helpers/store-backends.js';

const backends = (await storeBackends()).filter((b) => b.name !== 'PGlite (data directory)');

const binding = (tenantId: string, contact: string): Binding => ({
  contact,
  expiresAt: Date.now() + 600_000,
  source: { address: '192.0.2.7', port: 5060 },
  transport: 'udp',
  callId: `reg-${contact}`,
  cseq: 1,
  tenantId,
  gateway: '192.0.2.1:5060',
});

for (const backend of backends) {
  describe(`call control through the API: ${backend.name}`, { skip: backend.skip }, () => {
    let api: ApiApp;
    let cleanup: () => Promise<void>;
    let acme: string;
    let other: string;
    let operator: string;
    let viewer: string;
    let otherOperator: string;

    /** Every entry of `stream` so far (a fresh group reads it from its start). */
    let groups = 0;
    const entries = async (stream: string) =>
      api.state.events.consume(stream, `test-${++groups}`, 'c', { count: 1000 });

    before(async () => {
      const opened = await backend.open();
      api = await startApiApp(opened.db);
      cleanup = async () => {
        await api.close();
        await opened.db.close();
        await opened.cleanup();
      };
      acme = await api.tenant('Acme');
      other = await api.tenant('Other');
      operator = await api.key(acme, 'operator');
      viewer = await api.key(acme, 'viewer');
      otherOperator = await api.key(other, 'operator');
    });
    after(() => cleanup());

    test('DELETE calls/live/{callId}: 202 with the call, a hangup command for its replica, audited', async () => {
      const call: LiveCall = {
        callId: 'c1@192.0.2.7',
        tenantId: acme,
        from: 'sip:alice@acme.example',
        to: 'sip:bob@acme.example',
        state: 'answered',
        startedAt: Date.parse('2026-01-02T03:04:05.000Z'),
        answeredAt: Date.parse('2026-01-02T03:04:06.000Z'),
        gateway: 'gw-7',
      };
      await api.state.calls.put(call);
      const url = `/v1/tenants/${acme}/calls/live/${encodeURIComponent(call.callId)}`;
      const auditBefore = await api.auditCount();

      // A viewer may see the call but not end it; another tenant does not see it at all.
      const refused = await api.call(viewer, 'DELETE', url);
      assert.equal(refused.statusCode, 403);
      assert.equal(refused.json<{ type: string }>().type, '/problems/forbidden');
      const foreign = await api.call(otherOperator, 'DELETE', url);
      assert.equal(foreign.statusCode, 404);
      const foreignPath = await api.call(
        otherOperator,
        'DELETE',
        `/v1/tenants/${other}/calls/live/${encodeURIComponent(call.callId)}`,
      );
      assert.equal(foreignPath.statusCode, 404, "another tenant's call under its own path is not found");
      assert.equal(await api.auditCount(), auditBefore, 'refusals are not audited');
      assert.deepEqual(await entries(CALL_COMMANDS_STREAM), [], 'refusals send no command');

      const res = await api.call(operator, 'DELETE', url);
      assert.equal(res.statusCode, 202, res.body);
      assert.deepEqual(res.json(), {
        callId: call.callId,
        tenantId: acme,
        from: call.from,
        to: call.to,
        state: 'answered',
        startedAt: '2026-01-02T03:04:05.000Z',
        answeredAt: '2026-01-02T03:04:06.000Z',
        gateway: 'gw-7',
        recording: false,
      });

      const commands = (await entries(CALL_COMMANDS_STREAM)).map((e) => decodeCallCommand(e.fields));
      assert.equal(commands.length, 1);
      assert.deepEqual(
        { ...commands[0], at: 0 },
        {
          type: 'hangup',
          callId: call.callId,
          tenantId: acme,
          gateway: 'gw-7',
          at: 0,
        },
      );
      assert.ok(Math.abs(Date.now() - commands[0]!.at) < 5000);

      const { rows } = await api.db.query<{
        action: string;
        entity: string;
        entity_id: string;
        before: unknown;
      }>('SELECT action, entity, entity_id, before FROM audit_log ORDER BY id DESC LIMIT 1');
      assert.equal(await api.auditCount(), auditBefore + 1);
      assert.deepEqual(
        { action: rows[0]?.action, entity: rows[0]?.entity, entityId: rows[0]?.entity_id },
        { action: 'delete', entity: 'live-call', entityId: call.callId },
      );
      assert.equal((rows[0]?.before as { gateway?: string }).gateway, 'gw-7');
      const audit = await api.call(await api.key(null, 'admin'), 'GET', `/v1/audit?tenantId=${acme}`);
      assert.match(audit.body, /live-call/);

      // Live state is not provisioning: the gateways' caches are not dropped for it.
      const changes = (await entries(PROVISIONING_CHANGES_STREAM)).filter((e) =>
        e.fields.route?.includes('/calls/live'),
      );
      assert.deepEqual(changes, []);
    });

    test('DELETE calls/live/{callId}: 404 problem for a call that is not live; 400 for a bad id', async () => {
      const missing = await api.call(operator, 'DELETE', `/v1/tenants/${acme}/calls/live/gone`);
      assert.equal(missing.statusCode, 404);
      assert.match(String(missing.headers['content-type']), /application\/problem\+json/);
      assert.deepEqual(
        { type: missing.json<{ type: string }>().type, detail: missing.json<{ detail: string }>().detail },
        { type: '/problems/not-found', detail: 'no live call gone' },
      );
      // Another tenant's live call under one's own tenant looks the same as a missing one.
      await api.state.calls.put({
        callId: 'theirs',
        tenantId: other,
        from: 'a',
        to: 'b',
        state: 'setup',
        startedAt: Date.now(),
        gateway: 'gw-1',
      });
      const theirs = await api.call(operator, 'DELETE', `/v1/tenants/${acme}/calls/live/theirs`);
      assert.equal(theirs.statusCode, 404);
      const long = await api.call(operator, 'DELETE', `/v1/tenants/${acme}/calls/live/${'x'.repeat(301)}`);
      assert.equal(long.statusCode, 400);
      assert.deepEqual(
        (await entries(CALL_COMMANDS_STREAM)).filter((e) => e.fields.callId !== 'c1@192.0.2.7'),
        [],
      );
    });

    test('GET /v1/registrations (platform admin): every tenant, filtered by user, source and user agent', async () => {
      const agent = (tenantId: string, contact: string, address: string, userAgent: string): Binding => ({
        ...binding(tenantId, contact),
        source: { address, port: 5060 },
        userAgent,
      });
      await api.state.registrations.put(
        'sip:carol@acme.example',
        agent(acme, 'sip:carol@198.51.100.4', '198.51.100.4', 'Yealink SIP-T46U'),
      );
      await api.state.registrations.put(
        'sip:dave@other.example',
        agent(other, 'sip:dave@198.51.100.5', '198.51.100.5', 'baresip v1.0.0'),
      );
      const admin = await api.key(null, 'admin');
      const list = async (query: string) => {
        const res = await api.call(admin, 'GET', `/v1/registrations${query}`);
        assert.equal(res.statusCode, 200, res.body);
        return res.json<{ items: { aor: string; tenantId: string }[]; truncated: boolean }>();
      };
      const both = await list('?source=198.51.100.');
      assert.deepEqual(
        both.items.map((i) => [i.aor, i.tenantId]).sort(),
        [
          ['sip:carol@acme.example', acme],
          ['sip:dave@other.example', other],
        ].sort(),
      );
      assert.deepEqual(
        (await list('?userAgent=yealink')).items.map((i) => i.aor),
        ['sip:carol@acme.example'],
      );
      assert.deepEqual(
        (await list('?user=DAVE')).items.map((i) => i.aor),
        ['sip:dave@other.example'],
      );
      assert.deepEqual(
        (await list(`?source=198.51.100.&tenantId=${other}`)).items.map((i) => i.aor),
        ['sip:dave@other.example'],
      );
      const one = await list('?source=198.51.100.&limit=1');
      assert.equal(one.items.length, 1);
      assert.equal(one.truncated, true);
      // A tenant's key, even an admin one, and a platform viewer are refused.
      assert.equal(
        (await api.call(await api.key(acme, 'admin'), 'GET', '/v1/registrations')).statusCode,
        403,
      );
      assert.equal(
        (await api.call(await api.key(null, 'viewer'), 'GET', '/v1/registrations')).statusCode,
        403,
      );
      assert.equal((await api.call(admin, 'GET', '/v1/registrations?limit=0')).statusCode, 400);
      await api.state.registrations.removeAll('sip:carol@acme.example');
      await api.state.registrations.removeAll('sip:dave@other.example');
    });

    test('DELETE registrations/{aor}: one contact with ?contact=, all of them without; 404 when absent; audited', async () => {
      const aor = 'sip:alice@acme.example';
      await api.state.registrations.put(aor, binding(acme, 'sip:alice@192.0.2.7:5060'));
      await api.state.registrations.put(aor, binding(acme, 'sip:alice@192.0.2.8:5062'));
      await api.state.registrations.put('sip:bob@acme.example', binding(acme, 'sip:bob@192.0.2.9:5060'));
      const url = `/v1/tenants/${acme}/registrations/${encodeURIComponent(aor)}`;
      const auditBefore = await api.auditCount();

      assert.equal((await api.call(viewer, 'DELETE', url)).statusCode, 403);
      assert.equal((await api.call(otherOperator, 'DELETE', url)).statusCode, 404);
      const elsewhere = await api.call(
        otherOperator,
        'DELETE',
        `/v1/tenants/${other}/registrations/${encodeURIComponent(aor)}`,
      );
      assert.equal(elsewhere.statusCode, 404, "another tenant's AOR under its own path is not found");
      const wrongContact = await api.call(
        operator,
        'DELETE',
        `${url}?contact=${encodeURIComponent('sip:alice@192.0.2.99:5060')}`,
      );
      assert.equal(wrongContact.statusCode, 404);
      assert.equal(
        wrongContact.json<{ detail: string }>().detail,
        'no registration of sip:alice@acme.example at sip:alice@192.0.2.99:5060',
      );
      assert.equal(await api.auditCount(), auditBefore);
      assert.equal((await api.state.registrations.list(aor)).length, 2);

      const one = await api.call(
        operator,
        'DELETE',
        `${url}?contact=${encodeURIComponent('sip:alice@192.0.2.7:5060')}`,
      );
      assert.equal(one.statusCode, 204, one.body);
      assert.equal(one.body, '');
      assert.deepEqual(
        (await api.state.registrations.list(aor)).map((b) => b.contact),
        ['sip:alice@192.0.2.8:5062'],
      );
      assert.equal(await api.auditCount(), auditBefore + 1);
      const { rows } = await api.db.query<{ entity: string; entity_id: string; before: unknown }>(
        'SELECT entity, entity_id, before FROM audit_log ORDER BY id DESC LIMIT 1',
      );
      assert.equal(rows[0]?.entity, 'registration');
      assert.equal(rows[0]?.entity_id, aor);
      assert.deepEqual(
        (rows[0]?.before as { contact: string }[]).map((b) => b.contact),
        ['sip:alice@192.0.2.7:5060'],
      );

      const all = await api.call(operator, 'DELETE', url);
      assert.equal(all.statusCode, 204);
      assert.deepEqual(await api.state.registrations.list(aor), []);
      assert.equal((await api.state.registrations.list('sip:bob@acme.example')).length, 1, 'bob stays');
      const again = await api.call(operator, 'DELETE', url);
      assert.equal(again.statusCode, 404);
      assert.equal(again.json<{ detail: string }>().detail, 'no registration of sip:alice@acme.example');
      assert.equal(await api.auditCount(), auditBefore + 2);

      const unknownQuery = await api.call(operator, 'DELETE', `${url}?contacts=x`);
      assert.equal(unknownQuery.statusCode, 400);
    });

    test('a CDR may say the API ended the call (hangupBy api)', async () => {
      const cdrs = createCdrRepository(api.db);
      const now = Date.now();
      assert.equal(
        await cdrs.upsertFromEvent({
          type: 'ended',
          callId: 'api-ended',
          tenantId: acme,
          direction: 'internal',
          from: 'sip:alice@acme.example',
          to: 'sip:bob@acme.example',
          startedAt: now - 5000,
          answeredAt: now - 4000,
          endedAt: now,
          disposition: 'answered',
          sipCode: 200,
          hangupBy: 'api',
          reason: 'ended through the API',
        }),
        true,
      );
      const res = await api.call(operator, 'GET', `/v1/tenants/${acme}/calls/api-ended`);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(
        {
          hangupBy: res.json<{ hangupBy: string }>().hangupBy,
          reason: res.json<{ reason: string }>().reason,
        },
        { hangupBy: 'api', reason: 'ended through the API' },
      );
    });
  });
}
