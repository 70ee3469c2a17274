import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createMemorySharedState, createRedisSharedState } from '../../src/store/shared-state/index.js';
import type { SharedStateImplementation } from './shared-state-contract.js';

/** The Redis the shared-state tests use (keys under a random prefix, deleted afterwards). */
export const REDIS_URL = process.env.VOXGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Whether the Redis of REDIS_URL answers. In CI its absence is a failure, locally the suites skip with a
 * message.
 */
export async function redisUp(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return true;
  } catch (err) {
    if (process.env.CI) throw new Error(`Redis is required in CI at ${REDIS_URL}`, { cause: err });
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * Memory and real Redis shared state, each a fresh state per `make()` with its cleanup (Redis: its keys under a
 * random prefix deleted); Redis skipped when it does not answer.
 */
export async function sharedStateKinds(): Promise<SharedStateImplementation[]> {
  const haveRedis = await redisUp();
  return [
    {
      name: 'memory',
      skip: false,
      make: async () => {
        const state = createMemorySharedState();
        return { state, cleanup: () => state.close() };
      },
    },
    {
      name: 'Redis',
      skip: haveRedis ? false : `Redis not reachable at ${REDIS_URL}`,
      make: async () => {
        const prefix = `voxgate-test-${randomBytes(4).toString('hex')}:`;
        const state = await createRedisSharedState({ url: REDIS_URL, keyPrefix: prefix });
        return {
          state,
          cleanup: async () => {
            await state.close();
            const admin = new Redis(REDIS_URL);
            const keys = await admin.keys(`${prefix}*`);
            if (keys.length > 0) await admin.del(...keys);
            admin.disconnect();
          },
        };
      },
    },
  ];
}
