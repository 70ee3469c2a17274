import { advertisedAddressSetting } from './general.js';
import { choice, hostPort, integer, optional, s3Url, text } from './kinds.js';
import { objectStorageSettings, s3Access } from './object-storage.js';
import { section } from './setting.js';

/** The relay's ng control address; also the gateway's relay when VOXGATE_GATEWAY_MEDIA_RELAYS is unset. */
export const mediaNgSetting = hostPort({
  description: 'media relay ng control address (UDP)',
  default: '127.0.0.1:22222',
});

/** The `media-relay` module: ng control, RTP ports, idle sessions, recordings. */
export const mediaRelaySection = section({
  name: 'media-relay',
  settings: {
    VOXGATE_MEDIA_NG: mediaNgSetting,
    VOXGATE_RTP_PORT_MIN: integer({
      min: 1024,
      max: 65534,
      description: 'lowest RTP port of the relay',
      default: 30000,
    }),
    VOXGATE_RTP_PORT_MAX: integer({
      min: 1025,
      max: 65535,
      description: 'highest RTP port of the relay',
      default: 40000,
    }),
    VOXGATE_MEDIA_UDP: choice(['auto', 'native', 'dgram'], {
      description:
        "the relay's RTP sockets: native = batched recvmmsg/sendmmsg through the addon dist/native/udp-batch.node " +
        '(Linux; start fails without it), dgram = Node.js dgram, auto = native when the addon loads, else dgram',
      default: 'auto',
    }),
    VOXGATE_ADVERTISED_ADDRESS: advertisedAddressSetting,
    VOXGATE_MEDIA_ADVERTISED_ADDRESS: optional(
      text({
        type: 'address',
        expects: 'an IPv4 or IPv6 address',
        pattern: /^[0-9A-Fa-f.:]+$/,
        description: 'address the relay puts in SDP; unset = VOXGATE_ADVERTISED_ADDRESS',
      }),
    ),
    VOXGATE_RELAY_IDLE_SESSION_SECONDS: integer({
      min: 0,
      max: 3600,
      unit: 'seconds',
      zero: 'off',
      description:
        'the relay ends a session (call) that had no packet and no ng command for this long and frees its ports; ' +
        'not the gateway hangup (VOXGATE_CALL_NO_RTP_HANGUP_SECONDS)',
      default: 60,
      deprecatedNames: ['VOXGATE_MEDIA_TIMEOUT_SECONDS'],
    }),
    VOXGATE_RECORDINGS_URL: optional(
      s3Url({
        description:
          'where the media relay stores call recordings; unset = the folder VOXGATE_DATA_DIR/recordings',
      }),
    ),
    ...objectStorageSettings,
  },
  check(v) {
    return v.VOXGATE_RTP_PORT_MIN >= v.VOXGATE_RTP_PORT_MAX
      ? `VOXGATE_RTP_PORT_MIN=${v.VOXGATE_RTP_PORT_MIN} is invalid: expected less than VOXGATE_RTP_PORT_MAX=${v.VOXGATE_RTP_PORT_MAX}`
      : undefined;
  },
  build: (v) => ({
    media: {
      ng: v.VOXGATE_MEDIA_NG,
      rtpPortMin: v.VOXGATE_RTP_PORT_MIN,
      rtpPortMax: v.VOXGATE_RTP_PORT_MAX,
      /** Which UDP sockets carry RTP: `relaySockets()` in the media layer resolves it. */
      udp: v.VOXGATE_MEDIA_UDP,
      /** Unset = the ng host, or for a wildcard the machine's (`defaultAdvertisedHost`), as for SIP. */
      advertisedAddress: v.VOXGATE_MEDIA_ADVERTISED_ADDRESS ?? v.VOXGATE_ADVERTISED_ADDRESS,
      /** The relay's own timeout: an idle session is ended; the gateway's hangup is `calls.noRtpHangupMs`. */
      idleSessionMs: v.VOXGATE_RELAY_IDLE_SESSION_SECONDS * 1000,
      /** S3 destination of recordings; unset = a local folder. */
      recordings: v.VOXGATE_RECORDINGS_URL ? { url: v.VOXGATE_RECORDINGS_URL, ...s3Access(v) } : undefined,
    },
  }),
});
