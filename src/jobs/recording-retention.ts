import type { ObjectStore, RecordingRepository } from '../store/index.js';
import type { ScheduledJob } from './scheduler.js';

/** Recordings handled per batch: their files are deleted one by one, then their rows together. */
const BATCH = 200;

/**
 * Deletes recordings stored more than `retentionDays` ago: their files from the object store first, then
 * their rows. A file that cannot be deleted keeps its row (the next run tries again), so no file is left
 * behind unlisted; a file already gone is no error.
 */
export function recordingRetentionJob(options: {
  recordings: Pick<RecordingRepository, 'olderThan' | 'remove'>;
  store: Pick<ObjectStore, 'delete'>;
  retentionDays: number;
  everyMs?: number;
  onPurged?: (count: number) => void;
  onError?: (key: string, err: unknown) => void;
}): ScheduledJob {
  return {
    name: 'recording-retention',
    everyMs: options.everyMs ?? 3_600_000,
    async run(signal) {
      const cutoff = new Date(Date.now() - options.retentionDays * 86_400_000);
      let purged = 0;
      const failed = new Set<string>();
      while (!signal.aborted) {
        const batch = (await options.recordings.olderThan(cutoff, BATCH + failed.size)).filter(
          (r) => !failed.has(r.id),
        );
        if (batch.length === 0) break;
        const gone: string[] = [];
        for (const recording of batch) {
          try {
            for (const file of recording.files) await options.store.delete(file.key);
            gone.push(recording.id);
          } catch (err) {
            failed.add(recording.id);
            options.onError?.(recording.files[0]?.key ?? recording.id, err);
          }
        }
        purged += await options.recordings.remove(gone);
        if (batch.length < BATCH) break;
      }
      if (purged > 0) options.onPurged?.(purged);
    },
  };
}
