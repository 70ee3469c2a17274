export { createScheduler, type ScheduledJob, type Scheduler } from './scheduler.js';
export { auditRetentionJob } from './audit-retention.js';
export { cdrWriterJob, cdrRetentionJob, CDR_WRITER_GROUP } from './cdr-writer.js';
