import { auditRetentionJob, createScheduler, type ScheduledJob } from '../../jobs/index.js';
import { createAuditRepository } from '../../store/index.js';
import type { ModuleDefinition } from '../module.js';
import { requireService } from '../module.js';

/** Background jobs. The job list grows with the features that need one (CDR writer, audit purge, ...). */
export const workerModule: ModuleDefinition = {
  name: 'worker',
  deps: ['http-server', 'store', 'shared-state'],
  async init(ctx) {
    const db = requireService(ctx, 'store', 'worker');
    const jobs: ScheduledJob[] = [
      auditRetentionJob({
        audit: createAuditRepository(db),
        retentionDays: ctx.config.auditRetentionDays,
        onPurged: (count) => ctx.logger.info({ count }, 'purged audit entries past retention'),
      }),
    ];
    const scheduler = createScheduler(jobs, (job, err) => ctx.logger.error({ err, job }, 'job run failed'));
    return {
      async start() {
        scheduler.start();
        ctx.logger.info({ jobs: scheduler.jobs }, 'worker started');
      },
      drain: (deadline) => scheduler.drain(deadline),
      async stop() {
        await scheduler.drain(Date.now());
      },
    };
  },
};
