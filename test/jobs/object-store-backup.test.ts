// The worker's object-store backup against two S3 servers (s3rver over real HTTP: the source bucket with the
// recordings and database backups, and a backup bucket of its own on another server): a first run copies
// everything, the next ones only what is new or changed, an object deleted from its source stays in the backup
// and is restored from an older run, a destination that fails in the middle of a run fails the run (reported
// on the metrics channel) and the next run resumes where it stopped; the retention deletes what only expired
// runs listed. Then `voxgate object-backup list|restore` on folder stores, as an operator runs it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import {
  chooseManifest,
  listObjectBackups,
  locationOf,
  objectBackupChannel,
  objectStoreBackupJob,
  restoreObjectBackup,
  type ObjectBackupEvent,
} from '../../src/jobs/index.js';
import { Registry } from '../../src/observability/index.js';
import { runCli } from '../../src/platform/cli.js';
import { collectDataMetrics } from '../../src/platform/data-metrics.js';
import { createFolderStore, createS3Store, type ObjectStore } from '../../src/store/index.js';

const bodyOf = async (store: ObjectStore, key: string): Promise<string | undefined> => {
  const opened = await store.open(key);
  if (!opened) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of opened.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
};

describe('object-store backup (worker job) between two S3 servers', () => {
  let dir: string;
  let source: S3rver;
  let destination: S3rver;
  let sourceUrl: string;
  let destinationPort: number;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  const startDestination = async (port: number) => {
    destination = new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory: join(dir, 'destination'),
      configureBuckets: [{ name: 'backup' }],
    });
    return (await destination.run()).port;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'voxgate-object-backup-'));
    source = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: join(dir, 'source'),
      configureBuckets: [{ name: 'voxgate' }],
    });
    sourceUrl = `http://127.0.0.1:${(await source.run()).port}`;
    destinationPort = await startDestination(0);
    // s3rver's fixed credentials, read by the SDK's default chain as in production (env / IRSA).
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  });
  after(async () => {
    await source.close();
    await destination.close();
    await rm(dir, { recursive: true, force: true });
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    else process.env.AWS_ACCESS_KEY_ID = saved.id;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
  });

  const s3 = (url: string, endpoint: string) =>
    createS3Store({ url, endpoint, region: 'us-east-1', forcePathStyle: true });
  let spooled = 0;
  const put = async (store: ObjectStore, key: string, body: string) => {
    const path = join(dir, `put-${(spooled += 1)}`);
    await writeFile(path, body);
    await store.putFile(key, path);
  };

  test('copies everything once, then only new and changed objects; a deleted one stays restorable', async () => {
    const recordings = s3('s3://voxgate/recordings', sourceUrl);
    const dumps = s3('s3://voxgate/postgres', sourceUrl);
    const backup = s3('s3://backup/objects', `http://127.0.0.1:${destinationPort}`);
    const events: ObjectBackupEvent[] = [];
    const onEvent = (m: unknown) => events.push(m as ObjectBackupEvent);
    subscribe(objectBackupChannel.name, onEvent);
    try {
      await put(recordings, '2026-12-01/call-1/a-1.wav', 'RIFF call one, first party');
      await put(recordings, '2026-12-01/call-1/b-1.wav', 'RIFF call one, second party');
      await put(recordings, '2026-12-02/call-2/mixed.wav', 'RIFF call two, mixed');
      await put(dumps, 'backups/20261202T021700Z.dump', 'PGDMP custom format dump');
      const job = objectStoreBackupJob({
        sources: [
          { name: 'recordings', store: recordings },
          { name: 'database-backups', store: dumps },
        ],
        backup,
        spoolDir: join(dir, 'spool'),
        everyMs: 1,
        retentionDays: 0,
      });

      const first = await job.runNow();
      assert.ok(first);
      assert.deepEqual(first.copied, { objects: 4, bytes: 26 + 27 + 20 + 24 });
      assert.deepEqual(first.sources.recordings, { objects: 3, bytes: 26 + 27 + 20 });
      assert.deepEqual(first.sources['database-backups'], { objects: 1, bytes: 24 });
      assert.equal((await backup.list('data/')).length, 4);
      assert.deepEqual(events.at(-1), { ...events.at(-1), ok: true, copiedObjects: 4, copiedBytes: 97 });

      const second = await job.runNow();
      assert.deepEqual(second?.copied, { objects: 0, bytes: 0 }, 'nothing new: nothing copied');

      await put(recordings, '2026-12-03/call-3/mixed.wav', 'RIFF call three');
      await put(recordings, '2026-12-01/call-1/a-1.wav', 'RIFF call one, first party, replaced');
      const third = await job.runNow();
      assert.deepEqual(third?.copied, { objects: 2, bytes: 15 + 36 }, 'the new and the changed one');
      assert.equal((await backup.list('data/')).length, 6, 'the replaced version is kept beside the new one');

      await recordings.delete('2026-12-02/call-2/mixed.wav');
      const fourth = await job.runNow();
      assert.deepEqual(fourth?.copied, { objects: 0, bytes: 0 });
      assert.deepEqual(fourth?.sources.recordings, { objects: 3, bytes: 15 + 36 + 27 });
      assert.equal((await backup.list('data/')).length, 6, 'what the source lost is still in the backup');

      const runs = await listObjectBackups(backup);
      assert.deepEqual(
        runs.map((r) => r.copied.objects),
        [4, 0, 2, 0],
      );
      // The run before the deletion, chosen by time, restores the deleted recording into the source.
      const beforeDeletion = await chooseManifest(backup, new Date(Date.parse(createdAt(runs[2]))));
      assert.equal(beforeDeletion, runs[2]!.stamp);
      const restored = await restoreObjectBackup({
        backup,
        targets: { recordings },
        stamp: beforeDeletion,
        prefix: '2026-12-02/',
        spoolDir: join(dir, 'spool'),
      });
      assert.deepEqual(restored.restored, { objects: 1, bytes: 20 });
      assert.equal(await bodyOf(recordings, '2026-12-02/call-2/mixed.wav'), 'RIFF call two, mixed');
      // The first run restores the first version of the replaced recording (asked to overwrite).
      const older = await restoreObjectBackup({
        backup,
        targets: { recordings },
        stamp: runs[0]!.stamp,
        prefix: '2026-12-01/call-1/a-1',
        overwrite: true,
        spoolDir: join(dir, 'spool'),
      });
      assert.equal(older.restored.objects, 1);
      assert.equal(await bodyOf(recordings, '2026-12-01/call-1/a-1.wav'), 'RIFF call one, first party');
      // Objects the target holds with their size are left alone.
      const again = await restoreObjectBackup({
        backup,
        targets: { recordings },
        stamp: runs[3]!.stamp,
        spoolDir: join(dir, 'spool'),
      });
      assert.deepEqual(again.restored, { objects: 1, bytes: 36 }, 'only the one of another size');
      assert.equal(again.present, 2);
    } finally {
      unsubscribe(objectBackupChannel.name, onEvent);
      recordings.close();
      dumps.close();
      backup.close();
    }
  });

  test('a destination failing in the middle of a run fails that run; the next one resumes', async () => {
    const recordings = s3('s3://voxgate/resume', sourceUrl);
    const backup = s3('s3://backup/resume', `http://127.0.0.1:${destinationPort}`);
    const events: ObjectBackupEvent[] = [];
    const onEvent = (m: unknown) => events.push(m as ObjectBackupEvent);
    subscribe(objectBackupChannel.name, onEvent);
    const registry = new Registry();
    const stopMetrics = collectDataMetrics(registry, undefined);
    try {
      for (let n = 1; n <= 5; n++) await put(recordings, `2026-12-03/call-${n}/mixed.wav`, `RIFF call ${n}`);
      let copies = 0;
      let stopAfter = 2;
      const job = objectStoreBackupJob({
        sources: [{ name: 'recordings', store: recordings }],
        backup,
        spoolDir: join(dir, 'spool'),
        everyMs: 1,
        retentionDays: 0,
        onCopied: async () => {
          copies += 1;
          if (copies === stopAfter) await destination.close();
        },
      });
      await assert.rejects(job.runNow(), 'the run fails (the scheduler reports it, the worker goes on)');
      assert.deepEqual(
        { ok: events.at(-1)?.ok, copied: events.at(-1)?.copiedObjects },
        { ok: false, copied: 2 },
      );
      stopAfter = 0;
      await startDestination(destinationPort);
      assert.deepEqual(await listObjectBackups(backup), [], 'no manifest for the failed run');
      const resumed = await job.runNow();
      assert.deepEqual(resumed?.copied.objects, 3, 'only the three the failed run did not copy');
      assert.deepEqual(resumed?.sources.recordings?.objects, 5);
      assert.equal(events.at(-1)?.ok, true);
      const metrics = await registry.metrics();
      assert.match(metrics, /^voxgate_object_backup_copied_objects_total 5$/m, 'two, then three');
      assert.match(metrics, /^voxgate_object_backup_copied_bytes_total 55$/m);
      const last =
        /^voxgate_object_backup_last_success_timestamp_seconds\{job="object-store-backup"\} (\S+)$/m.exec(
          metrics,
        );
      assert.equal(Number(last?.[1]), events.at(-1)!.at / 1000, 'the successful run, not the failed one');
    } finally {
      stopMetrics();
      unsubscribe(objectBackupChannel.name, onEvent);
      recordings.close();
      backup.close();
    }
  });

  test('retention: runs past it are deleted with the copies only they listed', async () => {
    const recordings = s3('s3://voxgate/retention', sourceUrl);
    const backup = s3('s3://backup/retention', `http://127.0.0.1:${destinationPort}`);
    try {
      await put(recordings, 'kept.wav', 'RIFF kept');
      await put(recordings, 'gone.wav', 'RIFF deleted from the source');
      const job = objectStoreBackupJob({
        sources: [{ name: 'recordings', store: recordings }],
        backup,
        spoolDir: join(dir, 'spool'),
        everyMs: 1,
        retentionDays: 30,
      });
      const first = await job.runNow();
      assert.ok(first);
      // That run is made two months old: its manifest moved under an older stamp.
      const path = join(dir, 'old-manifest');
      await backup.getFile(`manifests/${first.stamp}.jsonl`, path);
      await backup.putFile('manifests/20261001T000000000Z.jsonl', path);
      await backup.delete(`manifests/${first.stamp}.jsonl`);
      await recordings.delete('gone.wav');
      const second = await job.runNow();
      assert.deepEqual(second?.pruned, { manifests: 1, objects: 1 });
      const [kept] = await recordings.listVersions('kept.wav');
      assert.deepEqual(await backup.list('data/'), [locationOf({ source: 'recordings', ...kept! })]);
      assert.deepEqual(
        (await listObjectBackups(backup)).map((r) => r.stamp),
        [second!.stamp],
      );
    } finally {
      recordings.close();
      backup.close();
    }
  });
});

