import { subscribeChannels } from './channel-subscriptions.js';
import { registrationChannel, type RegistrationEvent } from '../gateway/registrar.js';
import {
  createRateLimitedLog,
  type LogSink,
  type RateLimitedLog,
} from '../observability/rate-limited-log.js';

const MESSAGES: Record<RegistrationEvent['kind'], string> = {
  registered: 'registration added',
  refreshed: 'registration refreshed',
  unregistered: 'registration removed',
  expired: 'registration expired',
};

/**
 * One log line per registration change from the gateway's `voxgate:gateway:registration` channel: added,
 * removed and expired at info, refreshed at debug, with the user (AOR), contact, source, transport, user agent
 * and where calls to it go. Each kind has its own token bucket (`rate-limited-log.ts`: 20 at once, 5 a second
 * after that), so a REGISTER flood cannot fill the disk; suppressed lines are counted and reported. Returns
 * the function that unsubscribes (and reports what is still suppressed).
 */
export function logRegistrations(
  logger: LogSink,
  options: { burst?: number; perSecond?: number } = {},
): { stop(): void; readonly log: RateLimitedLog } {
  const log = createRateLimitedLog(logger, { burst: options.burst ?? 20, perSecond: options.perSecond ?? 5 });
  const onEvent = (message: unknown) => {
    const { kind, aor, ...rest } = message as RegistrationEvent;
    log.log(
      `registration:${kind}`,
      kind === 'refreshed' ? 'debug' : 'info',
      { user: aor, ...rest },
      MESSAGES[kind],
    );
  };
  const unsubscribe = subscribeChannels({ [registrationChannel.name as string]: onEvent });
  return {
    log,
    stop() {
      unsubscribe();
      log.flush();
    },
  };
}
