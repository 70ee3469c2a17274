import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createScheduler, type ScheduledJob } from '../../src/jobs/index.js';

describe('job scheduler', () => {
  test('runs a job repeatedly, never overlapping, and keeps going after a failure', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const errors: string[] = [];
    const job: ScheduledJob = {
      name: 'flaky',
      everyMs: 1,
      async run() {
        active++;
        maxActive = Math.max(maxActive, active);
        runs++;
        await new Promise((r) => setTimeout(r, 5));
        active--;
        if (runs === 2) throw new Error('boom');
      },
    };
    const scheduler = createScheduler([job], (name, err) =>
      errors.push(`${name}: ${(err as Error).message}`),
    );
    scheduler.start();
    while (runs < 4) await new Promise((r) => setTimeout(r, 5));
    await scheduler.drain(Date.now() + 1000);
    assert.equal(maxActive, 1);
    assert.deepEqual(errors, ['flaky: boom']);
    const after = runs;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(runs, after, 'no run after drain');
  });

  test('drain waits for a running job, then aborts it at the deadline', async () => {
    let aborted = false;
    let started = false;
    const job: ScheduledJob = {
      name: 'slow',
      everyMs: 1,
      run: (signal) =>
        new Promise<void>((resolve) => {
          started = true;
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve();
          });
        }),
    };
    const scheduler = createScheduler([job], () => undefined);
    scheduler.start();
    while (!started) await new Promise((r) => setTimeout(r, 2));
    await scheduler.drain(Date.now() + 20);
    assert.equal(aborted, true);
  });
});
