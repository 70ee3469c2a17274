import { pendingMigrations } from '../../store/index.js';
import { collectDataMetrics } from '../data-metrics.js';
import type { ModuleDefinition } from '../module.js';
import { openMigratedStore } from '../open-store.js';

/**
 * The relational store: PostgreSQL when VOXGATE_DATABASE_URL is set, otherwise PGlite in VOXGATE_DATA_DIR.
 * Migrations run at start (serialized across replicas by an advisory lock); readiness requires the database
 * to answer and no migration to be pending.
 */
export const storeModule: ModuleDefinition = {
  name: 'store',
  deps: [],
  async init(ctx) {
    const { db, applied, migrationsDir } = await openMigratedStore(ctx.config);
    ctx.logger.info({ kind: db.kind, applied }, 'store ready');
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
