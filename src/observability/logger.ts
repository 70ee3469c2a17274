import { pino, type Logger, type LevelWithSilent } from 'pino';
import { linesWritten, stdoutDestination } from './stdout-destination.js';
import { callTraceIds } from './tracing.js';

export type { Logger } from 'pino';

/**
 * JSON logs on stdout (pino), one object per line, with the labels Loki indexes (`service`, `target`, `env`)
 * on every line. Call-scoped fields (callId, tenantId) are added by the caller; a line with a `callId` gets the
 * call's `traceId` (`callTraceIds`), so that Grafana links the line to the call's trace in Tempo. Stdout is
 * written off the event loop (`stdoutDestination`), with a buffer of `bufferBytes` for a reader that lags.
 */
export function createLogger(options: {
  level: LevelWithSilent;
  env: string;
  target: string;
  destination?: NodeJS.WritableStream;
  bufferBytes?: number;
}): Logger {
  const logger: Logger = pino(
    {
      level: options.level,
      base: { service: 'voxgate', target: options.target, env: options.env },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (fields) =>
          typeof fields.callId === 'string' && fields.traceId === undefined
            ? { ...fields, traceId: callTraceIds(fields.callId).traceId }
            : fields,
      },
    },
    options.destination ??
      stdoutDestination(
        (droppedLines) =>
          logger.warn(
            { droppedLines },
            'log lines dropped: the reader of stdout fell behind by more than the log buffer',
          ),
        options.bufferBytes,
      ),
  );
  return logger;
}

/**
 * Resolves once every line `logger` took is written to stdout (true), or after `timeoutMs` if stdout's reader
 * stopped (false). The drain awaits it before the process exits: a write still in libuv's thread pool at
 * `process.exit` would be lost (`stdoutDestination`).
 */
export function logsWritten(logger: Logger, timeoutMs = 5000): Promise<boolean> {
  return linesWritten((logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym], timeoutMs);
}
