import { createMemorySharedState, type RegistrationsPersistence } from './memory-shared-state.js';
import { createRedisSharedState } from './redis-shared-state.js';
import type { SharedState } from './shared-state.js';

export * from './shared-state.js';
export { parseRedisUrl } from './redis-url.js';
export { followStream } from './stream-follower.js';
export { createMemorySharedState, type RegistrationsPersistence } from './memory-shared-state.js';
export { createRedisSharedState } from './redis-shared-state.js';
export { sentinelFailoverChannel, type SentinelFailoverEvent } from './sentinel-failover-gate.js';
export {
  createRegistrationsWriter,
  journalFileOf,
  loadRegistrations,
  MAX_EVENT_LOOP_SHARE,
  type LoadedRegistrations,
  type PersistedBinding,
  type RegistrationsWriter,
} from './registrations-file.js';

/**
 * Redis when a URL is given, otherwise memory (one process only), whose registrations are kept in
 * `persistence.file` when given (Redis keeps its own).
 */
export function createSharedState(options: {
  redisUrl?: string;
  keyPrefix?: string;
  persistence?: RegistrationsPersistence;
  /** Memory only: stream entries trimmed before a consumer group read them (Redis trims them silently). */
  onTrimmedUnread?: (stream: string, count: number) => void;
}): Promise<SharedState> {
  return options.redisUrl
    ? createRedisSharedState({ url: options.redisUrl, keyPrefix: options.keyPrefix })
    : Promise.resolve(
        createMemorySharedState({
          ...(options.persistence ? { persistence: options.persistence } : {}),
          ...(options.onTrimmedUnread ? { onTrimmedUnread: options.onTrimmedUnread } : {}),
        }),
      );
}
