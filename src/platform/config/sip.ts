import { advertisedAddressSetting } from './general.js';
import { choice, custom, integer, optional, port, text } from './kinds.js';
import { section } from './setting.js';

type DigestAlgorithm = 'SHA-256' | 'MD5';

/** `SHA-256`, `MD5`, or both in order of preference. */
function digestAlgorithms(raw: string): DigestAlgorithm[] | undefined {
  if (!/^(SHA-256|MD5)(,(SHA-256|MD5))?$/.test(raw)) return undefined;
  return [...new Set(raw.split(',') as DigestAlgorithm[])];
}

/** A number of SIP worker processes, or `auto`. */
function sipWorkers(raw: string): number | 'auto' | undefined {
  if (raw === 'auto') return 'auto';
  return /^[1-9][0-9]{0,2}$/.test(raw) ? Number(raw) : undefined;
}

/**
 * The SIP UDP socket's receive buffer asked by default, KiB. Linux grants min(asked, net.core.rmem_max) and
 * doubles it for its bookkeeping, so on a stock kernel (rmem_max 208 KiB) this is twice the system's default and
 * on a host whose rmem_max allows it twenty times. Measured (docs/performance.md, "the SIP socket's buffer" and
 * "Run of 2026-12-06 13:12–14:40"): the system's default dropped the 180 and 200 of 0.1–0.8 % of calls at
 * 1,600–2,000 calls/s through a garbage collection's pause, 512 KiB of 0.1–0.3 % at 3,600–4,400/s, this size
 * none; its full queue (about 3,000 datagrams) drains in about 100 ms at the gateway's rate, under T1, where a
 * queue longer than T1 makes every client retransmit what is still queued.
 */
export const DEFAULT_SIP_UDP_RECEIVE_BUFFER_KB = 2048;

const secret = (description: string) =>
  optional(
    text({ type: 'text', expects: 'at least 32 characters', minLength: 32, description, secret: true }),
  );

