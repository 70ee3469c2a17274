import type { Readable } from 'node:stream';
import { ObjectStoreError } from './object-store-error.js';

/**
 * Files kept outside the database — call recordings, database backups — under keys with `/` separators
 * (`2026-11-24/<call>/a-1.wav`, `backups/20261124T021700Z.dump`): a local folder when embedded, S3 or an
 * S3-compatible store otherwise.
 */
export interface ObjectStore {
  /** Stores the complete file at `localPath` under `key`; the store may move or delete the local file. */
  putFile(key: string, localPath: string): Promise<void>;
  /** Writes the object `key` to `localPath`. */
  getFile(key: string, localPath: string): Promise<void>;
  /** The object `key` as a stream, with its size; undefined when there is no such object. */
  open(key: string): Promise<{ body: Readable; size: number } | undefined>;
  /** Removes the object `key` (nothing when there is none). */
  delete(key: string): Promise<void>;
  /** Keys under `prefix` (a folder-like `a/b/`), sorted. */
  list(prefix: string): Promise<string[]>;
  /** The objects under `prefix` with their size and version, sorted by key (what an incremental copy compares). */
  listVersions(prefix: string): Promise<StoredObject[]>;
  close(): void;
}

/**
 * One object as a listing gives it. `version` changes when the content does: the ETag on S3, size and
 * modification time in a folder.
 */
export interface StoredObject {
  key: string;
  size: number;
  version: string;
}

/** A key that could leave the store (`..`, empty or absolute parts) is refused. */
export function checkKey(key: string): void {
  if (key.startsWith('/') || key.split('/').some((part) => part === '..' || part === '' || part === '.')) {
    throw new ObjectStoreError('OBJECT_STORE_BAD_KEY', `key outside the store: ${key}`);
  }
}
