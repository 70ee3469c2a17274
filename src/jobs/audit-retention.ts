import type { AuditRepository } from '../store/index.js';
import { retentionJob, type RetentionOptions } from './retention.js';
import type { ScheduledJob } from './scheduler.js';

/** Purges audit entries older than the retention period (the seed's "audit log kept 12 months"). */
export function auditRetentionJob(
  options: RetentionOptions & { audit: Pick<AuditRepository, 'purgeOlderThan'> },
): ScheduledJob {
  return retentionJob('audit-retention', (cutoff) => options.audit.purgeOlderThan(cutoff), options);
}
