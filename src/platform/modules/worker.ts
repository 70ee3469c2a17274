import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  auditRetentionJob,
  cdrRetentionJob,
  recordingRetentionJob,
  cdrWriterJob,
  createScheduler,
  databaseBackupJob,
  objectStoreBackupJob,
  restoreTestJob,
  webhookDeliveryJob,
  webhookFanoutJob,
  webhookLogRetentionJob,
  type ScheduledJob,
} from '../../jobs/index.js';
import {
  createAuditRepository,
  createCdrRepository,
  createFolderStore,
  createRecordingRepository,
  createS3Store,
  createWebhookRepository,
} from '../../store/index.js';
import type { ModuleDefinition } from '../module.js';
import { requireService } from '../module.js';
import { openObjectBackupStore, openRecordingStore } from '../recording-store.js';
import { VERSION } from '../version.js';

/** Arbitrary constant naming the advisory lock that keeps two workers from backing the object stores up at once. */
const OBJECT_BACKUP_LOCK = 0x766f786f; // "voxo"

/** How long the last CDR run at stop may take. */
const FINAL_CDR_RUN_MS = 5000;

/**
 * Background jobs: the CDR writer (call events → CDRs), webhooks (call events and registration changes →
 * deliveries → signed POSTs, retried), CDR, audit and delivery log retention, and on PostgreSQL the database
 * backup (VOXGATE_BACKUP_URL, or VOXGATE_DATA_DIR/backups) and its restore test; the object-store backup of
 * recordings and database backups (VOXGATE_OBJECT_BACKUP_URL, or VOXGATE_DATA_DIR/object-backups).
 */
