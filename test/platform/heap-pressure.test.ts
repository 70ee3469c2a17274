// The heap pressure the sip-gateway refuses new requests on (src/platform/heap-pressure.ts): the old
// generation's limit as V8 sets it from the process's flags, the state's hysteresis, and — in a child process
// under a small heap cap, through V8's real collections — the state turning high before V8 would abort.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { maxSemiSpaceMiB, watchHeapPressure, type HeapReading } from '../../src/platform/heap-pressure.js';

const run = promisify(execFile);
const MODULE = join(import.meta.dirname, '..', '..', 'src', 'platform', 'heap-pressure.ts');
const MiB = 1024 * 1024;

/** Runs `code` (an ES module importing the heap pressure module as `hp`) under node `flags`; its stdout. */
async function inChild(flags: string[], code: string): Promise<string> {
  const script = `import * as hp from ${JSON.stringify(MODULE)};\n${code}`;
  const { stdout } = await run(
    process.execPath,
    [...flags, '--import', 'tsx', '--input-type=module', '--eval', script],
    { env: { ...process.env, NODE_OPTIONS: '' }, timeout: 60_000 },
  );
  return stdout.trim();
}

describe('heap pressure', () => {
  test('the semi-space size is the last --max-semi-space-size given, NODE_OPTIONS first; V8 default 16 MiB', () => {
    assert.equal(maxSemiSpaceMiB([], ''), 16);
    assert.equal(maxSemiSpaceMiB(['--max-semi-space-size=64'], ''), 64);
    assert.equal(maxSemiSpaceMiB(['--max_semi_space_size=8'], '--max-semi-space-size=32'), 8);
    assert.equal(maxSemiSpaceMiB([], '--max-old-space-size=384 --max-semi-space-size=32'), 32);
    assert.equal(maxSemiSpaceMiB(['--min-semi-space-size=64'], ''), 16, 'the minimum does not bound it');
  });

  test("the old generation's limit read in a process is its --max-old-space-size less one semi-space", async () => {
    for (const [flags, semi] of [
      [['--max-old-space-size=200'], 16],
      [['--max-old-space-size=200', '--max-semi-space-size=32', '--min-semi-space-size=32'], 32],
    ] as const) {
      const out = await inChild([...flags], 'console.log(hp.readOldGeneration().limitBytes);');
      assert.equal(Number(out), (200 - semi) * MiB, flags.join(' '));
    }
  });

  test('high from a reading at the high mark until one under the low mark; readings after full collections', () => {
    let used = 0;
    let collect: () => void = () => undefined;
    const changes: boolean[] = [];
    const pressure = watchHeapPressure({
      highRatio: 0.8,
      lowRatio: 0.65,
      read: (): HeapReading => ({ usedBytes: used, limitBytes: 100 }),
      majorCollections: (onMajor) => {
        collect = onMajor;
        return () => undefined;
      },
      onChange: (high) => changes.push(high),
    });
    try {
      for (const [u, expected] of [
        [79, false],
        [80, true],
        [70, true],
        [65, true],
        [64, false],
        [79, false],
        [95, true],
      ] as const) {
        used = u;
        collect();
        assert.equal(pressure.high, expected, `at ${u} %`);
      }
      assert.deepEqual(changes, [true, false, true]);
      assert.equal(pressure.last.usedBytes, 95);
    } finally {
      pressure.close();
    }
  });

  test('while high, a process that stopped collecting is let out by a timed reading', async () => {
    let used = 90;
    let collect: () => void = () => undefined;
    const pressure = watchHeapPressure({
      read: () => ({ usedBytes: used, limitBytes: 100 }),
      majorCollections: (onMajor) => {
        collect = onMajor;
        return () => undefined;
      },
      recheckMs: 20,
    });
    try {
      collect();
      assert.equal(pressure.high, true);
      used = 10;
      const deadline = Date.now() + 5000;
      while (pressure.high && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(pressure.high, false);
    } finally {
      pressure.close();
    }
  });

  test('a process filling a 64 MiB heap is seen high by real full collections before V8 aborts it', async () => {
    // Keeps 1 MiB arrays until the state turns high (or 200 of them: three times the cap, which V8 would abort).
    const out = await inChild(
      ['--max-old-space-size=64'],
      `const p = hp.watchHeapPressure();
       const kept = [];
       for (let i = 0; i < 200 && !p.high; i++) {
         kept.push(new Array(131072).fill(i));
         await new Promise((r) => setImmediate(r));
       }
       console.log(JSON.stringify({ high: p.high, used: p.last.usedBytes, limit: p.last.limitBytes, kept: kept.length }));
       p.close();`,
    );
    const result = JSON.parse(out) as { high: boolean; used: number; limit: number; kept: number };
    assert.equal(result.high, true, out);
    assert.equal(result.limit, (64 - 16) * MiB);
    assert.ok(result.used >= 0.8 * result.limit, out);
    // Read after full collections only, so it may come past the limit read (48 MiB), but before the cap (64 MiB
    // of arrays kept), where V8 would have aborted the child.
    assert.ok(result.kept < 64, `turned high before the arrays kept reached the cap: ${out}`);
  });
});
