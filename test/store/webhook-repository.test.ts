import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWebhookRepository, webhookEventOfCall, type WebhookEvent } from '../../src/store/index.js';
import { acmeAndOther, withMigratedStore } from '../helpers/migrated-store.js';
import { storeBackends } from '../helpers/store-backends.js';

const SECRET = 'whsec_0123456789abcdef0123';

const event = (tenantId: string, callId: string, type: 'started' | 'answered' | 'ended'): WebhookEvent =>
  webhookEventOfCall({
    type,
    callId,
    tenantId,
    direction: 'internal',
    from: 'sip:alice@acme.example',
    to: 'sip:bob@acme.example',
    startedAt: 1_700_000_000_000,
    ...(type === 'ended' ? { endedAt: 1_700_000_005_000, disposition: 'no-answer' as const } : {}),
  });

for (const backend of await storeBackends()) {
  describe(`webhooks and their deliveries: ${backend.name}`, { skip: backend.skip }, () => {
    test('subscriptions: the secret is read back only at creation; tenants do not see each other', async () => {
      await withMigratedStore(backend, async (db) => {
        const { acme, other } = await acmeAndOther(db);
        const hooks = createWebhookRepository(db);
        const created = await hooks.create({
          tenantId: acme.id,
          url: 'https://hooks.example.com/a',
          events: ['call.ended', 'registration.changed'],
          secret: SECRET,
        });
        assert.equal(created.secret, SECRET);
        assert.deepEqual(created.events, ['call.ended', 'registration.changed']);
        assert.equal(created.enabled, true);
        const read = await hooks.get(acme.id, created.id);
        assert.ok(read && !('secret' in read), 'a read webhook has no secret');
        assert.equal(await hooks.get(other.id, created.id), undefined, "another tenant's id is not found");

        const second = await hooks.create({
          tenantId: acme.id,
          url: 'https://hooks.example.com/b',
          events: ['call.started'],
          secret: SECRET,
          enabled: false,
        });
        const first = await hooks.list(acme.id, { limit: 1 });
        assert.deepEqual(
          first.map((w) => w.id),
          [created.id],
        );
        assert.deepEqual(
          (await hooks.list(acme.id, { limit: 10, after: created.id })).map((w) => w.id),
          [second.id],
          'the page after the first',
        );
        assert.deepEqual(await hooks.list(other.id, { limit: 10 }), []);

        const changed = await hooks.update(acme.id, second.id, { enabled: true, events: ['call.answered'] });
        assert.equal(changed?.before.enabled, false);
        assert.equal(changed?.after.enabled, true);
        assert.deepEqual(changed?.after.events, ['call.answered']);
        assert.equal(changed?.after.url, 'https://hooks.example.com/b', 'what the patch leaves out stays');
        assert.equal(await hooks.update(other.id, second.id, { enabled: false }), undefined);
        assert.equal((await hooks.delete(acme.id, second.id))?.id, second.id);
        assert.equal(await hooks.delete(acme.id, second.id), undefined);
      });
    });

    test('deliveries: enqueued per matching subscription once, claimed with a lease, retried, logged', async () => {
      await withMigratedStore(backend, async (db) => {
        const { acme, other } = await acmeAndOther(db);
        const hooks = createWebhookRepository(db);
        const ended = await hooks.create({
          tenantId: acme.id,
          url: 'https://a.example/ended',
          events: ['call.ended'],
          secret: SECRET,
        });
        const all = await hooks.create({
          tenantId: acme.id,
          url: 'https://a.example/all',
          events: ['call.started', 'call.ended'],
          secret: `${SECRET}-2`,
        });
        const off = await hooks.create({
          tenantId: acme.id,
          url: 'https://a.example/off',
          events: ['call.ended'],
          secret: SECRET,
          enabled: false,
        });
        await hooks.create({
          tenantId: other.id,
          url: 'https://o.example/',
          events: ['call.ended'],
          secret: SECRET,
        });

        const batch = [
          event(acme.id, 'c1', 'started'),
          event(acme.id, 'c1', 'ended'),
          event('not-a-uuid', 'c2', 'ended'),
        ];
        assert.equal(await hooks.enqueue(batch), 3, 'started → all; ended → ended and all; nothing for off');
        assert.equal(await hooks.enqueue(batch), 0, 'a redelivered batch adds nothing');

        const claimed = await hooks.claimDue({ limit: 10, perWebhook: 10, leaseMs: 60_000 });
        assert.equal(claimed.length, 3);
        assert.ok(claimed.every((d) => d.webhookId !== off.id));
        const forAll = claimed.filter((d) => d.webhookId === all.id);
        assert.equal(forAll.length, 2);
        assert.ok(forAll.every((d) => d.secret === `${SECRET}-2` && d.url === 'https://a.example/all'));
        const body = JSON.parse(forAll.find((d) => d.eventType === 'call.ended')!.payload) as WebhookEvent;
        assert.equal(body.type, 'call.ended');
        assert.equal(body.tenantId, acme.id);
        assert.equal(body.data.disposition, 'no-answer');
        assert.deepEqual(
          await hooks.claimDue({ limit: 10, perWebhook: 10, leaseMs: 60_000 }),
          [],
          'claimed deliveries are leased',
        );

        // At most perWebhook per subscription, less what is in flight here already.
        await hooks.enqueue([event(acme.id, 'c3', 'started'), event(acme.id, 'c4', 'started')]);
        const limited = await hooks.claimDue({
          limit: 10,
          perWebhook: 2,
          busy: new Map([[all.id, 1]]),
          leaseMs: 60_000,
        });
        assert.equal(limited.length, 1);
        assert.equal(
          (await hooks.claimDue({ limit: 10, perWebhook: 2, leaseMs: 60_000 })).length,
          1,
          'the other one on a later claim',
        );

        const [toEnded] = claimed.filter((d) => d.webhookId === ended.id);
        await hooks.recordAttempt(toEnded!.id, { delivered: false, status: 500, retryAt: new Date(0) });
        let log = await hooks.deliveries(acme.id, ended.id, { limit: 10 });
        assert.equal(log.length, 1);
        assert.equal(log[0]!.state, 'pending');
        assert.equal(log[0]!.attempts, 1);
        assert.equal(log[0]!.lastStatus, 500);
        const again = await hooks.claimDue({ limit: 10, perWebhook: 10, leaseMs: 60_000 });
        assert.deepEqual(
          again.map((d) => d.id),
          [toEnded!.id],
          'due again at retryAt',
        );
        assert.equal(again[0]!.attempts, 1);
        await hooks.recordAttempt(toEnded!.id, { delivered: true, status: 204 });
        log = await hooks.deliveries(acme.id, ended.id, { limit: 10 });
        assert.equal(log[0]!.state, 'delivered');
        assert.equal(log[0]!.attempts, 2);
        assert.equal(log[0]!.nextAttemptAt, null);
        assert.ok(log[0]!.completedAt);
        assert.deepEqual(await hooks.deliveries(other.id, ended.id, { limit: 10 }), [], 'tenant scoped');

        const [gaveUp] = forAll;
        await hooks.recordAttempt(gaveUp!.id, { delivered: false, error: 'timeout', retryAt: null });
        const failed = await hooks.deliveries(acme.id, all.id, { limit: 10, state: 'failed' });
        assert.equal(failed.length, 1);
        assert.equal(failed[0]!.lastError, 'timeout');
        const page = await hooks.deliveries(acme.id, all.id, { limit: 1 });
        const rest = await hooks.deliveries(acme.id, all.id, { limit: 10, after: page[0]!.id });
        assert.equal(page.length + rest.length, 4, 'pages cover every delivery once');
        assert.equal(new Set([...page, ...rest].map((d) => d.id)).size, 4);

        assert.equal(await hooks.purgeBefore(new Date(Date.now() + 60_000)), 2, 'finished ones purged');
        await hooks.delete(acme.id, all.id);
        assert.deepEqual(await hooks.deliveries(acme.id, all.id, { limit: 10 }), [], 'deleted with it');
      });
    });

    test('subscribedTypes: the types enabled subscriptions take, by tenant; tenants without any are absent', async () => {
      await withMigratedStore(backend, async (db) => {
        const { tenants, acme, other } = await acmeAndOther(db);
        const quiet = await tenants.create({ name: 'Quiet', sipDomain: 'quiet.example' });
        const hooks = createWebhookRepository(db);
        await hooks.create({
          tenantId: acme.id,
          url: 'https://a.example/1',
          events: ['call.ended', 'call.started'],
          secret: SECRET,
        });
        await hooks.create({
          tenantId: acme.id,
          url: 'https://a.example/2',
          events: ['call.ended', 'registration.changed'],
          secret: SECRET,
        });
        await hooks.create({
          tenantId: other.id,
          url: 'https://o.example/',
          events: ['call.answered'],
          secret: SECRET,
          enabled: false,
        });
        const types = await hooks.subscribedTypes([acme.id, other.id, quiet.id, 'not-a-uuid']);
        assert.deepEqual([...types.keys()], [acme.id], 'a disabled subscription counts for nothing');
        assert.deepEqual([...types.get(acme.id)!].sort(), [
          'call.ended',
          'call.started',
          'registration.changed',
        ]);
        assert.deepEqual(await hooks.subscribedTypes([]), new Map());
      });
    });
  });
}
