import type { Database } from './database.js';
import { openPglite } from './pglite-database.js';
import { openPostgres } from './postgres-database.js';
import { withUnavailableErrors } from './unavailable-errors.js';

/**
 * PostgreSQL when a URL is given, otherwise PGlite in `dataDir` (`memory://` for a throwaway one), a new
 * PGlite cluster being initialized from `pgliteTemplate` when that file exists. Failures that mean the
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
    : await openPglite(options.dataDir, options.pgliteTemplate);
  return withUnavailableErrors(db);
}
