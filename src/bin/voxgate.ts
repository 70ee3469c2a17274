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
  let platform: Platform | undefined;
  let pending: NodeJS.Signals | undefined;
  let signalled = false;

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
    if (signalled) {
      if (platform) platform.logger.warn({ signal }, 'second signal: exiting without finishing the drain');
      else process.stderr.write(`voxgate: second ${signal} during start: exiting\n`);
      process.exit(1);
    }
    signalled = true;
    if (platform) drain(platform, signal);
    else pending = signal;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const outcome = await runCli(process.argv.slice(2), {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
  if ('exitCode' in outcome) {
    process.exitCode = outcome.exitCode;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    return;
  }
  platform = outcome.platform;
  if (pending) drain(platform, pending);
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`voxgate: failed to start: ${message.split('\n')[0]}\n`);
  process.exit(1);
});
