import type { RemoteInfo } from 'node:dgram';
import type { NgDictionary } from './ng-message.js';

/** Handles one ng command; what it returns is the reply (`result` defaults to `ok`). Throwing → error reply. */
export type NgHandler = (args: NgDictionary, from: RemoteInfo) => NgDictionary | Promise<NgDictionary>;

export type NgHandlers = Record<string, NgHandler>;

/**
 * What a relay with no calls answers, shaped like RTPengine's replies so the same SIP side works against
 * either: `ping` → `pong`, `list` → no call-ids, `statistics` → zero counters and the uptime.
 */
export function defaultNgHandlers(startedAt: number = Date.now()): NgHandlers {
  return {
    ping: () => ({ result: 'pong' }),
    list: () => ({ calls: [] }),
    statistics: () => ({
      statistics: {
        currentstatistics: {
          sessionsown: 0,
          sessionsforeign: 0,
          sessionstotal: 0,
          transcodedmedia: 0,
          packetrate: 0,
          byterate: 0,
          errorrate: 0,
        },
        totalstatistics: {
          uptime: String(Math.floor((Date.now() - startedAt) / 1000)),
          managedsessions: 0,
          rejectedsessions: 0,
          timeoutsessions: 0,
          regularterminatedsessions: 0,
          forcedterminatedsessions: 0,
          relayedpackets: 0,
          relayedpacketerrors: 0,
        },
      },
    }),
  };
}
