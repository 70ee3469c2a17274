import { optional, url } from './kinds.js';
import { section } from './setting.js';

/** The `shared-state` module: Redis, or in-process memory. */
export const sharedStateSection = section({
  name: 'shared-state',
  settings: {
    VOXGATE_REDIS_URL: optional(
      url(['redis', 'rediss', 'redis+cluster', 'redis+sentinel'], {
        description: 'Redis for shared state; unset = in-process memory (single instance only)',
        secret: true,
      }),
    ),
  },
  build: (v) => ({ redis: { url: v.VOXGATE_REDIS_URL } }),
});
