import { createInterface } from 'node:readline';
import type { ObjectStore } from '../store/index.js';

/**
 * The layout of an object-store backup (a bucket, prefix or folder of its own):
 *
 *   data/<source>/<key>~<version>     one copy per version of each source object, written once, never changed
 *   manifests/<stamp>.jsonl           what the sources held at one run: a header line, then one line per object
 *
 * A manifest is written only after every object it lists is in `data/`, so any manifest can be restored in full.
 */
export const MANIFEST_PREFIX = 'manifests/';
export const DATA_PREFIX = 'data/';

/** One object a source held at a run, and where its copy is. */
export interface ManifestEntry {
  source: string;
  key: string;
  size: number;
  version: string;
}

export interface ManifestHeader {
  stamp: string;
  createdAt: string;
  /** Per source: the objects and bytes it held. */
  sources: Record<string, { objects: number; bytes: number }>;
  /** What this run copied (the rest was already in the backup). */
  copied: { objects: number; bytes: number };
}

/** Where the copy of one version of a source object is kept. */
export function locationOf(entry: Pick<ManifestEntry, 'source' | 'key' | 'version'>): string {
  return `${DATA_PREFIX}${entry.source}/${entry.key}~${entry.version.replace(/[^A-Za-z0-9-]/g, '') || 'v'}`;
}

/** A run's stamp, to the millisecond (two runs in one second keep two manifests): `20261203T143000123Z`. */
export const stampOf = (d: Date): string => d.toISOString().replace(/[-:.]/g, '');

const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/;

/** The time a stamp names, in ms since the epoch; undefined for anything else. */
export function stampTime(stamp: string): number | undefined {
  const m = STAMP.exec(stamp);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!) : undefined;
}

/** The stamps of the manifests in the backup, oldest first. */
export async function manifestStamps(backup: Pick<ObjectStore, 'list'>): Promise<string[]> {
  return (await backup.list(MANIFEST_PREFIX))
    .map((k) => /^manifests\/(\d{8}T\d{9}Z)\.jsonl$/.exec(k)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

export const manifestKey = (stamp: string): string => `${MANIFEST_PREFIX}${stamp}.jsonl`;

/** A manifest as JSON Lines: the header, then the entries (streamed by the reader, so large ones fit). */
export function manifestText(header: ManifestHeader, entries: readonly ManifestEntry[]): string {
  return [header, ...entries].map((line) => JSON.stringify(line)).join('\n') + '\n';
}

/** Reads the manifest of `stamp`: its header, and each entry through `onEntry`. */
export async function readManifest(
  backup: Pick<ObjectStore, 'open'>,
  stamp: string,
  onEntry: (entry: ManifestEntry) => void,
): Promise<ManifestHeader> {
  const opened = await backup.open(manifestKey(stamp));
  if (!opened) throw new Error(`no manifest ${manifestKey(stamp)} in the backup`);
  let header: ManifestHeader | undefined;
  for await (const line of createInterface({ input: opened.body, crlfDelay: Infinity })) {
    if (line === '') continue;
    const parsed = JSON.parse(line) as ManifestHeader | ManifestEntry;
    if (!header) header = parsed as ManifestHeader;
    else onEntry(parsed as ManifestEntry);
  }
  if (!header) throw new Error(`manifest ${manifestKey(stamp)} is empty`);
  return header;
}
