import type { ScheduledJob } from './scheduler.js';

/** How long a retention job keeps rows, how often it runs (hourly by default), and who hears of a purge. */
export interface RetentionOptions {
  retentionDays: number;
  everyMs?: number;
  onPurged?: (count: number) => void;
}

/** A job that purges, with `purge`, what is older than the retention period; a purge that removed rows is told. */
export function retentionJob(
  name: string,
  purge: (cutoff: Date) => Promise<number>,
  options: RetentionOptions,
): ScheduledJob {
  return {
    name,
    everyMs: options.everyMs ?? 3_600_000,
    async run() {
      const count = await purge(new Date(Date.now() - options.retentionDays * 86_400_000));
      if (count > 0) options.onPurged?.(count);
    },
  };
}
