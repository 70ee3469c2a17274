/**
 * The replies an ng server sent, by cookie, so a retransmitted command is answered again without being executed
 * twice. Bounded in entries and, with `maxBytes` and `sizeOf`, in the bytes they hold (the oldest go first: a
 * reply can be 64 KiB, so the entry bound alone lets the cache grow to hundreds of MiB), and in age; a sweep timer (unref'd) drops expired entries
 * even when no new command arrives, and runs only while there are entries.
 */
export interface ReplyCache<T> {
  get(key: string): T | undefined;
  set(key: string, reply: T): void;
  readonly size: number;
  /** Drops every entry and stops the sweep timer. */
  clear(): void;
}

export function createReplyCache<T>(options: {
  ttlMs: number;
  maxEntries: number;
  /** Most bytes the cached replies may hold together, as `sizeOf` counts them. Default: unbounded. */
  maxBytes?: number;
  sizeOf?: (reply: T) => number;
}): ReplyCache<T> {
  const { ttlMs, maxEntries } = options;
  const maxBytes = options.maxBytes ?? Infinity;
  const sizeOf = options.sizeOf ?? (() => 0);
  // A Map iterates in insertion order, and entries are never re-inserted, so the first entry is the oldest.
  const entries = new Map<string, { reply: T; expires: number; bytes: number }>();
  let bytes = 0;
  const remove = (key: string) => {
    const entry = entries.get(key);
    if (entry === undefined) return;
    bytes -= entry.bytes;
    entries.delete(key);
  };

  let timer: NodeJS.Timeout | undefined;

  const sweep = (now: number) => {
    for (const [key, entry] of entries) {
      if (entry.expires > now) break;
      remove(key);
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
      remove(key);
      return undefined;
    },
    set(key, reply) {
      if (ttlMs <= 0 || maxEntries <= 0) return;
      const size = sizeOf(reply);
      const now = Date.now();
      sweep(now);
      remove(key);
      // A reply larger than the whole byte bound is not kept (a retransmission of it runs again).
      if (size > maxBytes) return;
      while (entries.size >= maxEntries || bytes + size > maxBytes) {
        const oldest = entries.keys().next();
        if (oldest.done === true) break;
        remove(oldest.value);
      }
      entries.set(key, { reply, expires: now + ttlMs, bytes: size });
      bytes += size;
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
      bytes = 0;
    },
  };
}
