import { channel } from 'node:diagnostics_channel';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore } from '../store/index.js';
import {
  DATA_PREFIX,
  locationOf,
  manifestKey,
  manifestStamps,
  manifestText,
  readManifest,
  stampOf,
  stampTime,
  type ManifestEntry,
  type ManifestHeader,
} from './object-store-backup-manifest.js';
import type { ScheduledJob } from './scheduler.js';

/** Metrics hook, one message per run: `ObjectBackupEvent`. */
export const objectBackupChannel = channel('voxgate:jobs:object-backup');

export interface ObjectBackupEvent {
  readonly ok: boolean;
  /** Objects and bytes copied by the run (a failed run counts what it copied before the failure). */
  readonly copiedObjects: number;
  readonly copiedBytes: number;
  /** When the run ended, ms since the epoch. */
  readonly at: number;
}

/** An object store to back up, by the name its copies and manifest entries carry (`recordings`). */
export interface ObjectBackupSource {
  readonly name: string;
  readonly store: ObjectStore;
}

export interface ObjectBackupResult extends ManifestHeader {
  /** Manifests past the retention, and copies no remaining manifest lists, deleted after this run. */
  pruned: { manifests: number; objects: number };
}

/**
 * Runs `work` only if no other worker does the same (an advisory lock on PostgreSQL); undefined when another
 * one holds it.
 */
export type Exclusive = <R>(work: () => Promise<R>) => Promise<R | undefined>;

/**
 * Daily copy of the object stores (recordings, database backups) into a backup store of its own, incremental:
 * each source object is copied once per version (S3 ETag, or size and mtime of a file) to
 * `data/<source>/<key>~<version>`, and what is already there with its size is not copied again — so a run
 * cut short by a failing destination is resumed by the next one. A manifest of every object the sources held
 * (`manifests/<stamp>.jsonl`) is written last. An object deleted from its source stays in the backup, listed
 * by the older manifests, until those are past `retentionDays`: only then are copies that no remaining
 * manifest lists deleted (0 = never).
 */
export function objectStoreBackupJob(options: {
  sources: readonly ObjectBackupSource[];
  backup: ObjectStore;
  spoolDir: string;
  everyMs: number;
  retentionDays: number;
  exclusive?: Exclusive;
  onCopied?: (entry: ManifestEntry) => void | Promise<void>;
  onStored?: (result: ObjectBackupResult) => void;
}): ScheduledJob & { runNow(signal?: AbortSignal): Promise<ObjectBackupResult | undefined> } {
  const { backup, sources } = options;
  const exclusive: Exclusive = options.exclusive ?? ((work) => work());

  /** Several workers run this job: one run per period, whoever comes first. */
  const recentEnough = async (now: number): Promise<boolean> => {
    const latest = (await manifestStamps(backup)).at(-1);
    const at = latest === undefined ? undefined : stampTime(latest);
    return at !== undefined && now - at < options.everyMs * 0.9;
  };

  const copyRun = async (signal: AbortSignal | undefined, copied: { objects: number; bytes: number }) => {
    const now = new Date();
    const stamp = stampOf(now);
    const entries: ManifestEntry[] = [];
    const held: ManifestHeader['sources'] = {};
    await mkdir(options.spoolDir, { recursive: true });
    const spooled = join(options.spoolDir, `object-backup-${process.pid}`);
    try {
      for (const source of sources) {
        const present = new Map(
          (await backup.listVersions(`${DATA_PREFIX}${source.name}/`)).map((o) => [o.key, o.size]),
        );
        const tally = { objects: 0, bytes: 0 };
        for (const object of await source.store.listVersions('')) {
          signal?.throwIfAborted();
          const entry: ManifestEntry = { source: source.name, ...object };
          const location = locationOf(entry);
          if (present.get(location) !== object.size) {
            const opened = await source.store.open(object.key);
            if (!opened) continue; // deleted since the listing: not held any more
            await pipeline(opened.body, createWriteStream(spooled));
            await backup.putFile(location, spooled);
            copied.objects += 1;
            copied.bytes += object.size;
            await options.onCopied?.(entry);
          }
          entries.push(entry);
          tally.objects += 1;
          tally.bytes += object.size;
        }
        held[source.name] = tally;
      }
      const header: ManifestHeader = { stamp, createdAt: now.toISOString(), sources: held, copied };
      // Written last: a manifest only ever lists copies that are complete.
      await writeFile(spooled, manifestText(header, entries));
      await backup.putFile(manifestKey(stamp), spooled);
      return { ...header, pruned: await prune(stamp) };
    } finally {
      await rm(spooled, { force: true });
    }
  };

  /** Deletes the manifests past the retention (never the newest), then the copies no other manifest lists. */
  const prune = async (newest: string): Promise<ObjectBackupResult['pruned']> => {
    if (options.retentionDays <= 0) return { manifests: 0, objects: 0 };
    const cutoff = Date.now() - options.retentionDays * 86_400_000;
    const stamps = await manifestStamps(backup);
    const expired = stamps.filter((s) => s !== newest && (stampTime(s) ?? Infinity) < cutoff);
    if (expired.length === 0) return { manifests: 0, objects: 0 };
    const listed = new Set<string>();
    for (const stamp of stamps.filter((s) => !expired.includes(s)))
      await readManifest(backup, stamp, (e) => listed.add(locationOf(e)));
    for (const stamp of expired) await backup.delete(manifestKey(stamp));
    let objects = 0;
    for (const key of await backup.list(DATA_PREFIX)) {
      if (listed.has(key)) continue;
      await backup.delete(key);
      objects += 1;
    }
    return { manifests: expired.length, objects };
  };

  const run = async (signal?: AbortSignal): Promise<ObjectBackupResult | undefined> => {
    if (await recentEnough(Date.now())) return undefined;
    const copied = { objects: 0, bytes: 0 };
    const report = (ok: boolean) => {
      if (objectBackupChannel.hasSubscribers)
        objectBackupChannel.publish({
          ok,
          copiedObjects: copied.objects,
          copiedBytes: copied.bytes,
          at: Date.now(),
        } satisfies ObjectBackupEvent);
    };
    let result: ObjectBackupResult | undefined;
    let ok = false;
    try {
      result = await exclusive(() => copyRun(signal, copied));
      ok = true;
    } finally {
      // A run another worker made (the lock was taken) is nobody's success here.
      if (!ok || result) report(ok);
    }
    if (result) options.onStored?.(result);
    return result;
  };
  return {
    name: 'object-store-backup',
    everyMs: options.everyMs,
    run: async (s) => void (await run(s)),
    runNow: run,
  };
}
