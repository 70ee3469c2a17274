import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { checkKey, type ObjectStore, type StoredObject } from './object-store.js';

/** A local folder as the object store (embedded mode): the key is the path under `root`. */
export function createFolderStore(root: string): ObjectStore {
  const pathOf = (key: string) => {
    checkKey(key);
    return join(root, ...key.split('/'));
  };
  const keysUnder = async (prefix: string): Promise<string[]> => {
    const base = prefix === '' ? root : join(root, ...prefix.replace(/\/+$/, '').split('/'));
    const entries = await readdir(base, { recursive: true, withFileTypes: true }).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [];
        throw err;
      },
    );
    return entries
      .filter((e) => e.isFile())
      .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'))
      .filter((k) => !k.split('/').some((part) => part.startsWith('.')))
      .sort();
  };
  return {
    async putFile(key, localPath) {
      const target = pathOf(key);
      await mkdir(dirname(target), { recursive: true });
      try {
        await rename(localPath, target);
      } catch {
        // Another file system (EXDEV): copy, then drop the spooled file.
        await copyFile(localPath, target);
        await unlink(localPath);
      }
    },
    async getFile(key, localPath) {
      await copyFile(pathOf(key), localPath);
    },
    async open(key) {
      const path = pathOf(key);
      const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (!info?.isFile()) return undefined;
      return { body: createReadStream(path), size: info.size };
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
    list: keysUnder,
    async listVersions(prefix) {
      const found: StoredObject[] = [];
      for (const key of await keysUnder(prefix)) {
        const info = await stat(pathOf(key)).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined; // deleted since the listing
          throw err;
        });
        if (info?.isFile())
          found.push({ key, size: info.size, version: `${info.size}-${Math.floor(info.mtimeMs)}` });
      }
      return found;
    },
    close: () => undefined,
  };
}
