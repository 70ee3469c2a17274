/**
 * The replies an ng server sent, by cookie, so a retransmitted command is answered again without being executed
 * twice. Bounded in entries (the oldest go first) and in age; a sweep timer (unref'd) drops expired entries
 * even when no new command arrives, and runs only while there are entries.
 */
export interface ReplyCache<T> {
  get(key: string): T | undefined;
  set(key: string, reply: T): void;
  readonly size: number;
  /** Drops every entry and stops the sweep timer. */
  clear(): void;
}

export function createReplyCache<T>(options: { ttlMs: number; maxEntries: number }): ReplyCache<T> {
  const { ttlMs, maxEntries } = options;
  // A Map iterates in insertion order, and entries are never re-inserted, so the first entry is the oldest.
  const entries = new Map<string, { reply: T; expires: number }>();

  let timer: NodeJS.Timeout | undefined;

  const sweep = (now: number) => {
    for (const [key, entry] of entries) {
      if (entry.expires > now) break;
      entries.delete(key);
    }
    if (entries.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  return {
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.expires > Date.now()) return entry.reply;
      entries.delete(key);
      return undefined;
    },
    set(key, reply) {
      if (ttlMs <= 0 || maxEntries <= 0) return;
      const now = Date.now();
      sweep(now);
      entries.delete(key);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done === true) break;
        entries.delete(oldest.value);
      }
      entries.set(key, { reply, expires: now + ttlMs });
      if (timer === undefined) {
        timer = setInterval(() => sweep(Date.now()), Math.max(ttlMs, 1000));
        timer.unref();
      }
    },
    get size() {
      return entries.size;
    },
    clear() {
      clearInterval(timer);
      timer = undefined;
      entries.clear();
    },
  };
}
