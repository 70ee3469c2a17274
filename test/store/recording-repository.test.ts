// Recordings in the store: the rows the gateway writes for the files the relay stored, the recording policy
// columns of tenants, users and routes, the `recording.ready` event published after the row, and the worker's
// retention job deleting old files and rows — on PGlite and PostgreSQL.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordingRetentionJob } from '../../src/jobs/index.js';
import {
  createFolderStore,
  createRecordingRepository,
  createRouteRepository,
  createSipUserRepository,
  createTenantRepository,
  createTrunkRepository,
  migrate,
  RECORDING_EVENTS_STREAM,
  storeRecording,
  webhookEventOfEntry,
} from '../../src/store/index.js';
import { createMemorySharedState } from '../../src/store/shared-state/index.js';
import { MIGRATIONS_DIR, storeBackends } from '../helpers/store-backends.js';

const backends = (await storeBackends()).filter((b) => b.name !== 'PGlite (data directory)');

for (const backend of backends) {
  describe(`recordings in the store: ${backend.name}`, { skip: backend.skip }, () => {
    test('policies: tenant off by default, users and routes inherit (null) until set', async () => {
      const { db, cleanup } = await backend.open();
      try {
        await migrate(db, MIGRATIONS_DIR);
        const tenants = createTenantRepository(db);
        const acme = await tenants.create({ name: 'Acme', sipDomain: 'acme.example' });
        assert.equal(acme.recording, 'off');
        const changed = await tenants.update(acme.id, { recording: 'on-demand' });
        assert.deepEqual([changed?.before.recording, changed?.after.recording], ['off', 'on-demand']);
        const users = createSipUserRepository(db);
        const alice = await users.create({
          tenantId: acme.id,
          username: 'alice',
          ha1Md5: 'a'.repeat(32),
          ha1Sha256: 'b'.repeat(64),
        });
        assert.equal(alice.recording, null);
        await users.update(acme.id, alice.id, { recording: 'always' });
        assert.equal((await users.findCredentials('acme.example', 'alice'))?.recording, 'always');
        await users.update(acme.id, alice.id, { recording: null });
        assert.equal((await users.get(acme.id, alice.id))?.recording, null);
        const trunk = await createTrunkRepository(db).create({
          tenantId: acme.id,
          name: 'carrier',
          host: 'carrier.example',
        });
        const routes = createRouteRepository(db);
        const route = await routes.create({
          tenantId: acme.id,
          name: 'out',
          pattern: '\\+\\d+',
          trunkIds: [trunk.id],
          recording: 'always',
        });
        assert.equal(route.recording, 'always');
        const patched = await routes.update(acme.id, route.id, { name: 'outbound' });
        assert.equal(patched?.after.recording, 'always', 'a patch without recording keeps it');
        await assert.rejects(
          db.query(`UPDATE tenants SET recording = 'sometimes' WHERE id = $1`, [acme.id]),
          'the database refuses an unknown policy',
        );
      } finally {
        await db.close();
        await cleanup();
      }
    });

    test('stored: row then recording.ready event; listed per call, paged; tenants apart; deleted', async () => {
      const { db, cleanup } = await backend.open();
      const state = createMemorySharedState();
      try {
        await migrate(db, MIGRATIONS_DIR);
        const tenants = createTenantRepository(db);
        const acme = await tenants.create({ name: 'Acme', sipDomain: 'acme.example' });
        const other = await tenants.create({ name: 'Other', sipDomain: 'other.example' });
        const files = [
          { name: 'call.pcap', key: '2026-12-03/c1/call.pcap' },
          { name: 'abc-1.wav', key: '2026-12-03/c1/abc-1.wav' },
        ];
        const first = await storeRecording(
          { db, events: state.events },
          {
            tenantId: acme.id,
            callId: 'c1',
            startedAt: new Date('2026-12-03T10:00:00Z'),
            endedAt: new Date('2026-12-03T10:01:00Z'),
            files,
          },
        );
        const repo = createRecordingRepository(db);
        const second = await repo.add({
          tenantId: acme.id,
          callId: 'c1',
          startedAt: new Date('2026-12-03T10:02:00Z'),
          endedAt: new Date('2026-12-03T10:03:00Z'),
          files: [{ name: 'abc-1.wav', key: '2026-12-03/c1-2/abc-1.wav' }],
        });
        await repo.add({
          tenantId: acme.id,
          callId: 'c2',
          startedAt: new Date('2026-12-03T11:00:00Z'),
          endedAt: new Date('2026-12-03T11:01:00Z'),
          files: [],
        });

        const [entry] = await state.events.consume(RECORDING_EVENTS_STREAM, 'test', 'c', { count: 10 });
        assert.ok(entry, 'the recording.ready event');
        const event = webhookEventOfEntry(RECORDING_EVENTS_STREAM, entry);
        assert.equal(event.type, 'recording.ready');
        assert.equal(event.tenantId, acme.id);
        assert.deepEqual(event.data, {
          recordingId: first.id,
          callId: 'c1',
          startedAt: '2026-12-03T10:00:00.000Z',
          endedAt: '2026-12-03T10:01:00.000Z',
          files: ['call.pcap', 'abc-1.wav'],
          url: `/v1/tenants/${acme.id}/recordings/${first.id}`,
        });
        assert.equal(webhookEventOfEntry(RECORDING_EVENTS_STREAM, entry).id, event.id, 'a stable event id');

        assert.deepEqual(
          (await repo.list(acme.id, { limit: 10, callId: 'c1' })).map((r) => r.id),
          [first.id, second.id],
        );
        const page = await repo.list(acme.id, { limit: 1 });
        const next = await repo.list(acme.id, {
          limit: 5,
          after: { startedAt: page[0]!.startedAt.toISOString(), id: page[0]!.id },
        });
        assert.equal(next.length, 2);
        assert.deepEqual((await repo.get(acme.id, first.id))?.files, files);
        assert.equal(await repo.get(other.id, first.id), undefined, "another tenant's is not found");
        assert.deepEqual(await repo.list(other.id, { limit: 10 }), []);
        assert.deepEqual(
          [...(await repo.idsByCall(acme.id, ['c1', 'c3'])).entries()],
          [['c1', [first.id, second.id]]],
        );
        assert.equal(await repo.delete(other.id, first.id), undefined);
        assert.equal((await repo.delete(acme.id, first.id))?.id, first.id);
        assert.equal(await repo.get(acme.id, first.id), undefined);
      } finally {
        await state.close();
        await db.close();
        await cleanup();
      }
    });

    test('retention job: files and rows older than the period go, newer ones stay', async () => {
      const { db, cleanup } = await backend.open();
      const dir = await mkdtemp(join(tmpdir(), 'voxgate-rec-retention-'));
      try {
        await migrate(db, MIGRATIONS_DIR);
        const acme = await createTenantRepository(db).create({ name: 'Acme', sipDomain: 'acme.example' });
        const store = createFolderStore(dir);
        const put = async (key: string) => {
          const spooled = join(dir, `spool-${key.replaceAll('/', '_')}`);
          await writeFile(spooled, 'RIFF');
          await store.putFile(key, spooled);
        };
        await put('2026-01-01/old/a-1.wav');
        await put('2026-01-01/old/call.pcap');
        await put('2026-12-03/new/a-1.wav');
        const repo = createRecordingRepository(db);
        const old = await repo.add({
          tenantId: acme.id,
          callId: 'old',
          startedAt: new Date('2026-01-01T10:00:00Z'),
          endedAt: new Date('2026-01-01T10:01:00Z'),
          files: [
            { name: 'a-1.wav', key: '2026-01-01/old/a-1.wav' },
            { name: 'call.pcap', key: '2026-01-01/old/call.pcap' },
            { name: 'b-1.wav', key: '2026-01-01/old/b-1.wav' }, // already gone: no error
          ],
        });
        await db.query(`UPDATE recordings SET created_at = now() - interval '40 days' WHERE id = $1`, [
          old.id,
        ]);
        const fresh = await repo.add({
          tenantId: acme.id,
          callId: 'new',
          startedAt: new Date(),
          endedAt: new Date(),
          files: [{ name: 'a-1.wav', key: '2026-12-03/new/a-1.wav' }],
        });
        let purged = 0;
        const job = recordingRetentionJob({
          recordings: repo,
          store,
          retentionDays: 30,
          onPurged: (n) => (purged = n),
        });
        await job.run(new AbortController().signal);
        assert.equal(purged, 1);
        assert.equal(await repo.get(acme.id, old.id), undefined);
        assert.ok(await repo.get(acme.id, fresh.id));
        assert.deepEqual(await store.list('2026-01-01/'), []);
        assert.deepEqual(await store.list('2026-12-03/'), ['2026-12-03/new/a-1.wav']);
        assert.ok((await readdir(dir)).includes('2026-12-03'));
      } finally {
        await db.close();
        await cleanup();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}
