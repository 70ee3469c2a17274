import { createMemorySharedState } from './memory-shared-state.js';
import { createRedisSharedState } from './redis-shared-state.js';
import type { SharedState } from './shared-state.js';

export * from './shared-state.js';
export { parseRedisUrl } from './redis-url.js';
export { createMemorySharedState } from './memory-shared-state.js';
export { createRedisSharedState } from './redis-shared-state.js';

/** Redis when a URL is given, otherwise memory (one process only). */
export function createSharedState(options: { redisUrl?: string; keyPrefix?: string }): Promise<SharedState> {
  return options.redisUrl
    ? createRedisSharedState({ url: options.redisUrl, keyPrefix: options.keyPrefix })
    : Promise.resolve(createMemorySharedState());
}
