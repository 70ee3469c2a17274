import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/**
 * JSON logs on stdout (pino), one object per line, with the labels Loki indexes (`service`, `target`, `env`)
 * on every line. Call-scoped fields (callId, tenantId, traceId) are added with `logger.child()`.
 */
export function createLogger(options: {
  level: LevelWithSilent;
  env: string;
  target: string;
  destination?: NodeJS.WritableStream;
}): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'voxgate', target: options.target, env: options.env },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? process.stdout,
  );
}
