import type { Database } from './database.js';
import { openPgliteThread } from './pglite-thread-database.js';
import { openPostgres } from './postgres-database.js';
import { withUnavailableErrors } from './unavailable-errors.js';

/**
 * PostgreSQL when a URL is given, otherwise PGlite in `dataDir` (`memory://` for a throwaway one), a new
 * PGlite cluster being initialized from `pgliteTemplate` when that file exists. PGlite runs in a worker thread
 * (pglite-thread-database.ts), off the caller's event loop. Failures that mean the
 * database is unavailable are `StoreError`s with code `STORE_UNAVAILABLE`.
 */
export async function openDatabase(options: {
  url?: string;
  dataDir: string;
  poolSize?: number;
  pgliteTemplate?: string;
}): Promise<Database> {
  const db = options.url
    ? await openPostgres(options.url, options.poolSize ?? 10)
    : await openPgliteThread(options.dataDir, options.pgliteTemplate);
  return withUnavailableErrors(db);
}
