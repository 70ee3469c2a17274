import {
  cdrWriteChannel,
  jobRunChannel,
  objectBackupChannel,
  webhookAttemptChannel,
  type CdrWriteEvent,
  type JobRunEvent,
  type ObjectBackupEvent,
  type WebhookAttemptEvent,
} from '../jobs/index.js';
import { metricsIn, type Registry } from '../observability/index.js';
import { storeQueryChannel, type Database, type StoreQueryEvent } from '../store/index.js';
import { subscribeChannels } from './channel-subscriptions.js';

/**
 * Store and job metrics from the `voxgate:store:query`, `voxgate:jobs:run`, `voxgate:jobs:cdr-write` and
 * `voxgate:jobs:webhook-attempt` and `voxgate:jobs:object-backup` channels, and the PostgreSQL pool's occupancy read at scrape time. Returns the function that unsubscribes.
 */
export function collectDataMetrics(registry: Registry, db: Database | undefined): () => void {
  const metric = metricsIn(registry);
  const queries = metric.histogram(
    'voxgate_store_query_duration_seconds',
    'Store queries by outcome (ok, error), from sending to the result.',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    { labelNames: ['outcome'] },
  );
  const errors = metric.counter(
    'voxgate_store_query_errors_total',
    'Store queries that failed (connection lost, constraint violated, timeout …).',
  );
  const pool = db?.pool?.bind(db);
  metric.gauge(
    'voxgate_store_pool_connections',
    "Store connections by state (idle, busy), and requests waiting for one (waiting): the PostgreSQL pool, or PGlite's one connection and the requests queued for its worker thread.",
    {
      labelNames: ['state'],
      collect(gauge) {
        if (!pool) return;
        const p = pool();
        gauge.set({ state: 'idle' }, p.idle);
        gauge.set({ state: 'busy' }, p.total - p.idle);
        gauge.set({ state: 'waiting' }, p.waiting);
      },
    },
  );
  const runs = metric.counter('voxgate_job_runs_total', 'Worker job runs, by job and outcome (ok, error).', {
    labelNames: ['job', 'outcome'],
  });
  const runSeconds = metric.histogram(
    'voxgate_job_duration_seconds',
    'Worker job run duration, by job.',
    [0.005, 0.025, 0.1, 0.5, 2, 10, 60, 300],
    { labelNames: ['job'] },
  );
  const cdrs = metric.counter(
    'voxgate_cdrs_written_total',
    'CDRs written from call events (a redelivered event writes nothing and is not counted).',
  );
  const attempts = metric.counter(
    'voxgate_webhook_attempts_total',
    'Webhook delivery attempts by outcome: delivered (2xx), retry (failed, tried again later), failed (given up).',
    { labelNames: ['outcome'] },
  );
  const attemptSeconds = metric.histogram(
    'voxgate_webhook_attempt_duration_seconds',
    'Webhook delivery attempts, from the request to the answer, the error or the timeout.',
    [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  const backupObjects = metric.counter(
    'voxgate_object_backup_copied_objects_total',
    'Objects the object-store backup copied (new or changed in their source; a failed run counts what it copied).',
  );
  const backupBytes = metric.counter(
    'voxgate_object_backup_copied_bytes_total',
    'Bytes the object-store backup copied.',
  );
  let lastBackup: number | undefined;
  metric.gauge(
    'voxgate_object_backup_last_success_timestamp_seconds',
    'When this worker last completed an object-store backup run (Unix time); no series before the first.',
    {
      // A label, so that there is no sample (prom-client's 0 for an unlabelled gauge) before the first run.
      labelNames: ['job'],
      collect(gauge) {
        if (lastBackup !== undefined) gauge.set({ job: 'object-store-backup' }, lastBackup / 1000);
      },
    },
  );
  return subscribeChannels({
    [objectBackupChannel.name as string]: (m) => {
      const e = m as ObjectBackupEvent;
      backupObjects.inc(e.copiedObjects);
      backupBytes.inc(e.copiedBytes);
      if (e.ok) lastBackup = e.at;
    },
    [storeQueryChannel.name as string]: (m) => {
      const e = m as StoreQueryEvent;
      queries.observe({ outcome: e.ok ? 'ok' : 'error' }, e.durationMs / 1000);
      if (!e.ok) errors.inc();
    },
    [jobRunChannel.name as string]: (m) => {
      const e = m as JobRunEvent;
      runs.inc({ job: e.job, outcome: e.ok ? 'ok' : 'error' });
      runSeconds.observe({ job: e.job }, e.durationMs / 1000);
    },
    [cdrWriteChannel.name as string]: (m) => {
      if ((m as CdrWriteEvent).written) cdrs.inc();
    },
    [webhookAttemptChannel.name as string]: (m) => {
      const e = m as WebhookAttemptEvent;
      attempts.inc({ outcome: e.outcome });
      attemptSeconds.observe(e.durationMs / 1000);
    },
  });
}
