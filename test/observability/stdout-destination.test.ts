import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';

const WRITER = join(import.meta.dirname, '..', 'fixtures', 'observability', 'log-writer.ts');

/** Runs the log writer; `stalled` keeps its stdout unread until it says "done" on stderr. */
async function run(args: string[], stalled = false) {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let out = '';
  const done = new Promise<void>((resolve) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('done\n')) resolve();
    });
  });
  if (stalled) {
    // Not a byte read until the writer is past its lines: with the stdout of Node's own (a blocking write per
    // line once the pipe is full) it never gets there and the test times out.
    child.stdout.pause();
    await done;
  }
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  // 'close': the process has exited and its stdout and stderr have ended.
  const [code] = (await once(child, 'close')) as [number | null];
  const lines = out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { msg: string; i?: number; droppedLines?: number });
  return { code, lines, stderr };
}

test('every line logged before process.exit reaches stdout (the buffer is flushed on exit)', async () => {
  const { code, lines } = await run(['exit', '3000']);
  assert.equal(code, 0);
  assert.deepEqual(
    lines.map((l) => l.i),
    Array.from({ length: 3000 }, (_, i) => i),
  );
});

test('the lines logged before an uncaught exception reach stdout', async () => {
  const { code, lines, stderr } = await run(['throw', '3000']);
  assert.equal(code, 1);
  assert.match(stderr, /a defect/);
  assert.equal(lines.filter((l) => l.msg === 'line').length, 3000);
});

test('a reader that stops reading does not stop the process: lines past the buffer are dropped and counted', async () => {
  const total = 5000;
  const { code, lines } = await run(['stalled', String(total), String(64 * 1024)], true);
  assert.equal(code, 0);
  const written = lines.filter((l) => l.msg === 'line').length;
  const reports = lines.filter((l) => l.droppedLines !== undefined);
  assert.equal(reports.length, 1, 'one report, at exit');
  assert.match(reports[0]!.msg, /log lines dropped/);
  assert.ok(reports[0]!.droppedLines! > 0);
  assert.equal(written + reports[0]!.droppedLines!, total, 'every line written or counted');
});
