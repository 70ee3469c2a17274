import { hostname } from 'node:os';
import {
  auditRetentionJob,
  cdrRetentionJob,
  cdrWriterJob,
  createScheduler,
  type ScheduledJob,
} from '../../jobs/index.js';
import { createAuditRepository, createCdrRepository } from '../../store/index.js';
import type { ModuleDefinition } from '../module.js';
import { requireService } from '../module.js';

/** Background jobs: the CDR writer (call events → CDRs), CDR and audit retention. */
export const workerModule: ModuleDefinition = {
  name: 'worker',
  deps: ['http-server', 'tracing', 'store', 'shared-state'],
  async init(ctx) {
    const db = requireService(ctx, 'store', 'worker');
    const state = requireService(ctx, 'sharedState', 'worker');
    const cdrs = createCdrRepository(db);
    const jobs: ScheduledJob[] = [
      cdrWriterJob({
        events: state.events,
        cdrs,
        consumer: `${hostname()}:${process.pid}`,
        onWritten: (count) => ctx.logger.info({ count }, 'CDRs written'),
        onPoison: (entry, err) =>
          ctx.logger.error({ err, entry: entry.id }, 'call event is not readable; skipped'),
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
