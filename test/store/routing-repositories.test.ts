import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createApiKeyRepository,
  createNumberRepository,
  createRouteRepository,
  createSipUserRepository,
  createTenantRepository,
  createTrunkRepository,
} from '../../src/store/index.js';
import { acmeAndOther, withMigratedStore } from '../helpers/migrated-store.js';
import { storeBackends } from '../helpers/store-backends.js';

const HA1 = { ha1Md5: 'a'.repeat(32), ha1Sha256: 'b'.repeat(64) };

for (const backend of await storeBackends()) {
  describe(`trunks, numbers and routes: ${backend.name}`, { skip: backend.skip }, () => {
    test('inbound trunk matching by CIDR, DID owners, routes with ordered trunks', async () => {
      await withMigratedStore(backend, async (db) => {
        const { acme, other } = await acmeAndOther(db);
        const trunks = createTrunkRepository(db);
        const wide = await trunks.create({
          tenantId: acme.id,
          name: 'carrier-a',
          host: '192.0.2.10',
          credentials: { username: 'acme', password: 'pw' },
          inboundCidrs: ['192.0.2.0/24'],
        });
        const narrow = await trunks.create({
          tenantId: acme.id,
          name: 'carrier-b',
          host: '192.0.2.20',
          transport: 'tcp',
          inboundCidrs: ['192.0.2.20/32', '2001:db8::/32'],
        });
        const foreign = await trunks.create({ tenantId: other.id, name: 'x', host: '198.51.100.1' });
        assert.deepEqual(narrow.inboundCidrs, ['192.0.2.20/32', '2001:db8::/32']);
        assert.equal(wide.username, 'acme');
        assert.ok(!('password' in wide), 'the password is not part of a listed trunk');

        assert.equal((await trunks.findBySource('192.0.2.20'))?.id, narrow.id, 'the most specific CIDR wins');
        const matched = await trunks.findBySource('192.0.2.99');
        assert.equal(matched?.id, wide.id);
        assert.equal(matched?.password, 'pw', 'the gateway gets the password to answer challenges');
        assert.equal((await trunks.findBySource('2001:db8::5'))?.id, narrow.id);
        assert.equal(await trunks.findBySource('203.0.113.1'), undefined);
        // Digest-authenticated trunks are found by their credentials' username, only when it is unambiguous.
        assert.equal((await trunks.findByUsername('acme'))?.password, 'pw');
        assert.equal(await trunks.findByUsername('nobody'), undefined);
        const twin = await trunks.create({
          tenantId: other.id,
          name: 'twin',
          host: '198.51.100.2',
          credentials: { username: 'acme', password: 'other' },
        });
        assert.equal(await trunks.findByUsername('acme'), undefined, 'two trunks share the username');
        await trunks.update(acme.id, wide.id, { enabled: false });
        assert.equal((await trunks.findByUsername('acme'))?.id, twin.id, 'disabled trunks do not count');
        await trunks.update(acme.id, wide.id, { enabled: true });
        await trunks.delete(other.id, twin.id);
        assert.deepEqual(
          (await trunks.withSecrets(acme.id, [narrow.id, foreign.id, wide.id])).map((t) => t.id),
          [narrow.id, wide.id],
          'order kept, a foreign trunk left out',
        );
        assert.deepEqual(
          (await trunks.list(acme.id, { limit: 10 })).map((t) => t.name),
          ['carrier-a', 'carrier-b'],
        );

        const bob = await createSipUserRepository(db).create({ tenantId: acme.id, username: 'bob', ...HA1 });
        const numbers = createNumberRepository(db);
        await numbers.create({ tenantId: acme.id, e164: '+442079460000', userId: bob.id });
        assert.deepEqual(await numbers.findByE164('+442079460000'), {
          tenantId: acme.id,
          userId: bob.id,
          username: 'bob',
          sipDomain: 'acme.example',
        });
        assert.equal(await numbers.findByE164('+442079460001'), undefined);
        await assert.rejects(
          numbers.create({ tenantId: other.id, e164: '+15550001111', userId: bob.id }),
          RangeError,
        );
        await assert.rejects(numbers.create({ tenantId: acme.id, e164: '0044 20', userId: bob.id }));

        const routes = createRouteRepository(db);
        await routes.create({
          tenantId: acme.id,
          name: 'all',
          pattern: '.*',
          priority: 200,
          trunkIds: [wide.id],
        });
        const intl = await routes.create({
          tenantId: acme.id,
          name: 'international',
          pattern: '00\\d+',
          priority: 10,
          stripDigits: 2,
          prefix: '+',
          trunkIds: [narrow.id, wide.id],
        });
        assert.deepEqual(intl.trunkIds, [narrow.id, wide.id]);
        await assert.rejects(
          routes.create({ tenantId: acme.id, name: 'bad', pattern: '.*', trunkIds: [foreign.id] }),
          RangeError,
        );
        const listed = await routes.listForTenant(acme.id);
        assert.deepEqual(
          listed.map((r) => [r.name, r.trunkIds]),
          [
            ['international', [narrow.id, wide.id]],
            ['all', [wide.id]],
          ],
        );
        assert.deepEqual(await routes.listForTenant(other.id), []);
        assert.deepEqual(
          listed[0]!.trunks.map((t) => [t.id, t.name]),
          [
            [narrow.id, 'carrier-b'],
            [wide.id, 'carrier-a'],
          ],
          'each route carries its trunks in order',
        );
        assert.ok(!('password' in listed[0]!.trunks[1]!), 'a route never carries a trunk password');
      });
    });

    test('nat of users and trunks: auto by default, set, changed, read by the registrar with the credentials', async () => {
      await withMigratedStore(backend, async (db) => {
        const acme = await createTenantRepository(db).create({ name: 'Acme', sipDomain: 'acme.example' });
        const users = createSipUserRepository(db);
        const alice = await users.create({ tenantId: acme.id, username: 'alice', ...HA1 });
        assert.equal(alice.nat, 'auto');
        const bob = await users.create({ tenantId: acme.id, username: 'bob', nat: 'force', ...HA1 });
        assert.equal((await users.findCredentials('acme.example', 'bob'))?.nat, 'force');
        const changed = await users.update(acme.id, bob.id, { nat: 'off' });
        assert.deepEqual([changed?.before.nat, changed?.after.nat], ['force', 'off']);
        assert.equal((await users.update(acme.id, bob.id, { enabled: false }))?.after.nat, 'off', 'kept');
        assert.equal((await users.findCredentials('acme.example', 'bob'))?.nat, 'off');

        const trunks = createTrunkRepository(db);
        const carrier = await trunks.create({ tenantId: acme.id, name: 'c', host: '192.0.2.10' });
        assert.equal(carrier.nat, 'auto');
        assert.equal((await trunks.update(acme.id, carrier.id, { nat: 'force' }))?.after.nat, 'force');
        assert.equal((await trunks.update(acme.id, carrier.id, { port: 5080 }))?.after.nat, 'force');
        assert.equal((await trunks.listAllEnabled())[0]?.nat, 'force');
        await assert.rejects(
          db.query(`UPDATE trunks SET nat = 'sometimes' WHERE id = $1`, [carrier.id]),
          'the column takes auto, force or off only',
        );
      });
    });

    test('mediaEncryption of users, trunks and routes: auto by default, set, kept, read by the gateway', async () => {
      await withMigratedStore(backend, async (db) => {
        const acme = await createTenantRepository(db).create({ name: 'Acme', sipDomain: 'acme.example' });
        const users = createSipUserRepository(db);
        const alice = await users.create({ tenantId: acme.id, username: 'alice', ...HA1 });
        assert.equal(alice.mediaEncryption, 'auto');
        assert.equal((await users.findCredentials('acme.example', 'alice'))?.mediaEncryption, 'auto');
        const bob = await users.create({
          tenantId: acme.id,
          username: 'bob',
          mediaEncryption: 'sdes',
          ...HA1,
        });
        assert.equal((await users.findCredentials('acme.example', 'bob'))?.mediaEncryption, 'sdes');
        const changed = await users.update(acme.id, bob.id, { mediaEncryption: 'none' });
        assert.deepEqual([changed?.before.mediaEncryption, changed?.after.mediaEncryption], ['sdes', 'none']);
        assert.equal((await users.update(acme.id, bob.id, { nat: 'force' }))?.after.mediaEncryption, 'none');
        assert.equal((await users.get(acme.id, bob.id))?.mediaEncryption, 'none');

        const trunks = createTrunkRepository(db);
        const carrier = await trunks.create({
          tenantId: acme.id,
          name: 'c',
          host: '192.0.2.10',
          inboundCidrs: ['192.0.2.10/32'],
        });
        assert.equal(carrier.mediaEncryption, 'auto');
        const secure = await trunks.create({
          tenantId: acme.id,
          name: 's',
          host: '192.0.2.11',
          mediaEncryption: 'sdes',
        });
        assert.equal(secure.mediaEncryption, 'sdes');
        assert.equal(
          (await trunks.update(acme.id, carrier.id, { mediaEncryption: 'sdes' }))?.after.mediaEncryption,
          'sdes',
        );
        assert.equal(
          (await trunks.update(acme.id, carrier.id, { port: 5080 }))?.after.mediaEncryption,
          'sdes',
        );
        assert.equal((await trunks.findBySource('192.0.2.10'))?.mediaEncryption, 'sdes');
        assert.deepEqual(
          (await trunks.withSecrets(acme.id, [secure.id, carrier.id])).map((t) => t.mediaEncryption),
          ['sdes', 'sdes'],
        );

        const routes = createRouteRepository(db);
        const plain = await routes.create({
          tenantId: acme.id,
          name: 'r',
          pattern: '\\d+',
          trunkIds: [carrier.id],
        });
        assert.equal(plain.mediaEncryption, 'auto');
        const forced = await routes.create({
          tenantId: acme.id,
          name: 'f',
          pattern: '9\\d+',
          trunkIds: [secure.id],
          mediaEncryption: 'none',
        });
        assert.equal(forced.mediaEncryption, 'none');
        assert.equal(forced.trunks[0]?.mediaEncryption, 'sdes', "a route's trunks carry their own setting");
        const updated = await routes.update(acme.id, plain.id, { mediaEncryption: 'sdes' });
        assert.deepEqual([updated?.before.mediaEncryption, updated?.after.mediaEncryption], ['auto', 'sdes']);
        assert.equal(
          (await routes.update(acme.id, plain.id, { priority: 5 }))?.after.mediaEncryption,
          'sdes',
        );
        assert.deepEqual(
          (await routes.listForTenant(acme.id)).map((r) => [r.name, r.mediaEncryption]),
          [
            ['r', 'sdes'],
            ['f', 'none'],
          ],
        );

        for (const table of ['sip_users', 'trunks', 'routes']) {
          for (const bad of ['DTLS', 'srtp', 'SDES', '']) {
            await assert.rejects(
              db.query(`UPDATE ${table} SET media_encryption = $1`, [bad]),
              `${table}.media_encryption takes auto, none, sdes or dtls only, not ${JSON.stringify(bad)}`,
            );
          }
          // Migration 0014: dtls is taken.
          await db.query(`UPDATE ${table} SET media_encryption = 'dtls'`);
        }
      });
    });

    test('updates and deletes stay inside the tenant; pages of routes and keys follow their cursor', async () => {
      await withMigratedStore(backend, async (db) => {
        const { tenants, acme, other } = await acmeAndOther(db);
        const trunks = createTrunkRepository(db);
        const a = await trunks.create({
          tenantId: acme.id,
          name: 'a',
          host: '192.0.2.1',
          credentials: { username: 'u', password: 'p1' },
          inboundCidrs: ['192.0.2.0/24'],
        });
        const b = await trunks.create({ tenantId: acme.id, name: 'b', host: '192.0.2.2' });
        assert.equal(await trunks.update(other.id, a.id, { port: 5080 }), undefined, 'not in that tenant');
        const changed = await trunks.update(acme.id, a.id, { port: 5080, inboundCidrs: ['198.51.100.0/24'] });
        assert.equal(changed?.before.port, 5060);
        assert.equal(changed?.after.port, 5080);
        assert.equal(changed?.after.username, 'u', 'credentials kept when not in the patch');
        assert.equal((await trunks.findBySource('198.51.100.7'))?.password, 'p1');
        assert.equal(await trunks.findBySource('192.0.2.7'), undefined);
        await trunks.update(acme.id, a.id, { enabled: false });
        assert.equal(
          await trunks.findBySource('198.51.100.7'),
          undefined,
          'a disabled trunk matches nothing',
        );
        await trunks.update(acme.id, a.id, { enabled: true, credentials: null });
        assert.equal((await trunks.findBySource('198.51.100.7'))?.password, null);
        await tenants.update(acme.id, { status: 'suspended' });
        assert.equal(
          await trunks.findBySource('198.51.100.7'),
          undefined,
          'a suspended tenant matches nothing',
        );
        await tenants.update(acme.id, { status: 'active', maxConcurrentCalls: 5 });
        assert.equal((await tenants.findById(acme.id))?.maxConcurrentCalls, 5);

        const users = createSipUserRepository(db);
        const bob = await users.create({ tenantId: acme.id, username: 'bob', callerId: '+15550100', ...HA1 });
        const alice = await users.create({ tenantId: acme.id, username: 'alice', ...HA1 });
        assert.equal(bob.callerId, '+15550100');
        const numbers = createNumberRepository(db);
        const did = await numbers.create({ tenantId: acme.id, e164: '+15550001000', userId: bob.id });
        assert.equal((await numbers.assign(acme.id, did.id, alice.id))?.after.userId, alice.id);
        assert.equal(await numbers.assign(other.id, did.id, null), undefined);
        await assert.rejects(
          numbers.assign(acme.id, did.id, '00000000-0000-4000-8000-000000000000'),
          RangeError,
        );
        assert.equal((await numbers.findByE164('+15550001000'))?.username, 'alice');
        await users.update(acme.id, alice.id, { enabled: false });
        assert.equal(await numbers.findByE164('+15550001000'), undefined, 'a disabled user rings nowhere');
        assert.equal(
          (await users.update(acme.id, alice.id, { ha1: { md5: 'c'.repeat(32), sha256: 'd'.repeat(64) } }))
            ?.after.enabled,
          false,
        );
        assert.equal((await users.findCredentials('acme.example', 'alice'))?.ha1Md5, 'c'.repeat(32));
        assert.equal((await users.delete(acme.id, alice.id))?.username, 'alice');
        assert.equal((await numbers.get(acme.id, did.id))?.userId, null, 'its number is unassigned');
        assert.equal(await numbers.delete(other.id, did.id), undefined);
        assert.equal((await numbers.delete(acme.id, did.id))?.e164, '+15550001000');

        const routes = createRouteRepository(db);
        const r1 = await routes.create({ tenantId: acme.id, name: 'r1', pattern: '1\\d+', trunkIds: [a.id] });
        await routes.create({ tenantId: acme.id, name: 'r0', pattern: '.*', priority: 5, trunkIds: [b.id] });
        await routes.create({ tenantId: acme.id, name: 'r2', pattern: '2', priority: 100, trunkIds: [b.id] });
        const moved = await routes.update(acme.id, r1.id, { trunkIds: [b.id, a.id], prefix: '+1' });
        assert.deepEqual(moved?.before.trunkIds, [a.id]);
        assert.deepEqual(moved?.after.trunkIds, [b.id, a.id]);
        assert.equal(moved?.after.prefix, '+1');
        await assert.rejects(routes.update(acme.id, r1.id, { trunkIds: [a.id, a.id] }), RangeError);
        assert.equal(await routes.update(other.id, r1.id, { priority: 1 }), undefined);
        const page1 = await routes.list(acme.id, { limit: 2 });
        assert.deepEqual(
          page1.map((r) => r.name),
          ['r0', 'r1'],
        );
        const last = page1.at(-1)!;
        const page2 = await routes.list(acme.id, {
          limit: 2,
          after: { priority: last.priority, name: last.name },
        });
        assert.deepEqual(
          page2.map((r) => r.name),
          ['r2'],
        );
        assert.equal((await trunks.delete(acme.id, a.id))?.name, 'a');
        assert.deepEqual(
          (await routes.get(acme.id, r1.id))?.trunkIds,
          [b.id],
          'a deleted trunk leaves its routes',
        );
        assert.equal((await routes.delete(acme.id, r1.id))?.name, 'r1');
        assert.equal(await routes.get(acme.id, r1.id), undefined);

        const keys = createApiKeyRepository(db);
        const platform = await keys.create({ tenantId: null, role: 'admin', name: 'p' });
        const tenantKey = await keys.create({ tenantId: acme.id, role: 'viewer', name: 't' });
        await keys.create({ tenantId: other.id, role: 'viewer', name: 'o' });
        assert.deepEqual(
          (await keys.list({ limit: 10, tenantId: null })).map((k) => k.id),
          [platform.id],
        );
        assert.deepEqual(
          (await keys.list({ limit: 10, tenantId: acme.id })).map((k) => k.id),
          [tenantKey.id],
        );
        assert.equal((await keys.list({ limit: 10 })).length, 3);
        await keys.revoke(tenantKey.id);
        assert.equal((await keys.list({ limit: 10, tenantId: acme.id, active: true })).length, 0);
        assert.ok((await keys.get(tenantKey.id))?.revokedAt instanceof Date);
        assert.ok(
          !JSON.stringify(await keys.list({ limit: 10 })).includes('hash'),
          'no hash leaves the store',
        );

        assert.equal((await tenants.delete(other.id))?.name, 'Other');
        assert.equal((await keys.list({ limit: 10 })).length, 2, "a deleted tenant's keys go with it");
      });
    });
  });
}
