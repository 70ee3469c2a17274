import { subscribeChannels } from './channel-subscriptions.js';
import { callEventChannel, sipAuthChannel, type SipAuthEvent } from '../gateway/index.js';
import {
  createRateLimitedLog,
  type LogSink,
  type RateLimitedLog,
} from '../observability/rate-limited-log.js';
import type { CallEvent } from '../store/index.js';

const HANDLER_ERROR_CHANNEL = 'voxgate:sip:handler-error';

/** What a newcomer reads first: why the call ended, in words. */
function endedMessage(event: CallEvent): string {
  if (event.refused) return 'call refused';
  return event.disposition === 'answered' ? 'call ended' : 'call failed';
}

/**
 * The log lines an operator needs to tell why a call or a phone failed, from the gateway's diagnostics
 * channels:
 * - every call at `info`: `call started`, `call answered`, then `call ended` / `call failed` / `call refused`
 *   with callId (and so its traceId), tenant, from, to, direction, disposition, SIP code, who ended it and why;
 * - every failed authentication and every request refused while its source is banned at `warn`, with the
 *   source address, realm, method and the username the credentials named;
 * - a request or timer whose handling threw at `error` (the stack answered 500 and went on).
 * Each kind of line has its own token bucket (`rate-limited-log.ts`), so a flood of calls or a password
 * scanner writes a bounded number of lines; suppressed lines are counted and reported.
 */
export function logCalls(
  logger: LogSink,
  options: { burst?: number; perSecond?: number } = {},
): { stop(): void; readonly log: RateLimitedLog } {
  const log = createRateLimitedLog(logger, {
    burst: options.burst ?? 50,
    perSecond: options.perSecond ?? 20,
  });
  // The lines' details are made only for the lines the buckets let through: at a thousand calls a second
  // nearly every event is counted, not written.
  const onCall = (message: unknown) => {
    const event = message as CallEvent;
    const detail = () => ({
      callId: event.callId,
      tenantId: event.tenantId,
      direction: event.direction,
      from: event.from,
      to: event.to,
      ...(event.trunkId ? { trunkId: event.trunkId } : {}),
    });
    if (event.type === 'started') log.log('call:started', 'info', detail, 'call started');
    else if (event.type === 'answered') log.log('call:answered', 'info', detail, 'call answered');
    else {
      log.log(
        event.refused ? 'call:refused' : 'call:ended',
        'info',
        () => ({
          ...detail(),
          disposition: event.disposition,
          code: event.sipCode,
          hangupBy: event.hangupBy,
          ...(event.reason ? { reason: event.reason } : {}),
          ...(event.answeredAt && event.endedAt
            ? { durationSeconds: Math.round((event.endedAt - event.answeredAt) / 1000) }
            : {}),
        }),
        endedMessage(event),
      );
    }
  };
  const onAuth = (message: unknown) => {
    // Every decision comes here, the accepted ones at the rate of registrations: only a failure is copied.
    const event = message as SipAuthEvent;
    const detail = () => {
      const { outcome: _, ...rest } = event;
      return rest;
    };
    if (event.outcome === 'failed') log.log('auth:failed', 'warn', detail, 'SIP authentication failed');
    else if (event.outcome === 'banned')
      log.log(
        'auth:banned',
        'warn',
        detail,
        'SIP request refused: source banned after failed authentications',
      );
  };
  const onHandlerError = (message: unknown) => {
    const { error, request, timer } = message as {
      error: unknown;
      request?: { method: string; callId: string };
      timer?: string;
    };
    log.log(
      'sip:handler-error',
      'error',
      {
        err: error,
        ...(request ? { method: request.method, callId: request.callId } : {}),
        ...(timer ? { timer } : {}),
      },
      'SIP message handling failed',
    );
  };
  const unsubscribe = subscribeChannels({
    [callEventChannel.name as string]: onCall,
    [sipAuthChannel.name as string]: onAuth,
    [HANDLER_ERROR_CHANNEL]: onHandlerError,
  });
  return {
    log,
    stop() {
      unsubscribe();
      log.flush();
    },
  };
}
