import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createSharedState, type RegistrationsPersistence } from '../../store/shared-state/index.js';
import { exportStructureSizes } from '../memory-metrics.js';
import type { ModuleDefinition } from '../module.js';

/**
 * Live shared state: Redis when VOXGATE_REDIS_URL is set, in-process memory otherwise. In memory, the
 * registrations are kept in `VOXGATE_DATA_DIR/registrations.json` (unless the data folder is `memory://`), so
 * that phones stay reachable across a restart of the embedded process, as Kamailio's usrloc keeps them in its
 * database modes.
 */
export const sharedStateModule: ModuleDefinition = {
  name: 'shared-state',
  deps: [],
  async init(ctx) {
    const { dataDir } = ctx.config;
    let persistence: RegistrationsPersistence | undefined;
    if (!ctx.config.redis.url && dataDir !== 'memory://') {
      mkdirSync(dataDir, { recursive: true });
      const file = join(dataDir, 'registrations.json');
      persistence = {
        file,
        intervalMs: 1000,
        onLoad: ({ entries, expired, invalid, error }) => {
          if (error) {
            ctx.logger.error(
              { file, movedTo: error.movedTo, err: error.message },
              'registrations file unreadable: starting without registrations',
            );
          }
          ctx.logger.info({ file, restored: entries.length, expired, invalid }, 'registrations restored');
        },
        onError: (err) => ctx.logger.error({ err, file }, 'registrations file not written; retrying'),
      };
    }
    const state = await createSharedState({
      redisUrl: ctx.config.redis.url,
      ...(persistence ? { persistence } : {}),
    });
    ctx.services.sharedState = state;
    ctx.logger.info({ kind: state.kind }, 'shared state ready');
    const stopStructures = exportStructureSizes(ctx.metrics, () => state.structures?.());
    return {
      ready: () => state.ping(),
      stop: () => {
        stopStructures();
        return state.close();
      },
    };
  },
};
