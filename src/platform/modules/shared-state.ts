import { createSharedState } from '../../store/shared-state/index.js';
import type { ModuleDefinition } from '../module.js';

/** Live shared state: Redis when VOXGATE_REDIS_URL is set, in-process memory otherwise. */
export const sharedStateModule: ModuleDefinition = {
  name: 'shared-state',
  deps: [],
  async init(ctx) {
    const state = await createSharedState({ redisUrl: ctx.config.redis.url });
    ctx.services.sharedState = state;
    ctx.logger.info({ kind: state.kind }, 'shared state ready');
    return {
      ready: () => state.ping(),
      stop: () => state.close(),
    };
  },
};
