import { join } from 'node:path';
import { findPackageRoot } from '../package-root.js';
import { migrate, openDatabase, pendingMigrations } from '../../store/index.js';
import { collectDataMetrics } from '../data-metrics.js';
import type { ModuleDefinition } from '../module.js';

/**
 * The relational store: PostgreSQL when VOXGATE_DATABASE_URL is set, otherwise PGlite in VOXGATE_DATA_DIR.
 * Migrations run at start (serialized across replicas by an advisory lock); readiness requires the database
 * to answer and no migration to be pending.
 */
export const storeModule: ModuleDefinition = {
  name: 'store',
  deps: [],
  async init(ctx) {
    const { url, poolSize } = ctx.config.database;
    const root = findPackageRoot();
    const db = await openDatabase({
      url,
      dataDir: ctx.config.dataDir,
      poolSize,
      pgliteTemplate: join(root, 'dist', 'pglite-template.tar.gz'),
    });
    const migrationsDir = join(root, 'migrations');
    try {
      const { applied } = await migrate(db, migrationsDir);
      ctx.logger.info({ kind: db.kind, applied }, 'store ready');
    } catch (err) {
      await db.close();
      throw err;
    }
    ctx.services.store = db;
    const stopMetrics = collectDataMetrics(ctx.metrics, db);
    return {
      async ready() {
        await db.ping();
        const pending = await pendingMigrations(db, migrationsDir);
        if (pending.length > 0) throw new Error(`pending migrations: ${pending.join(', ')}`);
      },
      async stop() {
        stopMetrics();
        await db.close();
      },
    };
  },
};
