import { parseRedisUrl } from '../../store/shared-state/index.js';
import { custom, optional } from './kinds.js';
import { section } from './setting.js';

/**
 * A Redis URL as the shared state reads it (src/store/shared-state/redis-url.ts): one server, or the seed nodes
 * of a Cluster or the sentinels of a Sentinel setup as `h1:p1,h2:p2`, which `URL` refuses.
 */
function redisUrl(raw: string): string | undefined {
  try {
    parseRedisUrl(raw);
    return raw;
  } catch {
    return undefined;
  }
}

/** The `shared-state` module: Redis, or in-process memory. */
export const sharedStateSection = section({
  name: 'shared-state',
  settings: {
    VOXGATE_REDIS_URL: optional(
      custom(redisUrl, {
        type: 'url',
        expects:
          'a redis:// or rediss:// URL; a Redis Cluster as redis+cluster://h1:6379,h2:6379 (rediss+cluster:// ' +
          'for TLS); Sentinel as redis+sentinel://s1:26379,s2:26379/<master name>',
        description: 'Redis for shared state; unset = in-process memory (single instance only)',
        secret: true,
      }),
    ),
  },
  build: (v) => ({ redis: { url: v.VOXGATE_REDIS_URL } }),
});
