import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createNumberRepository,
  createRouteRepository,
  createSipUserRepository,
  createTenantRepository,
  createTrunkRepository,
  migrate,
} from '../../src/store/index.js';
import { MIGRATIONS_DIR, storeBackends } from '../helpers/store-backends.js';

const HA1 = { ha1Md5: 'a'.repeat(32), ha1Sha256: 'b'.repeat(64) };

for (const backend of await storeBackends()) {
  describe(`trunks, numbers and routes: ${backend.name}`, { skip: backend.skip }, () => {
    test('inbound trunk matching by CIDR, DID owners, routes with ordered trunks', async () => {
      const { db, cleanup } = await backend.open();
      try {
        await migrate(db, MIGRATIONS_DIR);
        const tenants = createTenantRepository(db);
        const acme = await tenants.create({ name: 'Acme', sipDomain: 'acme.example' });
        const other = await tenants.create({ name: 'Other', sipDomain: 'other.example' });
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
      } finally {
        await db.close();
        await cleanup();
      }
    });
  });
}
