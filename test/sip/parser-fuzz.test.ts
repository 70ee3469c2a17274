import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

/**
 * Property test over mutations of the RFC 4475/5118 corpus (byte edits, dropped/duplicated/swapped lines,
 * long runs of delimiter characters, truncation): the parser and the lazy header views only ever throw
 * SipParseError, an unchanged parsed message serializes to its exact bytes, validateRequest never throws, and
 * nothing hangs. VOXGATE_FUZZ_RUNS sets the number of runs (default 20,000), VOXGATE_FUZZ_SEED replays one.
 * The runs happen in a worker that is terminated if it has not finished within VOXGATE_FUZZ_BOUND_MS
 * (default 100 s): a parser stuck in a loop or in catastrophic backtracking fails the test instead of hanging.
 */
test('parser fuzz: only SipParseError, byte-exact round trip, no hang', async () => {
  const runs = Number(process.env.VOXGATE_FUZZ_RUNS ?? 20_000);
  const seed =
    process.env.VOXGATE_FUZZ_SEED === undefined ? undefined : Number(process.env.VOXGATE_FUZZ_SEED);
  const boundMs = Number(process.env.VOXGATE_FUZZ_BOUND_MS ?? 100_000);
  // Workers do not inherit tsx's loader hooks: the worker registers them before importing the TypeScript.
  const code = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => {
    register();
    return import(${JSON.stringify(new URL('./support/fuzz-worker.ts', import.meta.url).href)});
  });`;
  const worker = new Worker(code, { eval: true, workerData: { runs, seed } });
  let timer: NodeJS.Timeout | undefined;
  type Outcome = { error?: string; runs?: number };
  const outcome = await Promise.race([
    new Promise<Outcome>((resolve) => {
      worker.once('message', resolve);
      worker.once('error', (err) => resolve({ error: `worker failed: ${err.message}` }));
    }),
    new Promise<Outcome>((resolve) => {
      timer = setTimeout(
        () => resolve({ error: `the parser did not finish ${runs} runs within ${boundMs} ms (hang?)` }),
        boundMs,
      );
    }),
  ]);
  clearTimeout(timer);
  await worker.terminate();
  assert.equal(outcome.error, undefined);
  assert.equal(outcome.runs, runs);
});
