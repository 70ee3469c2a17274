import { join } from 'node:path';
import { createFolderStore, createS3Store, type ObjectStore, type S3StoreOptions } from '../store/index.js';

/**
 * Where the media relay stores recordings, for the processes that read and delete them (the API, the worker):
 * VOXGATE_RECORDINGS_URL (S3 or S3-compatible) when set, else the folder VOXGATE_DATA_DIR/recordings — which
 * only processes on the same machine (or volume) as the relay see: split deployments set the URL.
 */
export function openRecordingStore(config: {
  dataDir: string;
  media: { recordings?: S3StoreOptions | undefined };
}): ObjectStore {
  return config.media.recordings
    ? createS3Store(config.media.recordings)
    : createFolderStore(join(config.dataDir, 'recordings'));
}

/**
 * The object-store backup (the worker's `object-store-backup` job, `voxgate object-backup`):
 * VOXGATE_OBJECT_BACKUP_URL when set, else the folder VOXGATE_DATA_DIR/object-backups. A destination inside
 * a store it copies would copy itself: refused.
 */
export function openObjectBackupStore(config: {
  dataDir: string;
  media: { recordings?: S3StoreOptions | undefined };
  backups: { s3?: S3StoreOptions | undefined };
  objectBackups: { s3?: S3StoreOptions | undefined };
}): ObjectStore {
  const s3 = config.objectBackups.s3;
  if (!s3) return createFolderStore(join(config.dataDir, 'object-backups'));
  const inside = (outer: S3StoreOptions | undefined) =>
    outer !== undefined &&
    (outer.endpoint ?? '') === (s3.endpoint ?? '') &&
    `${s3.url.replace(/\/+$/, '')}/`.startsWith(`${outer.url.replace(/\/+$/, '')}/`);
  if (inside(config.media.recordings) || inside(config.backups.s3))
    throw new Error(
      `VOXGATE_OBJECT_BACKUP_URL=${s3.url} is inside a store it backs up (VOXGATE_RECORDINGS_URL or VOXGATE_BACKUP_URL)`,
    );
  return createS3Store(s3);
}
