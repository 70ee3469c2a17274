import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore } from '../store/index.js';
import {
  locationOf,
  manifestKey,
  manifestStamps,
  readManifest,
  stampTime,
  type ManifestEntry,
  type ManifestHeader,
} from './object-store-backup-manifest.js';

/** The header of every manifest in the backup, oldest first: what each run found and copied. */
export async function listObjectBackups(backup: ObjectStore): Promise<ManifestHeader[]> {
  const headers: ManifestHeader[] = [];
  for (const stamp of await manifestStamps(backup)) {
    const opened = await backup.open(manifestKey(stamp));
    if (!opened) continue;
    const lines = createInterface({ input: opened.body, crlfDelay: Infinity });
    for await (const line of lines) {
      headers.push(JSON.parse(line) as ManifestHeader);
      break;
    }
    lines.close();
    opened.body.destroy();
  }
  return headers;
}

/** The newest manifest at or before `at` (the newest of all without it). */
export async function chooseManifest(backup: ObjectStore, at?: Date): Promise<string> {
  const stamps = await manifestStamps(backup);
  const chosen = at ? stamps.filter((s) => (stampTime(s) ?? Infinity) <= at.getTime()).at(-1) : stamps.at(-1);
  if (!chosen)
    throw new Error(
      at ? `no object backup at or before ${at.toISOString()}` : 'the object backup holds no manifest',
    );
  return chosen;
}

export interface ObjectRestoreResult {
  stamp: string;
  restored: { objects: number; bytes: number };
  /** Objects the target already held with the same size (left as they are unless `overwrite`). */
  present: number;
}

/**
 * Copies what a manifest lists back into the stores it came from (or others given as `targets`): every
 * entry of the chosen sources whose key starts with `prefix`. An object the target already holds with the
 * same size is left alone unless `overwrite`; nothing in the target is deleted.
 */
export async function restoreObjectBackup(options: {
  backup: ObjectStore;
  targets: Readonly<Record<string, ObjectStore>>;
  stamp: string;
  prefix?: string;
  overwrite?: boolean;
  spoolDir: string;
  onRestored?: (entry: ManifestEntry) => void;
}): Promise<ObjectRestoreResult> {
  const prefix = options.prefix ?? '';
  const wanted: ManifestEntry[] = [];
  await readManifest(options.backup, options.stamp, (e) => {
    if (options.targets[e.source] && e.key.startsWith(prefix)) wanted.push(e);
  });
  const held = new Map<string, Map<string, number>>();
  for (const [name, target] of Object.entries(options.targets))
    held.set(name, new Map((await target.listVersions(prefix)).map((o) => [o.key, o.size])));
  await mkdir(options.spoolDir, { recursive: true });
  const spooled = join(options.spoolDir, `object-restore-${process.pid}`);
  const result: ObjectRestoreResult = {
    stamp: options.stamp,
    restored: { objects: 0, bytes: 0 },
    present: 0,
  };
  try {
    for (const entry of wanted) {
      if (!options.overwrite && held.get(entry.source)?.get(entry.key) === entry.size) {
        result.present += 1;
        continue;
      }
      const opened = await options.backup.open(locationOf(entry));
      if (!opened) throw new Error(`${locationOf(entry)} is listed by manifest ${options.stamp} but missing`);
      await pipeline(opened.body, createWriteStream(spooled));
      await options.targets[entry.source]!.putFile(entry.key, spooled);
      result.restored.objects += 1;
      result.restored.bytes += entry.size;
      options.onRestored?.(entry);
    }
  } finally {
    await rm(spooled, { force: true });
  }
  return result;
}
