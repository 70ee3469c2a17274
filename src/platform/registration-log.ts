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

/** The rate limiter's kind of each line. */
const KINDS: Record<RegistrationEvent['kind'], string> = {
  registered: 'registration:registered',
  refreshed: 'registration:refreshed',
  unregistered: 'registration:unregistered',
  expired: 'registration:expired',
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
  // One event per REGISTER: the line's fields are made only for a line written (a refresh is at debug).
  const onEvent = (message: unknown) => {
    const event = message as RegistrationEvent;
    log.log(
      KINDS[event.kind],
      event.kind === 'refreshed' ? 'debug' : 'info',
      () => {
        const { kind: _, aor, ...rest } = event;
        return { user: aor, ...rest };
      },
      MESSAGES[event.kind],
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
