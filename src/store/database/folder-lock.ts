import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { StoreError } from '../store-error.js';

/**
 * One process at a time in an embedded database's folder. PGlite keeps its database in WASM memory and writes
 * the folder's files without PostgreSQL's postmaster.pid interlock: two processes opening the same folder both
 * start, and each overwrites what the other wrote (measured: two `openPglite` on one folder both answered
 * queries). Like postmaster.pid, the lock is a file created only if absent, naming its owner's process and
 * host. A lock whose process is gone (a crash, a killed container), or that names this very process (a
 * container restarted with the same pid, a database reopened), is stale and taken over; one written on another
 * host cannot be checked and is taken over too (the folder is one machine's disk). A live owner on this host is
 * refused with STORE_DATA_DIR_IN_USE.
 */
export interface FolderLock {
  /** Removes the lock file if it is still this process's. */
  release(): void;
}

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string'
      ? { pid: owner.pid, host: owner.host, since: String(owner.since ?? '') }
      : undefined;
  } catch {
    return undefined; // unreadable or half-written: no owner to respect
  }
}

/**
 * Takes `file` for this process, or throws StoreError STORE_DATA_DIR_IN_USE naming the live process that holds
 * it; `what` says what the file guards, for that error.
 */
export function lockFolder(file: string, what: string): FolderLock {
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const create = (): boolean => {
    try {
      writeFileSync(file, `${JSON.stringify(me)}\n`, { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return false;
    }
  };
  const inUse = (owner: LockOwner | undefined) =>
    new StoreError(
      'STORE_DATA_DIR_IN_USE',
      `${what} is in use by process ${owner?.pid ?? '(unknown)'} (since ${owner?.since ?? '?'}); stop it first, or give this one another VOXGATE_DATA_DIR (lock file ${file})`,
    );
  if (!create()) {
    const owner = readOwner(file);
    if (owner && owner.pid !== me.pid && owner.host === me.host && isAlive(owner.pid)) throw inUse(owner);
    // Stale: removed, then created again exclusively, so that of two processes taking it over one wins and
    // the other is refused.
    try {
      unlinkSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (!create()) throw inUse(readOwner(file));
  }
  return {
    release() {
      if (readOwner(file)?.pid !== me.pid) return;
      try {
        unlinkSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    },
  };
}
