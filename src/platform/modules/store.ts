import { pendingMigrations, storeServerChannel, type StoreServerEvent } from '../../store/index.js';
import { subscribeChannels } from '../channel-subscriptions.js';
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
    // With several PostgreSQL servers: which one is used, when it changes, and an outage once (not per try).
    let none = false;
    const stopServerLog = subscribeChannels({
      [storeServerChannel.name as string]: (message) => {
        const event = message as StoreServerEvent;
        if (event.kind === 'none') {
          if (!none) ctx.logger.warn({ reason: event.reason }, 'no PostgreSQL server to use');
          none = true;
          return;
        }
        none = false;
        if (event.kind === 'chosen')
          ctx.logger.info({ server: event.server, previous: event.previous }, 'PostgreSQL server chosen');
        else ctx.logger.warn({ server: event.server, reason: event.reason }, 'PostgreSQL server let go');
      },
    });
    const { db, applied, migrationsDir } = await openMigratedStore(ctx.config).catch((err: unknown) => {
      stopServerLog();
      throw err;
    });
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
        stopServerLog();
      },
    };
  },
};
