import { pino, type DestinationStream } from 'pino';

/** What the log buffer holds at most while stdout's reader lags: past it, lines are dropped and counted. */
export const DEFAULT_LOG_BUFFER_BYTES = 16 * 1024 * 1024;
/**
 * The most one write(2) carries: whole lines gathered up to PIPE_BUF (Linux: 4,096 bytes), which a pipe writes
 * whole. The SIP workers (node:cluster) share the primary's stdout; with SonicBoom's 16 KiB default, a write that
 * met a full pipe went in parts, and another process's lines came in between (measured: 134 of 40,000 lines cut
 * with two processes and a slow reader; none with this limit). A single line longer than this is written in
 * parts, as it was before.
 */
const PIPE_BUF = 4096;
/** How often dropped lines are reported, at most. */
const DROP_REPORT_INTERVAL_MS = 10_000;

/**
 * Log lines to file descriptor 1 without the event loop waiting on the reader, and without losing them. pino on
 * `process.stdout` (a pipe under a container runtime) wrote each line with a `write(2)` on the event loop while
 * the pipe had room, 0.2 ms each in a profile at 600 calls/s (docs/performance.md), and queued it in memory,
 * without bound, when it had none; what was queued was lost when the process exited (measured: a process that
 * logged 5,000 lines to a reader that lagged, then exited, delivered 169). Here lines go to a buffer that libuv's
 * thread pool writes, whatever gathered during one write going out in the next (pino's SonicBoom, `sync: false`).
 *
 * Nothing is lost on the way out: the drain after SIGTERM waits for the last write to land (`linesWritten`), and
 * pino flushes what is still buffered synchronously on the process's `exit` event, which `process.exit` and an
 * uncaught exception emit. One write (at most PIPE_BUF bytes) still in libuv's thread pool when the process exits
 * without that wait can be lost: pino's synchronous flush leaves it to the thread, which exit stops (seen as one
 * line missing of 10,000 from two processes exiting right after logging, with a slow reader). A reader that falls behind
 * by more than `bufferBytes` loses lines, never the process's memory or its calls: they are counted, and
 * `reportDropped` is told how many at most every 10 s (its own line, if dropped too, is counted in the next),
 * and at exit, before that last flush.
 */
export function stdoutDestination(
  reportDropped: (lines: number) => void,
  bufferBytes = DEFAULT_LOG_BUFFER_BYTES,
): DestinationStream {
  let dropped = 0;
  const report = (): void => {
    if (dropped === 0) return;
    const lines = dropped;
    dropped = 0;
    reportDropped(lines);
  };
  // Registered before the destination exists, so that it runs before pino's own `exit` listener, which
  // flushes the buffer synchronously: the last report goes out with it even when the buffer is full (the
  // limit is lifted, since no more lines can come).
  process.on('exit', () => {
    (stream as unknown as { maxLength: number }).maxLength = 0;
    report();
  });
  const stream = pino.destination({ dest: 1, sync: false, maxLength: bufferBytes, maxWrite: PIPE_BUF });
  stream.on('drop', (data: string | Buffer) => {
    const text = typeof data === 'string' ? data : data.toString('latin1');
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) dropped++;
  });
  setInterval(report, DROP_REPORT_INTERVAL_MS).unref();
  return stream;
}

/** What SonicBoom (pino.destination) tracks of its writes, outside its types: one in flight, bytes not yet out. */
interface SonicBoomWrites {
  _writing: boolean;
  _len: number;
  destroyed: boolean;
}

const isSonicBoom = (stream: unknown): stream is SonicBoomWrites =>
  typeof stream === 'object' &&
  stream !== null &&
  typeof (stream as Partial<SonicBoomWrites>)._writing === 'boolean' &&
  typeof (stream as Partial<SonicBoomWrites>)._len === 'number';

/**
 * Resolves true once `stream` (a `stdoutDestination`) has no write in flight and nothing buffered, false if that
 * takes longer than `timeoutMs` (a reader that stopped reading: the process exits anyway, and pino's synchronous
 * flush at exit gets what it can). SonicBoom's `flush(cb)` calls back at once unless a `minLength` is set, so the
 * state is polled. Any other stream resolves true at once.
 */
export async function linesWritten(stream: unknown, timeoutMs: number): Promise<boolean> {
  if (!isSonicBoom(stream)) return true;
  const deadline = Date.now() + timeoutMs;
  while (!stream.destroyed && (stream._writing || stream._len > 0)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}