/** The `sip-gateway` module's listeners, registrar and digest authentication. */
export const sipSection = section({
  name: 'sip-gateway',
  settings: {
    VOXGATE_SIP_HOST: text({
      type: 'address',
      expects: 'an IP address to bind',
      description: 'SIP listen address; 0.0.0.0 = every interface, for phones on other machines',
      default: '127.0.0.1',
    }),
    VOXGATE_SIP_PORT: port({ description: 'SIP port, UDP and TCP', default: 5060 }),
    VOXGATE_SIP_TLS_PORT: port({
      description: 'SIP over TLS port (listens only when certificate and key are set)',
      default: 5061,
    }),
    VOXGATE_SIP_WS_PORT: port({
      description:
        'SIP over WebSocket (RFC 7118) for browsers (WebRTC); on VOXGATE_SIP_HOST like the other SIP ports; 0 = no WebSocket listener',
      default: 5066,
    }),
    VOXGATE_SIP_WSS_PORT: optional(
      port({
        min: 1,
        description: 'SIP over secure WebSocket (wss), with the TLS certificate and key; unset = none',
      }),
    ),
    VOXGATE_SIP_TLS_CERT: optional(
      text({
        type: 'path',
        expects: 'a path to a PEM certificate chain',
        description: 'certificate for SIP over TLS',
      }),
    ),
    VOXGATE_SIP_TLS_KEY: optional(
      text({
        type: 'path',
        expects: 'a path to a PEM private key',
        description: 'private key for SIP over TLS',
        secret: true,
      }),
    ),
    VOXGATE_SIP_REGISTER_MIN_EXPIRES: integer({
      min: 1,
      max: 3600,
      unit: 'seconds',
      description: 'shortest registration accepted (shorter gets 423 Interval Too Brief)',
      default: 60,
    }),
    VOXGATE_SIP_REGISTER_MAX_EXPIRES: integer({
      min: 60,
      max: 86_400,
      unit: 'seconds',
      description: 'longest registration granted (longer requests are shortened)',
      default: 3600,
    }),
    VOXGATE_SIP_REGISTER_MAX_CONTACTS: integer({
      min: 1,
      max: 100,
      description:
        'contacts one user may have registered at once; a new one beyond replaces the one expiring first (every call forks to all of them)',
      default: 10,
    }),
    VOXGATE_SIP_AUTH_BAN_THRESHOLD: integer({
      min: 1,
      max: 10_000,
      description: 'failed SIP authentications from one address before it is refused',
      default: 10,
    }),
    VOXGATE_SIP_AUTH_BAN_SECONDS: integer({
      min: 1,
      max: 86_400,
      unit: 'seconds',
      description: 'how long failures are counted and an address stays refused',
      default: 300,
    }),
    VOXGATE_SIP_DIGEST_ALGORITHMS: custom(digestAlgorithms, {
      type: 'list',
      expects: 'SHA-256, MD5, or both comma-separated in order of preference',
      description:
        'digest challenges offered, preferred first, where the tenant or user has no sipDigestAlgorithms of its ' +
        'own; MD5 alone by default: many phones read only the first challenge or fail on SHA-256',
      default: 'MD5',
    }),
    VOXGATE_SIP_NONCE_SECRET: secret(
      'key of SIP digest nonces, the same on every gateway replica; unset = random per process',
    ),
    VOXGATE_SIP_PEER_SECRET: secret(
      'key that signs calls handed between gateway replicas (X-Voxgate-Peer), the same on every replica; ' +
        'unset = VOXGATE_SIP_NONCE_SECRET',
    ),
    VOXGATE_ADVERTISED_ADDRESS: advertisedAddressSetting,
    VOXGATE_SIP_ADVERTISED_ADDRESS: optional(
      text({
        type: 'address',
        expects: 'an IP address or host name',
        pattern: /^[A-Za-z0-9.:-]+$/,
        description: 'address put in SIP Via and Contact; unset = VOXGATE_ADVERTISED_ADDRESS',
        deprecatedNames: ['VOXGATE_SIP_ADVERTISED_HOST'],
      }),
    ),
    VOXGATE_SIP_WORKERS: custom(sipWorkers, {
      type: 'text',
      expects: "a number of processes from 1 to 999, or 'auto'",
      description:
        "SIP worker processes sharing the UDP port, each owning the calls whose Call-ID hashes to it; 'auto' = the " +
        'CPUs this process may use (its cgroup quota); more than 1 needs VOXGATE_REDIS_URL and --target=sip-gateway; ' +
        'TCP, TLS and WebSocket connections are held by the first worker, which the others send through; ' +
        'trunk OPTIONS checks and trunk registrations go from the first worker alone',
      default: '1',
    }),
    VOXGATE_SIP_KEEPALIVE_SECONDS: integer({
      min: 0,
      max: 3600,
      unit: 'seconds',
      zero: 'off',
      description:
        'how often registered UAs are pinged (OPTIONS on UDP, CRLF on TCP/TLS); dead ones are dropped',
      default: 30,
    }),
    VOXGATE_SIP_UDP_RECEIVE_BUFFER_KB: integer({
      min: 0,
      max: 65_536,
      zero: 'system default',
      description:
        "the SIP UDP socket's receive buffer asked, in KiB (Linux grants at most net.core.rmem_max); larger " +
        'holds datagrams through short stalls instead of dropping them, but a queue longer than T1 (500 ms) ' +
        'makes clients retransmit (docs/performance.md, UDP receive buffers); 0 = the system default',
      default: DEFAULT_SIP_UDP_RECEIVE_BUFFER_KB,
    }),
    VOXGATE_SIP_OVERLOAD_HEAP_PERCENT: integer({
      min: 0,
      max: 95,
      zero: 'never refuse',
      description:
        "past this percentage of the heap's old-generation cap (--max-old-space-size) alive after a full " +
        'collection, new requests outside a dialog are answered 503 with Retry-After until it falls 15 points ' +
        'under (to half the setting, for one under 30) (docs/reliability.md, Overload); 0 = never',
      default: 80,
    }),
    VOXGATE_SIP_UDP: choice(['auto', 'native', 'dgram'], {
      description:
        'the SIP UDP socket: native = batched recvmmsg/sendmmsg through the addon dist/native/udp-batch.node ' +
        '(Linux, one process: SIP workers share the socket through Node.js cluster and use dgram; start fails ' +
        'without it), dgram = Node.js dgram, auto = native when the addon loads and there is one SIP process',
      default: 'auto',
    }),
    // RFC 3261 §18: a connection is kept at least as long as a transaction may take, 64*T1 = 32 s.
    VOXGATE_SIP_STREAM_IDLE_SECONDS: integer({
      min: 32,
      max: 86_400,
      unit: 'seconds',
      description:
        'a TCP, TLS or WebSocket connection with no complete SIP message or keepalive for this long is closed; ' +
        'one a live registration came on is kept until the registration expires',
      default: 120,
    }),
    VOXGATE_SIP_STREAM_MESSAGE_TIMEOUT_SECONDS: integer({
      min: 1,
      max: 3600,
      unit: 'seconds',
      description:
        'a SIP message on TCP, TLS or WebSocket (and a TLS handshake, a WebSocket upgrade) must be complete this ' +
        'long after its first byte, else the connection is closed; bytes trickling in do not extend it',
      default: 20,
    }),
    VOXGATE_SIP_STREAM_MAX_CONNECTIONS: integer({
      min: 1,
      max: 1_000_000,
      description:
        'TCP, TLS and WebSocket connections accepted and open at once, all listeners together; more are closed at accept',
      default: 4096,
    }),
    VOXGATE_SIP_STREAM_MAX_PER_SOURCE: integer({
      min: 1,
      max: 1_000_000,
      description:
        'TCP, TLS and WebSocket connections from one source IP address open at once; more are closed at accept ' +
        '(raise it for many TCP phones behind one NAT)',
      default: 100,
    }),
  },
  check(v) {
    if (v.VOXGATE_SIP_WSS_PORT !== undefined && !v.VOXGATE_SIP_TLS_CERT) {
      return `VOXGATE_SIP_WSS_PORT=${v.VOXGATE_SIP_WSS_PORT} is invalid: wss needs VOXGATE_SIP_TLS_CERT and VOXGATE_SIP_TLS_KEY`;
    }
    if (Boolean(v.VOXGATE_SIP_TLS_CERT) !== Boolean(v.VOXGATE_SIP_TLS_KEY)) {
      const missing = v.VOXGATE_SIP_TLS_CERT ? 'VOXGATE_SIP_TLS_KEY' : 'VOXGATE_SIP_TLS_CERT';
      return `${missing} is missing: SIP over TLS needs both VOXGATE_SIP_TLS_CERT and VOXGATE_SIP_TLS_KEY`;
    }
    if (v.VOXGATE_SIP_STREAM_MAX_PER_SOURCE > v.VOXGATE_SIP_STREAM_MAX_CONNECTIONS) {
      return `VOXGATE_SIP_STREAM_MAX_PER_SOURCE=${v.VOXGATE_SIP_STREAM_MAX_PER_SOURCE} is invalid: expected at most VOXGATE_SIP_STREAM_MAX_CONNECTIONS=${v.VOXGATE_SIP_STREAM_MAX_CONNECTIONS}`;
    }
    if (v.VOXGATE_SIP_STREAM_MESSAGE_TIMEOUT_SECONDS > v.VOXGATE_SIP_STREAM_IDLE_SECONDS) {
      return `VOXGATE_SIP_STREAM_MESSAGE_TIMEOUT_SECONDS=${v.VOXGATE_SIP_STREAM_MESSAGE_TIMEOUT_SECONDS} is invalid: expected at most VOXGATE_SIP_STREAM_IDLE_SECONDS=${v.VOXGATE_SIP_STREAM_IDLE_SECONDS}`;
    }
    return undefined;
  },
  build: (v) => ({
    sip: {
      host: v.VOXGATE_SIP_HOST,
      port: v.VOXGATE_SIP_PORT,
      tls:
        v.VOXGATE_SIP_TLS_CERT && v.VOXGATE_SIP_TLS_KEY
          ? { port: v.VOXGATE_SIP_TLS_PORT, certFile: v.VOXGATE_SIP_TLS_CERT, keyFile: v.VOXGATE_SIP_TLS_KEY }
          : undefined,
      wsPort: v.VOXGATE_SIP_WS_PORT,
      wssPort: v.VOXGATE_SIP_WSS_PORT,
      register: {
        minExpires: v.VOXGATE_SIP_REGISTER_MIN_EXPIRES,
        maxExpires: v.VOXGATE_SIP_REGISTER_MAX_EXPIRES,
        maxContacts: v.VOXGATE_SIP_REGISTER_MAX_CONTACTS,
      },
      authBan: { threshold: v.VOXGATE_SIP_AUTH_BAN_THRESHOLD, seconds: v.VOXGATE_SIP_AUTH_BAN_SECONDS },
      nonceSecret: v.VOXGATE_SIP_NONCE_SECRET,
      /** Signs peer hops between replicas; unset = the nonce secret (deployments that predate it keep working). */
      peerSecret: v.VOXGATE_SIP_PEER_SECRET ?? v.VOXGATE_SIP_NONCE_SECRET,
      digestAlgorithms: v.VOXGATE_SIP_DIGEST_ALGORITHMS,
      /** Unset = the listen address, or for a wildcard the machine's (`defaultAdvertisedHost`). */
      advertisedAddress: v.VOXGATE_SIP_ADVERTISED_ADDRESS ?? v.VOXGATE_ADVERTISED_ADDRESS,
      keepaliveMs: v.VOXGATE_SIP_KEEPALIVE_SECONDS * 1000,
      /** Undefined: the system's default. */
      udpReceiveBufferBytes:
        v.VOXGATE_SIP_UDP_RECEIVE_BUFFER_KB === 0 ? undefined : v.VOXGATE_SIP_UDP_RECEIVE_BUFFER_KB * 1024,
      /** Undefined: new requests are never refused for the heap. */
      overloadHeapRatio:
        v.VOXGATE_SIP_OVERLOAD_HEAP_PERCENT === 0 ? undefined : v.VOXGATE_SIP_OVERLOAD_HEAP_PERCENT / 100,
      /** Which UDP socket carries SIP: `nativeUdpFor()` resolves it (in the SIP workers' primary with workers). */
      udp: v.VOXGATE_SIP_UDP,
      workers: v.VOXGATE_SIP_WORKERS,
      streams: {
        idleTimeoutMs: v.VOXGATE_SIP_STREAM_IDLE_SECONDS * 1000,
        messageTimeoutMs: v.VOXGATE_SIP_STREAM_MESSAGE_TIMEOUT_SECONDS * 1000,
        maxConnections: v.VOXGATE_SIP_STREAM_MAX_CONNECTIONS,
        maxConnectionsPerSource: v.VOXGATE_SIP_STREAM_MAX_PER_SOURCE,
      },
    },
  }),
});
