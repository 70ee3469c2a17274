#!/usr/bin/env node
import { runCli } from '../platform/cli.js';
import type { Platform } from '../platform/platform.js';

/**
 * The `voxgate` binary. SIGTERM or SIGINT drains and exits 0; a second signal exits at once with 1.
 * A failed start prints one line to stderr and exits 1.
 *
 * The signal handlers are installed before the platform starts: a SIGTERM that arrives while the
 * modules start (or in the instant between "voxgate started" and the return of the start) is held
 * and drains the platform as soon as it is up, instead of killing the process mid-start.
 */
async function main(): Promise<void> {
  const held: { platform?: Platform; pending?: NodeJS.Signals; signalled?: boolean } = {};
  // A one-shot command that follows (`voxgate ctl tail`) stops when this is aborted.
  const stopCommand = new AbortController();

  const drain = (running: Platform, signal: NodeJS.Signals): void => {
    running.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        running.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (held.signalled) {
      if (held.platform)
        held.platform.logger.warn({ signal }, 'second signal: exiting without finishing the drain');
      else process.stderr.write(`voxgate: second ${signal} during start: exiting\n`);
      process.exit(1);
    }
    held.signalled = true;
    if (held.platform) drain(held.platform, signal);
    else {
      held.pending = signal;
      stopCommand.abort();
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (process.argv[2] === 'ctl') {
    // `voxgate ctl tail | head`: the reader went away. Stop quietly, as SIGPIPE stops a C tool; any other
    // write error stays what it is without a listener, an uncaught error.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(0);
    });
  }

  const outcome = await runCli(process.argv.slice(2), {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    signal: stopCommand.signal,
  });
  if ('exitCode' in outcome) {
    process.exitCode = outcome.exitCode;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    return;
  }
  held.platform = outcome.platform;
  // A defect that escapes every handler still stops the process (its state can no longer be trusted; the
  // orchestrator restarts it), but first says so as a JSON line with the stack, where the logs are read.
  const logger = held.platform.logger;
  process.on('uncaughtExceptionMonitor', (err, origin) =>
    logger.fatal({ err, origin }, 'uncaught exception: the process stops'),
  );
  if (held.pending) drain(held.platform, held.pending);
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`voxgate: failed to start: ${message.split('\n')[0]}\n`);
  process.exit(1);
});
