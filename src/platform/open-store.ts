import { join } from 'node:path';
import { migrate, openDatabase, type Database } from '../store/index.js';
import type { Config } from './config/index.js';
import { findPackageRoot } from './package-root.js';

/** The store the settings name, migrated: what the `store` module serves and `voxgate admin` works on. */
export interface OpenedStore {
  readonly db: Database;
  /** Migrations applied by this opening. */
  readonly applied: readonly string[];
  readonly migrationsDir: string;
}

/**
 * Opens PostgreSQL (VOXGATE_DATABASE_URL) or PGlite in VOXGATE_DATA_DIR and runs the pending migrations
 * (serialized across replicas); the database is closed again when they fail.
 */
export async function openMigratedStore(config: Pick<Config, 'database' | 'dataDir'>): Promise<OpenedStore> {
  const { url, poolSize } = config.database;
  const root = findPackageRoot();
  const db = await openDatabase({
    url,
    dataDir: config.dataDir,
    poolSize,
    pgliteTemplate: join(root, 'dist', 'pglite-template.tar.gz'),
  });
  const migrationsDir = join(root, 'migrations');
  try {
    const { applied } = await migrate(db, migrationsDir);
    return { db, applied, migrationsDir };
  } catch (err) {
    await db.close();
    throw err;
  }
}
