import type { Database } from './database.js';
import { openPglite } from './pglite-database.js';
import { openPostgres } from './postgres-database.js';

/**
 * PostgreSQL when a URL is given, otherwise PGlite in `dataDir` (`memory://` for a throwaway one), a new
 * PGlite cluster being initialized from `pgliteTemplate` when that file exists.
 */
export function openDatabase(options: {
  url?: string;
  dataDir: string;
  poolSize?: number;
  pgliteTemplate?: string;
}): Promise<Database> {
  return options.url
    ? openPostgres(options.url, options.poolSize ?? 10)
    : openPglite(options.dataDir, options.pgliteTemplate);
}
