import type { AuditRepository } from '../store/index.js';
import type { ScheduledJob } from './scheduler.js';

/** Purges audit entries older than the retention period (the seed's "audit log kept 12 months"). */
export function auditRetentionJob(options: {
  audit: Pick<AuditRepository, 'purgeOlderThan'>;
  retentionDays: number;
  everyMs?: number;
  onPurged?: (count: number) => void;
}): ScheduledJob {
  return {
    name: 'audit-retention',
    everyMs: options.everyMs ?? 3_600_000,
    async run() {
      const cutoff = new Date(Date.now() - options.retentionDays * 86_400_000);
      const count = await options.audit.purgeOlderThan(cutoff);
      if (count > 0) options.onPurged?.(count);
    },
  };
}
