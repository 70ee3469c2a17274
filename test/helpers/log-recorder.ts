import type { LogLevel, LogSink } from '../../src/observability/rate-limited-log.js';

export interface RecordedLine {
  level: LogLevel;
  detail: Record<string, unknown>;
  message: string;
}

/** A pino-like sink that keeps the lines it is given; levels outside `enabled` are off (`isLevelEnabled`). */
export function recordLogs(enabled: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info']): {
  sink: LogSink;
  lines: RecordedLine[];
} {
  const lines: RecordedLine[] = [];
  const at =
    (level: LogLevel) =>
    (detail: object, message: string): void => {
      lines.push({ level, detail: detail as Record<string, unknown>, message });
    };
  const sink: LogSink = {
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    isLevelEnabled: (level) => enabled.includes(level),
  };
  return { sink, lines };
}
