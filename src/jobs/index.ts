export {
  createScheduler,
  jobRunChannel,
  type JobRunEvent,
  type ScheduledJob,
  type Scheduler,
} from './scheduler.js';
export { auditRetentionJob } from './audit-retention.js';
export {
  cdrWriterJob,
  cdrRetentionJob,
  cdrWriteChannel,
  CDR_WRITER_GROUP,
  type CdrWriteEvent,
} from './cdr-writer.js';
export {
  BACKUP_PREFIX,
  databaseBackupJob,
  restoreTestJob,
  rowCounts,
  type BackupManifest,
} from './database-backup.js';
export {
  DEFAULT_BACKOFF,
  nextAttemptAt,
  WEBHOOK_GROUP,
  WEBHOOK_STREAMS,
  webhookAttemptChannel,
  webhookDeliveryJob,
  webhookFanoutJob,
  webhookLogRetentionJob,
  type BackoffOptions,
  type WebhookAttemptEvent,
  type WebhookDeliveryJob,
} from './webhooks.js';
export {
  sendWebhook,
  signWebhook,
  type SenderOptions,
  type WebhookRequest,
  type WebhookResponse,
} from './webhook-sender.js';
export { recordingRetentionJob } from './recording-retention.js';
export {
  objectBackupChannel,
  objectStoreBackupJob,
  type Exclusive,
  type ObjectBackupEvent,
  type ObjectBackupResult,
  type ObjectBackupSource,
} from './object-store-backup.js';
export {
  chooseManifest,
  listObjectBackups,
  restoreObjectBackup,
  type ObjectRestoreResult,
} from './object-store-backup-restore.js';
export {
  locationOf,
  stampTime,
  type ManifestEntry,
  type ManifestHeader,
} from './object-store-backup-manifest.js';