export const workerModule: ModuleDefinition = {
  name: 'worker',
  deps: ['http-server', 'tracing', 'store', 'shared-state'],
  async init(ctx) {
    const db = requireService(ctx, 'store');
    const state = requireService(ctx, 'sharedState');
    const cdrs = createCdrRepository(db);
    const cdrWriter = cdrWriterJob({
      events: state.events,
      cdrs,
      consumer: `${hostname()}:${process.pid}`,
      onWritten: (count) => ctx.logger.info({ count }, 'CDRs written'),
      onPoison: (entry, err) =>
        ctx.logger.error({ err, entry: entry.id }, 'call event is not readable; skipped'),
    });
    const consumer = `${hostname()}:${process.pid}`;
    const webhooks = createWebhookRepository(db);
    const hooks = ctx.config.webhooks;
    const webhookDelivery = webhookDeliveryJob({
      webhooks,
      allow: hooks.allow,
      timeoutMs: hooks.timeoutMs,
      concurrency: hooks.concurrency,
      retryForMs: hooks.retryForMs,
      userAgent: `voxgate-webhooks/${VERSION}`,
      onRecordFailed: (d, err) =>
        ctx.logger.warn(
          { err, webhook: d.webhookId, event: d.eventId },
          'webhook attempt not recorded; attempted again later',
        ),
    });
    const jobs: ScheduledJob[] = [
      cdrWriter,
      webhookFanoutJob({
        events: state.events,
        webhooks,
        consumer,
        onPoison: (stream, entry, err) =>
          ctx.logger.error({ err, stream, entry: entry.id }, 'event is not readable; no webhook for it'),
      }),
      webhookDelivery,
      webhookLogRetentionJob({
        webhooks,
        retentionDays: hooks.logRetentionDays,
        onPurged: (count) => ctx.logger.info({ count }, 'purged webhook deliveries past retention'),
      }),
      cdrRetentionJob({
        cdrs,
        retentionDays: ctx.config.cdrRetentionDays,
        onPurged: (count) => ctx.logger.info({ count }, 'purged CDRs past retention'),
      }),
      auditRetentionJob({
        audit: createAuditRepository(db),
        retentionDays: ctx.config.auditRetentionDays,
        onPurged: (count) => ctx.logger.info({ count }, 'purged audit entries past retention'),
      }),
    ];
    const recordingStore = openRecordingStore(ctx.config);
    if (ctx.config.recordingRetentionDays > 0) {
      jobs.push(
        recordingRetentionJob({
          recordings: createRecordingRepository(db),
          store: recordingStore,
          retentionDays: ctx.config.recordingRetentionDays,
          onPurged: (count) => ctx.logger.info({ count }, 'deleted recordings past retention'),
          onError: (key, err) =>
            ctx.logger.warn({ err, key }, 'recording past retention not deleted; tried again later'),
        }),
      );
    }
    const { backups } = ctx.config;
    const databaseUrl = ctx.config.database.url;
    const objects = backups.s3
      ? createS3Store(backups.s3)
      : createFolderStore(join(ctx.config.dataDir, 'backups'));
    const spoolDir = join(ctx.config.dataDir, 'backups', '.spool');
    if (databaseUrl && backups.intervalMs > 0) {
      jobs.push(
        databaseBackupJob({
          db,
          databaseUrl,
          store: objects,
          spoolDir,
          everyMs: backups.intervalMs,
          onStored: (m) =>
            ctx.logger.info(
              { key: m.dumpKey, bytes: m.sizeBytes, tables: m.tables },
              'database backup stored',
            ),
        }),
      );
    }
    if (databaseUrl && backups.restoreTestIntervalMs > 0) {
      jobs.push(
        restoreTestJob({
          db,
          databaseUrl,
          store: objects,
          spoolDir,
          everyMs: backups.restoreTestIntervalMs,
          onChecked: (m) => ctx.logger.info({ key: m.dumpKey }, 'restore test passed'),
        }),
      );
    }
    if (!databaseUrl)
      ctx.logger.info('embedded PGlite: no database backup job; back up VOXGATE_DATA_DIR instead');
    const objectBackups = ctx.config.objectBackups;
    const objectBackup = openObjectBackupStore(ctx.config);
    if (objectBackups.intervalMs > 0) {
      jobs.push(
        objectStoreBackupJob({
          sources: [
            { name: 'recordings', store: recordingStore },
            { name: 'database-backups', store: objects },
          ],
          backup: objectBackup,
          spoolDir,
          everyMs: objectBackups.intervalMs,
          retentionDays: objectBackups.retentionDays,
          // One run per period across the workers: an advisory lock held by the run's transaction (PGlite is
          // one process, and its single connection must stay free for the others' queries).
          ...(databaseUrl
            ? {
                exclusive: (work) =>
                  db.transaction(async (tx) => {
                    const [lock] = (
                      await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [
                        OBJECT_BACKUP_LOCK,
                      ])
                    ).rows;
                    return lock?.ok ? work() : undefined;
                  }),
              }
            : {}),
          onStored: (r) =>
            ctx.logger.info(
              { stamp: r.stamp, sources: r.sources, copied: r.copied, pruned: r.pruned },
              'object stores backed up',
            ),
        }),
      );
    }
    const scheduler = createScheduler(jobs, (job, err) => ctx.logger.error({ err, job }, 'job run failed'));
    return {
      async start() {
        scheduler.start();
        ctx.logger.info({ jobs: scheduler.jobs }, 'worker started');
      },
      async drain(deadline) {
        await scheduler.drain(deadline);
        // Attempts in flight finish within their timeout; one cut off by the deadline is attempted again by
        // a worker once its lease runs out.
        await Promise.race([
          webhookDelivery.settle(),
          new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref()),
        ]);
      },
      async stop() {
        await scheduler.drain(Date.now());
        // Modules stop after every drain: the calls the gateway ended at the grace have published their ended
        // events by now. One last CDR run writes them, so that none is lost with an embedded (memory) stream;
        // on Redis what it cannot write stays pending for the next worker.
        await cdrWriter
          .run(AbortSignal.timeout(FINAL_CDR_RUN_MS))
          .catch((err: unknown) =>
            ctx.logger.warn({ err }, 'last CDR run at stop failed; events stay pending'),
          );
        objects.close();
        recordingStore.close();
        objectBackup.close();
      },
    };
  },
};
