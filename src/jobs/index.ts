export { createScheduler, type ScheduledJob, type Scheduler } from './scheduler.js';
export { auditRetentionJob } from './audit-retention.js';
