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
