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