const createdAt = (h: { createdAt: string } | undefined): string => h?.createdAt ?? '';

describe('voxgate object-backup list|restore (folder stores)', () => {
  test('lists the runs and restores a deleted recording, by day, into its store or a folder', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'voxgate-object-restore-'));
    try {
      const recordings = createFolderStore(join(dataDir, 'recordings'));
      await writeFile(join(dataDir, 'r.wav'), 'RIFF the recording');
      await recordings.putFile('2026-12-03/call-9/mixed.wav', join(dataDir, 'r.wav'));
      const job = objectStoreBackupJob({
        sources: [
          { name: 'recordings', store: recordings },
          { name: 'database-backups', store: createFolderStore(join(dataDir, 'backups')) },
        ],
        backup: createFolderStore(join(dataDir, 'object-backups')),
        spoolDir: join(dataDir, 'spool'),
        everyMs: 1,
        retentionDays: 35,
      });
      const run = await job.runNow();
      assert.ok(run);
      await recordings.delete('2026-12-03/call-9/mixed.wav');

      const out: string[] = [];
      const err: string[] = [];
      const io = {
        env: { VOXGATE_DATA_DIR: dataDir },
        out: (l: string) => out.push(l),
        err: (l: string) => err.push(l),
      };
      assert.deepEqual(await runCli(['object-backup', 'list', '--json'], io), { exitCode: 0 });
      const listed = JSON.parse(out.join('\n')) as { stamp: string }[];
      assert.deepEqual(
        listed.map((r) => r.stamp),
        [run.stamp],
      );

      out.length = 0;
      const day = run.createdAt.slice(0, 10);
      const scratch = join(dataDir, 'drill');
      assert.deepEqual(
        await runCli(
          ['object-backup', 'restore', `--at=${day}`, '--source=recordings', `--to=${scratch}`],
          io,
        ),
        { exitCode: 0 },
      );
      assert.match(out.join('\n'), new RegExp(`restored 1 objects \\(18 bytes\\) of run ${run.stamp}`));
      assert.equal(
        await readFile(join(scratch, 'recordings', '2026-12-03', 'call-9', 'mixed.wav'), 'utf8'),
        'RIFF the recording',
      );
      assert.deepEqual(await runCli(['object-backup', 'restore', '--prefix=2026-12-03/'], io), {
        exitCode: 0,
      });
      assert.equal(await bodyOf(recordings, '2026-12-03/call-9/mixed.wav'), 'RIFF the recording');

      err.length = 0;
      assert.deepEqual(await runCli(['object-backup', 'restore', '--at=2020-01-01'], io), { exitCode: 1 });
      assert.match(err.join('\n'), /no object backup at or before 2020-01-01/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
