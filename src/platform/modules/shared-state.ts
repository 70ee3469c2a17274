import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  createSharedState,
  sentinelFailoverChannel,
  type RegistrationsPersistence,
  type SentinelFailoverEvent,
} from '../../store/shared-state/index.js';
import { subscribeChannels } from '../channel-subscriptions.js';
import { Counter } from '../../observability/index.js';
import { createRateLimitedLog } from '../../observability/rate-limited-log.js';
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
    const trimmedUnread = new Counter({
      name: 'voxgate_event_stream_trimmed_unread_total',
      help:
        'Embedded event-stream entries dropped by the stream caps (entries, bytes) before a consumer group ' +
        'read them: events lost (CDRs, webhooks) because their reader fell behind.',
      labelNames: ['stream'],
      registers: [ctx.metrics],
    });
    const trimLog = createRateLimitedLog(ctx.logger, { burst: 5, perSecond: 0.2 });
    // Redis Sentinel: a failover the sentinels announce holds the operations until the switch (one line each).
    const stopFailoverLog = subscribeChannels({
      [sentinelFailoverChannel.name as string]: (message) => {
        const event = message as SentinelFailoverEvent;
        if (event.kind === 'held')
          ctx.logger.warn(
            { masterName: event.masterName, sentinel: event.sentinel },
            'Redis failover announced: shared-state operations wait for the new master',
          );
        else if (event.reason !== 'closed')
          ctx.logger[event.reason === 'timeout' ? 'warn' : 'info'](
            {
              masterName: event.masterName,
              reason: event.reason,
              heldMs: event.heldMs,
              newMaster: event.newMaster,
            },
            'shared-state operations go on after the Redis failover',
          );
      },
    });
    const state = await createSharedState({
      redisUrl: ctx.config.redis.url,
      ...(persistence ? { persistence } : {}),
      onTrimmedUnread: (stream, count) => {
        trimmedUnread.inc({ stream }, count);
        trimLog.log(
          'stream-trimmed-unread',
          'warn',
          { stream, count },
          'event stream full: entries dropped before their reader got them',
        );
      },
    }).catch((err: unknown) => {
      stopFailoverLog();
      throw err;
    });
    ctx.services.sharedState = state;
    ctx.logger.info({ kind: state.kind }, 'shared state ready');
    const stopStructures = exportStructureSizes(ctx.metrics, () => state.structures?.());
    return {
      ready: () => state.ping(),
      stop: async () => {
        stopStructures();
        await state.close();
        stopFailoverLog();
      },
    };
  },
};
