/** The pino levels a rate-limited line can be written at. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** What is needed of a logger: pino's `Logger` (or a child of it) is one. */
export type LogSink = { [L in LogLevel]: (detail: object, message: string) => void } & {
  isLevelEnabled?(level: LogLevel): boolean;
};

export interface RateLimitedLogOptions {
  /** Lines of one kind that may be written in a burst (the bucket's size). Default 20. */
  burst?: number;
  /** Lines of one kind per second in the long run (the bucket's refill rate). Default 5. */
  perSecond?: number;
  /** Kinds tracked at once; beyond, the least recently used kind is forgotten (its count reported). Default 100. */
  maxKinds?: number;
  /** The level of the line that reports suppressed lines. Default 'warn'. */
  summaryLevel?: LogLevel;
  /**
   * A kind's suppressed lines are reported at most this often (ms): under a sustained flood one line every
   * interval says how many were dropped, rather than one before every line let through. Default 10,000.
   */
  reportIntervalMs?: number;
  /** Clock in ms (tests). Default Date.now. */
  now?: () => number;
}

export interface RateLimitedLog {
  /**
   * Writes `message` with `detail` at `level` if the bucket of `kind` has a token, else counts it as
   * suppressed. When a kind that suppressed lines has tokens again, its next line is preceded by one line
   * `{ kind, suppressed, since }` "log lines suppressed by rate limit" — at most once per `reportIntervalMs`
   * for a kind, the count carrying over meanwhile. A line whose level is disabled takes no token. `detail` may
   * be a function that makes it, called only for a line written. Returns whether the line was written.
   */
  log(kind: string, level: LogLevel, detail: object | (() => object), message: string): boolean;
  /** Lines suppressed so far and not yet reported, per kind. */
  pending(): Map<string, number>;
  /** Reports every kind's suppressed lines now (call on shutdown so that none go unreported). */
  flush(): void;
}

interface Bucket {
  tokens: number;
  at: number;
  suppressed: number;
  /** When the first unreported suppression happened. */
  since: number;
  /** When this kind's suppressed lines were last reported. */
  reportedAt: number;
}

/**
 * Rate-limited logging: one token bucket per kind of line (e.g. `registration`, `auth-failure`, `call`), so
 * that a flood — a REGISTER storm, a password scanner — writes at most `burst` lines at once and `perSecond`
 * after that, whatever its rate, and the disk cannot fill; lines of other kinds are unaffected. Nothing is lost
 * silently: the number of suppressed lines is logged when the kind has tokens again, and by `flush`.
 */
export function createRateLimitedLog(sink: LogSink, options: RateLimitedLogOptions = {}): RateLimitedLog {
  const burst = Math.max(1, options.burst ?? 20);
  const perMs = Math.max(0, options.perSecond ?? 5) / 1000;
  const maxKinds = Math.max(1, options.maxKinds ?? 100);
  const summaryLevel = options.summaryLevel ?? 'warn';
  const reportInterval = Math.max(0, options.reportIntervalMs ?? 10_000);
  const now = options.now ?? Date.now;
  const buckets = new Map<string, Bucket>();

  const report = (kind: string, b: Bucket, t: number) => {
    if (b.suppressed === 0) return;
    sink[summaryLevel](
      { kind, suppressed: b.suppressed, since: new Date(b.since).toISOString() },
      'log lines suppressed by rate limit',
    );
    b.suppressed = 0;
    b.reportedAt = t;
  };
  const bucketOf = (kind: string, t: number): Bucket => {
    let b = buckets.get(kind);
    if (b) {
      buckets.delete(kind); // re-inserted below: the map's order is least recently used first
    } else {
      b = { tokens: burst, at: t, suppressed: 0, since: t, reportedAt: -Infinity };
      if (buckets.size >= maxKinds) {
        const [oldKind, oldest] = buckets.entries().next().value as [string, Bucket];
        report(oldKind, oldest, t);
        buckets.delete(oldKind);
      }
    }
    buckets.set(kind, b);
    b.tokens = Math.min(burst, b.tokens + (t - b.at) * perMs);
    b.at = t;
    return b;
  };

  return {
    log(kind, level, detail, message) {
      if (sink.isLevelEnabled && !sink.isLevelEnabled(level)) return false;
      const t = now();
      const b = bucketOf(kind, t);
      if (b.tokens < 1) {
        if (b.suppressed === 0) b.since = t;
        b.suppressed++;
        return false;
      }
      b.tokens -= 1;
      if (t - b.reportedAt >= reportInterval) report(kind, b, t);
      sink[level](typeof detail === 'function' ? detail() : detail, message);
      return true;
    },
    pending() {
      const out = new Map<string, number>();
      for (const [kind, b] of buckets) if (b.suppressed > 0) out.set(kind, b.suppressed);
      return out;
    },
    flush() {
      const t = now();
      for (const [kind, b] of buckets) report(kind, b, t);
    },
  };
}
