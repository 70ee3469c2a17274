import { channel } from 'node:diagnostics_channel';

/** Tracing hook, one message per job run: `JobRunEvent`. */
export const jobRunChannel = channel('voxgate:jobs:run');

export interface JobRunEvent {
  readonly job: string;
  readonly ok: boolean;
  readonly durationMs: number;
}

/** A job the worker runs periodically. `run` gets a signal that aborts when the worker drains. */
export interface ScheduledJob {
  readonly name: string;
  readonly everyMs: number;
  run(signal: AbortSignal): Promise<void>;
}

export interface Scheduler {
  readonly jobs: readonly string[];
  start(): void;
  /** Stop scheduling; wait for running jobs until the deadline, then abort them. */
  drain(deadline: number): Promise<void>;
}

/**
 * Runs each job every `everyMs`, never two runs of one job at once (a slow run delays the next instead of
 * piling up). A failing run is reported through `onError` and the job is scheduled again.
 */
export function createScheduler(
  jobs: readonly ScheduledJob[],
  onError: (job: string, err: unknown) => void,
): Scheduler {
  const abort = new AbortController();
  const timers = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let stopped = false;

  const schedule = (job: ScheduledJob): void => {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      const began = performance.now();
      const report = (ok: boolean) => {
        if (jobRunChannel.hasSubscribers)
          jobRunChannel.publish({
            job: job.name,
            ok,
            durationMs: performance.now() - began,
          } satisfies JobRunEvent);
      };
      const run = job
        .run(abort.signal)
        .then(
          () => report(true),
          (err: unknown) => {
            report(false);
            onError(job.name, err);
          },
        )
        .finally(() => {
          running.delete(run);
          schedule(job);
        });
      running.add(run);
    }, job.everyMs);
    timer.unref();
    timers.add(timer);
  };

  return {
    jobs: jobs.map((j) => j.name),
    start: () => jobs.forEach(schedule),
    async drain(deadline) {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const remaining = Math.max(0, deadline - Date.now());
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...running]),
        new Promise<void>((resolve) => (timeout = setTimeout(resolve, remaining))),
      ]);
      clearTimeout(timeout);
      abort.abort();
      await Promise.allSettled([...running]);
    },
  };
}
