// The gateway's cache of store lookups, over the real repositories (embedded PostgreSQL): answers are kept
// (not-found too), an invalidation drops them all, a lookup that straddles an invalidation is not kept,
// concurrent lookups share one query, a realm's users missing at once are one query, failures are not kept,
// entries expire.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createDirectoryCache, createStoreRoutingDirectory } from '../../src/gateway/index.js';
import { computeHa1 } from '../../src/sip/index.js';
import {
  createSipUserRepository,
  createTenantRepository,
  migrate,
  openDatabase,
  type Database,
} from '../../src/store/index.js';
import { MIGRATIONS_DIR } from '../helpers/store-backends.js';

describe('directory cache', () => {
  let db: Database;
  let tenantId: string;
  const calls = { findCredentials: 0, findByDomain: 0, digestAlgorithms: 0 };
  let failNext = false;
  const source = () => {
    const users = createSipUserRepository(db);
    const tenants = createTenantRepository(db);
    return {
      routing: createStoreRoutingDirectory(db),
      tenants: {
        findByDomain: (d: string) => {
          calls.findByDomain += 1;
          return tenants.findByDomain(d);
        },
      },
      users: {
        findCredentialsOf: async (d: string, names: readonly string[]) => {
          calls.findCredentials += 1;
          if (failNext) {
            failNext = false;
            throw new Error('connection reset');
          }
          return users.findCredentialsOf(d, names);
        },
        digestAlgorithms: (d: string) => {
          calls.digestAlgorithms += 1;
          return users.digestAlgorithms(d);
        },
      },
    };
  };
  const addUser = (username: string) =>
    createSipUserRepository(db).create({
      tenantId,
      username,
      ha1Md5: computeHa1('MD5', username, 'cache.example', 'pw'),
      ha1Sha256: computeHa1('SHA-256', username, 'cache.example', 'pw'),
    });

  before(async () => {
    db = await openDatabase({
      dataDir: 'memory://',
      pgliteTemplate: join(import.meta.dirname, '..', '..', 'dist', 'pglite-template.tar.gz'),
    });
    await migrate(db, MIGRATIONS_DIR);
    tenantId = (await createTenantRepository(db).create({ name: 'Cache', sipDomain: 'cache.example' })).id;
    await addUser('alice');
  });
  after(() => db.close());

  test('a found and a not-found answer are each read once, until invalidated', async () => {
    const cache = createDirectoryCache(source(), { ttlMs: 60_000, maxEntries: 100 });
    calls.findCredentials = 0;
    assert.equal((await cache.users.findCredentials('cache.example', 'alice'))?.username, 'alice');
    assert.equal((await cache.users.findCredentials('CACHE.example', 'alice'))?.username, 'alice');
    assert.equal(await cache.users.findCredentials('cache.example', 'zed'), undefined);
    assert.equal(await cache.users.findCredentials('cache.example', 'zed'), undefined);
    assert.equal(calls.findCredentials, 2);
    await addUser('zed');
    assert.equal(await cache.users.findCredentials('cache.example', 'zed'), undefined, 'still remembered');
    cache.invalidate();
    assert.equal((await cache.users.findCredentials('cache.example', 'zed'))?.username, 'zed');
    assert.equal(calls.findCredentials, 3);
    assert.deepEqual(cache.stats, { hits: 3, misses: 3, size: 1 });
  });

  test('concurrent lookups share one query; a lookup running across an invalidation is not kept', async () => {
    const cache = createDirectoryCache(source(), { ttlMs: 60_000, maxEntries: 100 });
    calls.findByDomain = 0;
    const [a, b] = await Promise.all([
      cache.tenants.findByDomain('cache.example'),
      cache.tenants.findByDomain('cache.example'),
    ]);
    assert.equal(a?.id, tenantId);
    assert.equal(b, a);
    assert.equal(calls.findByDomain, 1);
    cache.invalidate();
    const straddling = cache.tenants.findByDomain('cache.example');
    cache.invalidate();
    await straddling;
    await cache.tenants.findByDomain('cache.example');
    assert.equal(calls.findByDomain, 3, 'the answer loaded across the invalidation was dropped');
  });

  test('a failed lookup is not kept; entries expire; the oldest go past maxEntries', async () => {
    const cache = createDirectoryCache(source(), { ttlMs: 100, maxEntries: 2 });
    calls.findCredentials = 0;
    failNext = true;
    await assert.rejects(cache.users.findCredentials('cache.example', 'alice'), /connection reset/);
    assert.equal((await cache.users.findCredentials('cache.example', 'alice'))?.username, 'alice');
    assert.equal(calls.findCredentials, 2);
    await new Promise((r) => setTimeout(r, 150));
    await cache.users.findCredentials('cache.example', 'alice');
    assert.equal(calls.findCredentials, 3, 'expired after ttlMs');
    await cache.users.findCredentials('cache.example', 'b');
    await cache.users.findCredentials('cache.example', 'c');
    assert.equal(cache.stats.size, 2);
  });

  test("a realm's users missing at once are one query; a failed query fails only its own lookups", async () => {
    const cache = createDirectoryCache(source(), { ttlMs: 60_000, maxEntries: 100 });
    await addUser('bob');
    calls.findCredentials = 0;
    const names = ['alice', 'bob', 'nobody', 'alice', ...Array.from({ length: 40 }, (_, i) => `u${i}`)];
    const found = await Promise.all(names.map((n) => cache.users.findCredentials('cache.example', n)));
    assert.deepEqual(
      found.map((c) => c?.username),
      names.map((n) => (n === 'alice' || n === 'bob' ? n : undefined)),
    );
    assert.equal(calls.findCredentials, 1, 'one query for the 43 users asked for in one turn');
    // Asked for in one turn while none is out: one query, which fails; asked for after, a query of their own.
    cache.invalidate();
    failNext = true;
    const failing = ['alice', 'bob'].map((n) => cache.users.findCredentials('cache.example', n));
    await Promise.allSettled(failing);
    for (const f of failing) await assert.rejects(f, /connection reset/);
    assert.equal((await cache.users.findCredentials('cache.example', 'bob'))?.username, 'bob');
    assert.equal(calls.findCredentials, 3);
  });

  test("a realm's digest algorithms are read once per realm, whatever user a request names", async () => {
    const cache = createDirectoryCache(source(), { ttlMs: 60_000, maxEntries: 100 });
    calls.digestAlgorithms = 0;
    const first = await cache.users.digestAlgorithms('cache.example');
    assert.equal(first?.tenant, null);
    assert.equal(await cache.users.digestAlgorithms('CACHE.example'), first);
    assert.equal(await cache.users.digestAlgorithms('nowhere.example'), undefined);
    assert.equal(await cache.users.digestAlgorithms('nowhere.example'), undefined);
    assert.equal(calls.digestAlgorithms, 2, 'one query per realm, "no such realm" included');
  });

  test('ttl 0: no cache at all', async () => {
    const cache = createDirectoryCache(source(), { ttlMs: 0, maxEntries: 100 });
    calls.findCredentials = 0;
    await cache.users.findCredentials('cache.example', 'alice');
    await cache.users.findCredentials('cache.example', 'alice');
    assert.equal(calls.findCredentials, 2);
  });
});
