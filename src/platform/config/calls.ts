import { parseHostPortList, type HostPort } from './host-port.js';
import { custom, integer, optional } from './kinds.js';
import { mediaNgSetting } from './media-relay.js';
import { section } from './setting.js';

/** `off` → no relay, else a comma list of ng addresses. */
function relayList(raw: string): readonly HostPort[] | undefined {
  return raw === 'off' ? [] : parseHostPortList(raw);
}

/** The `sip-gateway` module's calls: timers, trunks, the directory cache and the relays it anchors on. */
export const callsSection = section({
  name: 'sip-gateway calls',
  settings: {
    VOXGATE_CALL_RING_TIMEOUT_SECONDS: integer({
      min: 1,
      max: 600,
      unit: 'seconds',
      description: 'a call not answered after this long is cancelled (480 to the caller)',
      default: 60,
    }),
    VOXGATE_CALL_MAX_DURATION_SECONDS: integer({
      min: 1,
      max: 86_400,
      unit: 'seconds',
      description: 'an answered call is ended on both legs after this long',
      default: 14400,
    }),
    VOXGATE_CALL_NO_RTP_HANGUP_SECONDS: integer({
      min: 0,
      max: 3600,
      unit: 'seconds',
      zero: 'off',
      description:
        'the gateway polls the relay and hangs up (BYE both legs) an anchored call with no RTP for this long; ' +
        'not the relay session timeout (VOXGATE_RELAY_IDLE_SESSION_SECONDS); 0 = never',
      default: 60,
      deprecatedNames: ['VOXGATE_CALL_MEDIA_TIMEOUT_SECONDS'],
    }),
    VOXGATE_TRUNK_CHECK_SECONDS: integer({
      min: 0,
      max: 3600,
      unit: 'seconds',
      zero: 'off',
      description:
        'how often each trunk gets an OPTIONS health check; an unanswered one leaves routing; 0 = never',
      default: 30,
    }),
    VOXGATE_TRUNK_REGISTER_EXPIRES_SECONDS: integer({
      min: 60,
      max: 86_400,
      unit: 'seconds',
      description:
        'expiration asked of carriers for trunks with register set (refreshed at a third of what they grant)',
      default: 600,
    }),
    VOXGATE_DIRECTORY_CACHE_SECONDS: integer({
      min: 0,
      max: 3600,
      unit: 'seconds',
      zero: 'no cache',
      description:
        'how long the gateway keeps tenants, users, trunks, numbers and routes read from the store; API changes ' +
        'drop the cache at once (provisioning change stream), this bounds staleness if an announcement is lost',
      default: 60,
    }),
    VOXGATE_GATEWAY_MEDIA_RELAYS: optional(
      custom(relayList, {
        type: 'list',
        expects: "'off' or a comma list of ng addresses host:port (voxgate relays or RTPengine)",
        description:
          'media relays the gateway anchors calls on; unset = VOXGATE_MEDIA_NG; off = no anchoring',
      }),
    ),
    VOXGATE_MEDIA_NG: mediaNgSetting,
  },
  build: (v) => ({
    calls: {
      ringTimeoutMs: v.VOXGATE_CALL_RING_TIMEOUT_SECONDS * 1000,
      maxDurationMs: v.VOXGATE_CALL_MAX_DURATION_SECONDS * 1000,
      /** The gateway's hangup of a call without RTP; the relay's idle session timeout is `media.idleSessionMs`. */
      noRtpHangupMs: v.VOXGATE_CALL_NO_RTP_HANGUP_SECONDS * 1000,
      trunkCheckMs: v.VOXGATE_TRUNK_CHECK_SECONDS * 1000,
      trunkRegisterExpiresSec: v.VOXGATE_TRUNK_REGISTER_EXPIRES_SECONDS,
      /** How long store lookups are cached by the gateway; 0 = not cached. */
      directoryCacheMs: v.VOXGATE_DIRECTORY_CACHE_SECONDS * 1000,
      /** ng addresses the gateway anchors media on; empty = no anchoring. */
      relays: v.VOXGATE_GATEWAY_MEDIA_RELAYS ?? [v.VOXGATE_MEDIA_NG],
    },
  }),
});
