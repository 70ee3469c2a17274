import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const WRITER = join(import.meta.dirname, '..', 'fixtures', 'observability', 'log-writer.ts');
const WRITERS = join(import.meta.dirname, '..', 'fixtures', 'observability', 'log-writers.ts');

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
    // Not a byte read until the writer is past its lines and exiting. With `process.stdout` as pino's destination
    // the lines queued past the full pipe were lost at exit, uncounted (169 of 5,000 arrived): the test fails.
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

test('a reader that lags: lines past the buffer are dropped and counted, every line written or counted', async () => {
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

test('two processes sharing stdout (the SIP workers) never cut into each other lines, even with a slow reader', async () => {
  // A FIFO read 3,000 bytes at a time, a millisecond apart: the pipe is full most of the time, when a write
  // larger than what a pipe writes whole goes in parts.
  const dir = mkdtempSync(join(tmpdir(), 'voxgate-log-'));
  const fifo = join(dir, 'stdout');
  execFileSync('mkfifo', [fifo]);
  const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(fifo, 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', WRITERS, '5000'], {
    stdio: ['ignore', writeFd, 'inherit'],
  });
  closeSync(writeFd);
  // Listened for now: the child may be gone before the FIFO is read to its end.
  const closed = once(child, 'close') as Promise<[number | null]>;
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(3000);
  try {
    await new Promise<void>((resolve, reject) => {
      const tick = () => {
        let n: number;
        try {
          n = readSync(readFd, buf, 0, buf.length, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return reject(err as Error);
          n = -1;
        }
        // 0: every writer (the primary and both workers) has closed its end.
        if (n === 0) return resolve();
        if (n > 0) chunks.push(Buffer.from(buf.subarray(0, n)));
        setTimeout(tick, 1);
      };
      tick();
    });
  } finally {
    closeSync(readFd);
    rmSync(dir, { recursive: true, force: true });
  }
  const [code] = await closed;
  assert.equal(code, 0);
  const lines = Buffer.concat(chunks)
    .toString()
    .split('\n')
    .filter((l) => l !== '');
  const cut = lines.filter((l) => {
    try {
      JSON.parse(l);
      return false;
    } catch {
      return true;
    }
  });
  assert.deepEqual(cut, []);
  assert.equal(lines.length, 10_000);
});
