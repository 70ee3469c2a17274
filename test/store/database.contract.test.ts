import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditRetentionJob } from '../../src/jobs/index.js';
import {
  createApiKeyRepository,
  createAuditRepository,
  createSipUserRepository,
  createTenantRepository,
  migrate,
  openDatabase,
  pendingMigrations,
  readMigrations,
  StoreError,
} from '../../src/store/index.js';
import { MIGRATIONS_DIR, storeBackends } from '../helpers/store-backends.js';

for (const backend of await storeBackends()) {
  describe(`store contract: ${backend.name}`, { skip: backend.skip }, () => {
    test('parameterized queries and transactions commit or roll back', async () => {
      const { db, cleanup } = await backend.open();
      try {
        await db.exec('CREATE TABLE t (id int PRIMARY KEY, note text)');
        await db.query('INSERT INTO t VALUES ($1, $2)', [1, "it's; DROP TABLE t; --"]);
        const { rows } = await db.query<{ note: string }>('SELECT note FROM t WHERE id = $1', [1]);
        assert.equal(rows[0]?.note, "it's; DROP TABLE t; --");

        await db.transaction(async (tx) => {
          await tx.query('INSERT INTO t VALUES ($1, $2)', [2, 'committed']);
        });
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.query('INSERT INTO t VALUES ($1, $2)', [3, 'rolled back']);
            throw new Error('abort');
          }),
          /abort/,
        );
        const ids = await db.query<{ id: number }>('SELECT id FROM t ORDER BY id');
        assert.deepEqual(
          ids.rows.map((r) => r.id),
          [1, 2],
        );
        assert.equal((await db.query('UPDATE t SET note = $1', ['x'])).rowCount, 2);
      } finally {
        await db.close();
        await cleanup();
      }
    });

    test('queries outside a transaction never run inside it', async () => {
      const { db, cleanup } = await backend.open();
      try {
        await db.exec('CREATE TABLE c (n int)');
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const tx = db.transaction(async (t) => {
          await t.query('INSERT INTO c VALUES (1)');
          await gate;
          throw new Error('rollback');
        });
        const outside = db.query('INSERT INTO c VALUES (2)');
        release();
        await assert.rejects(tx, /rollback/);
        await outside;
        const { rows } = await db.query<{ n: number }>('SELECT n FROM c');
        assert.deepEqual(
          rows.map((r) => r.n),
          [2],
        );
      } finally {
        await db.close();
        await cleanup();
      }
    });

    test('migrations apply once, in order, and readiness sees none pending', async () => {
      const { db, cleanup } = await backend.open();
      try {
        const all = [
          '0001_platform',
          '0002_sip_users',
          '0003_audit_log',
          '0004_trunks_numbers_routes',
          '0005_cdrs',
          '0006_api_resources',
          '0007_route_media_bypass',
          '0008_nat_mode',
          '0009_cdr_reason',
          '0010_sip_digest_algorithms',
          '0011_media_encryption',
          '0012_cdr_hangup_by_api',
          '0013_webhooks',
          '0014_media_encryption_dtls',
          '0015_cdr_transferred_from',
          '0016_cdr_ringing_at',
          '0017_recordings',
        ];
        assert.deepEqual(await pendingMigrations(db, MIGRATIONS_DIR), all);
        assert.deepEqual((await migrate(db, MIGRATIONS_DIR)).applied, all);
        assert.deepEqual((await migrate(db, MIGRATIONS_DIR)).applied, []);
        assert.deepEqual(await pendingMigrations(db, MIGRATIONS_DIR), []);
        const { rows } = await db.query<{ id: string }>(
          "INSERT INTO tenants (name, sip_domain) VALUES ('Acme', 'acme.example') RETURNING id",
        );
        assert.match(rows[0]!.id, /^[0-9a-f-]{36}$/);
      } finally {
        await db.close();
        await cleanup();
      }
    });

    test('an applied migration that was edited afterwards is refused', async () => {
      const { db, cleanup } = await backend.open();
      const dir = await mkdtemp(join(tmpdir(), 'voxgate-migrations-'));
      try {
        await cp(MIGRATIONS_DIR, dir, { recursive: true });
        await migrate(db, dir);
        await writeFile(join(dir, '0001_platform.sql'), '-- edited\nSELECT 1;\n');
        await assert.rejects(migrate(db, dir), (err: unknown) => {
          assert.ok(err instanceof StoreError);
          assert.equal(err.code, 'STORE_MIGRATION_CHANGED');
          assert.match(err.message, /migration 0001_platform was applied with another content/);
          return true;
        });
      } finally {
        await db.close();
        await cleanup();
        await rm(dir, { recursive: true, force: true });
      }
    });

    test('a failing migration leaves nothing behind and names itself', async () => {
      const { db, cleanup } = await backend.open();
      const dir = await mkdtemp(join(tmpdir(), 'voxgate-migrations-'));
      try {
        await writeFile(join(dir, '0001_ok.sql'), 'CREATE TABLE a (x int);');
        await writeFile(join(dir, '0002_broken.sql'), 'CREATE TABLE b (x int); SELECT * FROM missing_table;');
        await assert.rejects(migrate(db, dir), /migration 0002_broken failed/);
        assert.deepEqual(await pendingMigrations(db, dir), ['0002_broken']);
        const { rows } = await db.query<{ t: string | null }>("SELECT to_regclass('b')::text AS t");
        assert.equal(rows[0]?.t, null, 'the half-applied migration was rolled back');
      } finally {
        await db.close();
        await cleanup();
        await rm(dir, { recursive: true, force: true });
      }
    });

    test('data persists across close and reopen', async () => {
      const { db, reopen, cleanup } = await backend.open();
      try {
        await migrate(db, MIGRATIONS_DIR);
        const keys = createApiKeyRepository(db);
        const { token } = await keys.create({ tenantId: null, role: 'admin', name: 'persist' });
        if (backend.name.includes('memory')) return; // nothing to reopen
        await db.close();
        const again = await reopen();
        try {
          assert.equal((await createApiKeyRepository(again).verify(token))?.name, 'persist');
        } finally {
          await again.close();
        }
      } finally {
        if (backend.name.includes('memory')) await db.close();
        await cleanup();
      }
    });

    test('tenants and SIP users: credentials by domain and username, HA1 only', async () => {
      const { db, cleanup } = await backend.open();
      try {
        await migrate(db, MIGRATIONS_DIR);
        const tenants = createTenantRepository(db);
        const users = createSipUserRepository(db);
        const acme = await tenants.create({ name: 'Acme', sipDomain: 'Acme.Example' });
        assert.equal(acme.sipDomain, 'acme.example');
        assert.equal((await tenants.findByDomain('ACME.example'))?.id, acme.id);
        const md5 = 'a'.repeat(32);
        const sha = 'b'.repeat(64);
        await users.create({ tenantId: acme.id, username: 'alice', ha1Md5: md5, ha1Sha256: sha });
        const creds = await users.findCredentials('acme.example', 'alice');
        assert.equal(creds?.ha1Md5, md5);
        assert.equal(creds?.tenantActive, true);
        assert.equal(await users.findCredentials('acme.example', 'bob'), undefined);
        assert.equal(await users.findCredentials('other.example', 'alice'), undefined);
        // Many at once (a registration storm's lookups): one map, by username, the unknown ones absent.
        await users.create({ tenantId: acme.id, username: 'Dave', ha1Md5: md5, ha1Sha256: sha });
        const many = await users.findCredentialsOf('ACME.example', ['alice', 'bob', 'Dave', 'dave', 'alice']);
        assert.deepEqual([...many.keys()].sort(), ['Dave', 'alice']);
        assert.equal(many.get('Dave')?.ha1Sha256, sha);
        assert.equal((await users.findCredentialsOf('acme.example', [])).size, 0);
        // Names come from requests (the digest username): whatever their characters, each is one element of
        // the array, matched exactly, and one odd name fails nobody else's lookup in the same query.
        const odd = ['a,b', 'NULL', '', ' ', 'q"uote', 'back\\slash', '{x}', "o'neil", 'é', 'x'.repeat(300)];
        const mixed = await users.findCredentialsOf('acme.example', [...odd, 'alice', 'Dave']);
        assert.deepEqual([...mixed.keys()].sort(), ['Dave', 'alice']);
        await users.create({ tenantId: acme.id, username: 'a,b', ha1Md5: md5, ha1Sha256: sha });
        await users.create({ tenantId: acme.id, username: "o'neil", ha1Md5: md5, ha1Sha256: sha });
        assert.deepEqual([...(await users.findCredentialsOf('acme.example', odd)).keys()].sort(), [
          'a,b',
          "o'neil",
        ]);
        await assert.rejects(
          users.create({ tenantId: acme.id, username: 'alice', ha1Md5: md5, ha1Sha256: sha }),
        );
        await assert.rejects(
          users.create({ tenantId: acme.id, username: 'carol', ha1Md5: 'not-a-hash', ha1Sha256: sha }),
          /check constraint/,
        );
      } finally {
        await db.close();
        await cleanup();
      }
    });

    test('digest algorithms: a list per tenant and per user, null inherits, only MD5 and SHA-256 once each', async () => {
      const { db, cleanup } = await backend.open();
      try {
        await migrate(db, MIGRATIONS_DIR);
        const tenants = createTenantRepository(db);
        const users = createSipUserRepository(db);
        const hashes = { ha1Md5: 'a'.repeat(32), ha1Sha256: 'b'.repeat(64) };
        const acme = await tenants.create({ name: 'Acme', sipDomain: 'acme.example' });
        assert.equal(acme.sipDigestAlgorithms, null, 'inherits the platform list by default');
        const strong = await tenants.create({
          name: 'Strong',
          sipDomain: 'strong.example',
          sipDigestAlgorithms: ['SHA-256', 'MD5'],
        });
        assert.deepEqual(strong.sipDigestAlgorithms, ['SHA-256', 'MD5']);
        assert.deepEqual((await tenants.findByDomain('strong.example'))?.sipDigestAlgorithms, [
          'SHA-256',
          'MD5',
        ]);

        const alice = await users.create({ tenantId: acme.id, username: 'alice', ...hashes });
        assert.equal(alice.sipDigestAlgorithms, null);
        const bob = await users.create({
          tenantId: acme.id,
          username: 'bob',
          sipDigestAlgorithms: ['SHA-256'],
          ...hashes,
        });
        assert.deepEqual(bob.sipDigestAlgorithms, ['SHA-256']);
        assert.deepEqual((await users.get(acme.id, bob.id))?.sipDigestAlgorithms, ['SHA-256']);
        assert.deepEqual(
          (await users.list(acme.id, { limit: 10 })).map((u) => u.sipDigestAlgorithms),
          [null, ['SHA-256']],
        );

        // The realm's lists at once: the tenant's and those of the users that have one.
        const realm = await users.digestAlgorithms('ACME.example');
        assert.equal(realm?.tenant, null);
        assert.deepEqual([...(realm?.users ?? [])], [['bob', ['SHA-256']]]);
        assert.equal(await users.digestAlgorithms('nowhere.example'), undefined);

        // Changes: a list replaces the other, null inherits again, an absent field stays.
        const changed = await users.update(acme.id, alice.id, { sipDigestAlgorithms: ['MD5', 'SHA-256'] });
        assert.deepEqual(changed?.after.sipDigestAlgorithms, ['MD5', 'SHA-256']);
        assert.equal(changed?.before.sipDigestAlgorithms, null);
        assert.deepEqual(
          (await users.update(acme.id, alice.id, { enabled: false }))?.after.sipDigestAlgorithms,
          ['MD5', 'SHA-256'],
        );
        assert.equal(
          (await users.update(acme.id, bob.id, { sipDigestAlgorithms: null }))?.after.sipDigestAlgorithms,
          null,
        );
        const tenantChange = await tenants.update(acme.id, { sipDigestAlgorithms: ['SHA-256', 'MD5'] });
        assert.deepEqual(tenantChange?.after.sipDigestAlgorithms, ['SHA-256', 'MD5']);
        assert.deepEqual((await tenants.update(acme.id, { name: 'Acme Ltd' }))?.after.sipDigestAlgorithms, [
          'SHA-256',
          'MD5',
        ]);
        const after = await users.digestAlgorithms('acme.example');
        assert.deepEqual(after?.tenant, ['SHA-256', 'MD5']);
        assert.deepEqual([...(after?.users ?? [])], [['alice', ['MD5', 'SHA-256']]]);
        assert.equal(
          (await tenants.update(acme.id, { sipDigestAlgorithms: null }))?.after.sipDigestAlgorithms,
          null,
        );

        // The database refuses what the API's schema refuses: another algorithm, a repeat, an empty list.
        for (const bad of [['SHA-512'], ['MD5', 'MD5'], [], ['MD5', 'SHA-256', 'MD5']]) {
          await assert.rejects(
            db.query('UPDATE sip_users SET sip_digest_algorithms = $1::text[] WHERE id = $2', [bad, bob.id]),
            /check constraint/,
            JSON.stringify(bad),
          );
          await assert.rejects(
            db.query('UPDATE tenants SET sip_digest_algorithms = $1::text[] WHERE id = $2', [bad, acme.id]),
            /check constraint/,
            JSON.stringify(bad),
          );
        }
      } finally {
        await db.close();
        await cleanup();
      }
    });

    test('audit log: entries newest first, per tenant; the retention job purges what is past retention', async () => {
      const { db, cleanup } = await backend.open();
      try {
        await migrate(db, MIGRATIONS_DIR);
        const audit = createAuditRepository(db);
        const tenant = '11111111-1111-4111-8111-111111111111';
        for (const id of ['a', 'b', 'c']) {
          await audit.record({
            actorKeyId: 'k1',
            tenantId: tenant,
            action: 'create',
            entity: 'thing',
            entityId: id,
            before: null,
            after: { id },
            sourceIp: '192.0.2.1',
          });
        }
        await audit.record({
          actorKeyId: 'k1',
          tenantId: null,
          action: 'delete',
          entity: 'thing',
          entityId: 'z',
          before: { id: 'z' },
          after: null,
          sourceIp: null,
        });
        const page = await audit.list({ limit: 2, tenantId: tenant });
        assert.deepEqual(
          page.map((e) => e.entityId),
          ['c', 'b'],
        );
        assert.deepEqual(page[0]!.after, { id: 'c' });
        assert.deepEqual(
          (await audit.list({ limit: 10, tenantId: tenant, before: page[1]!.id })).map((e) => e.entityId),
          ['a'],
        );
        await db.query("UPDATE audit_log SET at = now() - interval '400 days' WHERE entity_id IN ('a', 'z')");
        let purged = 0;
        await auditRetentionJob({ audit, retentionDays: 365, onPurged: (n) => (purged = n) }).run(
          new AbortController().signal,
        );
        assert.equal(purged, 2);
        assert.deepEqual(
          (await audit.list({ limit: 10 })).map((e) => e.entityId),
          ['c', 'b'],
        );
      } finally {
        await db.close();
        await cleanup();
      }
    });

    test('API keys: created once with only a hash stored, verified, revoked', async () => {
      const { db, cleanup } = await backend.open();
      try {
        await migrate(db, MIGRATIONS_DIR);
        const keys = createApiKeyRepository(db);
        assert.equal(await keys.count(), 0);
        const { id, token } = await keys.create({ tenantId: null, role: 'operator', name: 'ops' });
        assert.match(token, new RegExp(`^vxg_${id}_[A-Za-z0-9_-]{43}$`));
        const stored = await db.query<{ secret_hash: string }>(
          'SELECT secret_hash FROM api_keys WHERE id = $1',
          [id],
        );
        assert.ok(!token.includes(stored.rows[0]!.secret_hash));
        assert.equal(stored.rows[0]!.secret_hash.length, 64);

        const key = await keys.verify(token);
        assert.equal(key?.role, 'operator');
        assert.equal(key?.tenantId, null);
        assert.equal(
          await keys.verify(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`),
          null,
          'wrong secret',
        );
        assert.equal(await keys.verify('vxg_nosuchkey_aaaaaaaaaaaaaaaaaaaaaaaaaaaa'), null, 'unknown id');
        assert.equal(await keys.verify('Bearer nonsense'), null, 'malformed');

        assert.equal(await keys.revoke(id), true);
        assert.equal(await keys.verify(token), null, 'revoked');
        assert.equal(await keys.revoke(id), false);

        const given = 'vxg_fixed01_abcdefghijklmnopqrstuvwxyz012345';
        assert.equal(
          (await keys.create({ tenantId: null, role: 'admin', name: 'given', token: given })).token,
          given,
        );
        assert.equal((await keys.verify(given))?.name, 'given');
        await assert.rejects(
          keys.create({ tenantId: null, role: 'admin', name: 'bad', token: 'hunter2' }),
          (err: unknown) => {
            assert.ok(err instanceof StoreError);
            assert.equal(err.code, 'STORE_INVALID_TOKEN');
            return true;
          },
        );
      } finally {
        await db.close();
        await cleanup();
      }
    });
  });
}

describe('store: PostgreSQL specifics', async () => {
  const backends = await storeBackends();
  const pgBackend = backends.find((b) => b.name === 'PostgreSQL')!;

  test('two migrators racing apply each migration once', { skip: pgBackend.skip }, async () => {
    const { db, reopen, cleanup } = await pgBackend.open();
    const other = await reopen();
    try {
      const [a, b] = await Promise.all([migrate(db, MIGRATIONS_DIR), migrate(other, MIGRATIONS_DIR)]);
      const all = (await readMigrations(MIGRATIONS_DIR)).map((m) => `${m.version}_${m.name}`);
      assert.deepEqual([...a.applied, ...b.applied].sort(), all);
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      assert.equal(rows[0]?.n, all.length);
    } finally {
      await db.close();
      await other.close();
      await cleanup();
    }
  });

  test('an unreachable server is a StoreError naming the host, never the password', async () => {
    await assert.rejects(
      openDatabase({ url: 'postgres://voxgate:hunter2@127.0.0.1:1/voxgate', dataDir: 'unused' }),
      (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.code, 'STORE_UNREACHABLE');
        assert.match(err.message, /^cannot connect to PostgreSQL at 127\.0\.0\.1:1\/voxgate: /);
        assert.ok(!err.message.includes('hunter2'));
        return true;
      },
    );
  });
});
