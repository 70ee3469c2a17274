import { copyFile, mkdir, rename, unlink } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';

/**
 * Where finished recordings go. A key is a relative path with `/` separators (`2026-11-24/<call>/a-1.wav`);
 * the file at `localPath` is complete when `putFile` is called, and the store may move it.
 */
export interface ObjectStore {
  putFile(key: string, localPath: string): Promise<void>;
}

export class ObjectKeyError extends Error {
  override readonly name = 'ObjectKeyError';
  readonly code = 'MEDIA_BAD_OBJECT_KEY';
}

/** A local folder as the store (embedded mode): the key is the path under `root`. */
export function createFolderStore(root: string): ObjectStore {
  return {
    async putFile(key, localPath) {
      const target = normalize(join(root, ...key.split('/')));
      if (!target.startsWith(normalize(root) + sep))
        throw new ObjectKeyError(`key outside the store: ${key}`);
      await mkdir(dirname(target), { recursive: true });
      try {
        await rename(localPath, target);
      } catch {
        // Another file system (EXDEV): copy, then drop the spooled file.
        await copyFile(localPath, target);
        await unlink(localPath);
      }
    },
  };
}
