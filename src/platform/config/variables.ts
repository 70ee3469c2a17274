import { z } from 'zod';
import { parseApiToken } from '../../store/index.js';

/**
 * Every setting voxgate reads, as `VOXGATE_*` environment variables. One table: the schema that validates
 * the raw string, what an operator may write (used in the one-line error), the default, and whether the
 * value is a secret (masked by `voxgate config print`).
 */
export interface VariableSpec<T> {
  readonly schema: z.ZodType<T>;
  readonly expects: string;
  readonly description: string;
  readonly default?: string;
  readonly secret?: boolean;
}

const port = z.coerce.number().int().min(0).max(65535);
const seconds = z.coerce.number().int().min(0).max(86_400);
const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/)
  .transform((value) => {
    const colon = value.lastIndexOf(':');
    return { host: value.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(value.slice(colon + 1)) };
  })
  .refine((v) => v.port <= 65535);
const urlWithScheme = (schemes: readonly string[]) =>
  z.string().refine((value) => {
    try {
      return schemes.includes(new URL(value).protocol.slice(0, -1));
    } catch {
      return false;
    }
  });

function spec<T>(s: VariableSpec<T>): VariableSpec<T> {
  return s;
}

export const variables = {
  VOXGATE_ENV: spec({
    schema: z.enum(['dev', 'test', 'staging', 'production']),
    expects: 'one of dev, test, staging, production',
    description: 'deployment environment (labels logs and metrics)',
    default: 'dev',
  }),
  VOXGATE_LOG_LEVEL: spec({
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    expects: 'one of fatal, error, warn, info, debug, trace, silent',
    description: 'log level of the JSON logs on stdout',
    default: 'info',
  }),
  VOXGATE_DATA_DIR: spec({
    schema: z.string().min(1),
    expects: 'a directory path',
    description: 'where embedded state lives (PGlite database, local recordings)',
    default: './data',
  }),
  VOXGATE_DATABASE_URL: spec({
    schema: urlWithScheme(['postgres', 'postgresql']).optional(),
    expects: 'a postgres:// or postgresql:// URL',
    description: 'PostgreSQL; unset = embedded PGlite in VOXGATE_DATA_DIR',
    secret: true,
  }),
  VOXGATE_TRACES_OTLP_ENDPOINT: spec({
    schema: urlWithScheme(['http', 'https']).optional(),
    expects: 'an http:// or https:// URL (the OTLP/HTTP receiver, e.g. http://tempo:4318)',
    description: 'OpenTelemetry traces of calls posted to <url>/v1/traces; unset = no tracing',
  }),
  VOXGATE_DATABASE_POOL_SIZE: spec({
    schema: z.coerce.number().int().min(1).max(200),
    expects: 'an integer from 1 to 200',
    description: 'PostgreSQL connections per process',
    default: '10',
  }),
  VOXGATE_REDIS_URL: spec({
    schema: urlWithScheme(['redis', 'rediss', 'redis+cluster', 'redis+sentinel']).optional(),
    expects: 'a redis://, rediss://, redis+cluster:// or redis+sentinel:// URL',
    description: 'Redis for shared state; unset = in-process memory (single instance only)',
    secret: true,
  }),
  VOXGATE_SIP_HOST: spec({
    schema: z.string().min(1),
    expects: 'an IP address to bind',
    description: 'SIP listen address',
    default: '0.0.0.0',
  }),
  VOXGATE_SIP_PORT: spec({
    schema: port,
    expects: 'an integer port from 0 to 65535',
    description: 'SIP port, UDP and TCP',
    default: '5060',
  }),
  VOXGATE_SIP_TLS_PORT: spec({
    schema: port,
    expects: 'an integer port from 0 to 65535',
    description: 'SIP over TLS port (listens only when certificate and key are set)',
    default: '5061',
  }),
  VOXGATE_SIP_WS_PORT: spec({
    schema: z.coerce.number().int().min(1).max(65535).optional(),
    expects: 'an integer port from 1 to 65535',
    description: 'SIP over WebSocket (RFC 7118) for browser/WebRTC clients; unset = no WebSocket listener',
  }),
  VOXGATE_SIP_WSS_PORT: spec({
    schema: z.coerce.number().int().min(1).max(65535).optional(),
    expects: 'an integer port from 1 to 65535',
    description: 'SIP over secure WebSocket (wss), with the TLS certificate and key; unset = none',
  }),
  VOXGATE_SIP_TLS_CERT: spec({
    schema: z.string().min(1).optional(),
    expects: 'a path to a PEM certificate chain',
    description: 'certificate for SIP over TLS',
  }),
  VOXGATE_SIP_TLS_KEY: spec({
    schema: z.string().min(1).optional(),
    expects: 'a path to a PEM private key',
    description: 'private key for SIP over TLS',
    secret: true,
  }),
  VOXGATE_SIP_REGISTER_MIN_EXPIRES: spec({
    schema: z.coerce.number().int().min(1).max(3600),
    expects: 'an integer number of seconds from 1 to 3600',
    description: 'shortest registration accepted (shorter gets 423 Interval Too Brief)',
    default: '60',
  }),
  VOXGATE_SIP_REGISTER_MAX_EXPIRES: spec({
    schema: z.coerce.number().int().min(60).max(86_400),
    expects: 'an integer number of seconds from 60 to 86400',
    description: 'longest registration granted (longer requests are shortened)',
    default: '3600',
  }),
  VOXGATE_SIP_AUTH_BAN_THRESHOLD: spec({
    schema: z.coerce.number().int().min(1).max(10_000),
    expects: 'an integer from 1 to 10000',
    description: 'failed SIP authentications from one address before it is refused',
    default: '10',
  }),
  VOXGATE_SIP_AUTH_BAN_SECONDS: spec({
    schema: z.coerce.number().int().min(1).max(86_400),
    expects: 'an integer number of seconds from 1 to 86400',
    description: 'how long failures are counted and an address stays refused',
    default: '300',
  }),
  VOXGATE_SIP_DIGEST_ALGORITHMS: spec({
    schema: z
      .string()
      .regex(/^(SHA-256|MD5)(,(SHA-256|MD5))?$/)
      .transform((v) => [...new Set(v.split(','))] as ('SHA-256' | 'MD5')[]),
    expects: 'SHA-256, MD5, or both comma-separated in order of preference',
    description:
      'digest challenges offered, preferred first (MD5 first for UAs that read only the first one)',
    default: 'SHA-256,MD5',
  }),
  VOXGATE_SIP_NONCE_SECRET: spec({
    schema: z.string().min(32).optional(),
    expects: 'at least 32 characters',
    description: 'key of SIP digest nonces, the same on every gateway replica; unset = random per process',
    secret: true,
  }),
  VOXGATE_SIP_ADVERTISED_HOST: spec({
    schema: z
      .string()
      .regex(/^[A-Za-z0-9.:-]+$/)
      .optional(),
    expects: 'an IP address or host name',
    description:
      'address put in Via and Contact; unset = VOXGATE_SIP_HOST, or the first external IPv4 for 0.0.0.0',
  }),
  VOXGATE_SIP_KEEPALIVE_SECONDS: spec({
    schema: z.coerce.number().int().min(0).max(3600),
    expects: 'an integer number of seconds from 0 (off) to 3600',
    description:
      'how often registered UAs are pinged (OPTIONS on UDP, CRLF on TCP/TLS); dead ones are dropped',
    default: '30',
  }),
  VOXGATE_TRUNK_CHECK_SECONDS: spec({
    schema: z.coerce.number().int().min(0).max(3600),
    expects: 'an integer number of seconds from 0 (off) to 3600',
    description:
      'how often each trunk gets an OPTIONS health check; an unanswered one leaves routing; 0 = never',
    default: '30',
  }),
  VOXGATE_DIRECTORY_CACHE_SECONDS: spec({
    schema: z.coerce.number().int().min(0).max(3600),
    expects: 'an integer number of seconds from 0 (no cache) to 3600',
    description:
      'how long the gateway keeps tenants, users, trunks, numbers and routes read from the store; API changes ' +
      'drop the cache at once (provisioning change stream), this bounds staleness if an announcement is lost',
    default: '60',
  }),
  VOXGATE_TRUNK_REGISTER_EXPIRES_SECONDS: spec({
    schema: z.coerce.number().int().min(60).max(86_400),
    expects: 'an integer number of seconds from 60 to 86400',
    description:
      'expiration asked of carriers for trunks with register set (refreshed at a third of what they grant)',
    default: '600',
  }),
  VOXGATE_CALL_RING_TIMEOUT_SECONDS: spec({
    schema: z.coerce.number().int().min(1).max(600),
    expects: 'an integer number of seconds from 1 to 600',
    description: 'a call not answered after this long is cancelled (480 to the caller)',
    default: '60',
  }),
  VOXGATE_CALL_MAX_DURATION_SECONDS: spec({
    schema: z.coerce.number().int().min(1).max(86_400),
    expects: 'an integer number of seconds from 1 to 86400',
    description: 'an answered call is ended on both legs after this long',
    default: '14400',
  }),
  VOXGATE_CALL_MEDIA_TIMEOUT_SECONDS: spec({
    schema: z.coerce.number().int().min(0).max(3600),
    expects: 'an integer number of seconds from 0 (off) to 3600',
    description: 'an anchored call with no RTP through the relay for this long is ended; 0 = never',
    default: '60',
  }),
  VOXGATE_GATEWAY_MEDIA_RELAYS: spec({
    schema: z
      .string()
      .regex(
        /^(off|(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}(,(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5})*)$/,
      )
      .optional(),
    expects: "'off' or a comma list of ng addresses host:port (voxgate relays or RTPengine)",
    description: 'media relays the gateway anchors calls on; unset = VOXGATE_MEDIA_NG; off = no anchoring',
  }),
  VOXGATE_API_HOST: spec({
    schema: z.string().min(1),
    expects: 'an IP address to bind',
    description: 'HTTP listen address (API, /healthz, /readyz, /metrics)',
    default: '0.0.0.0',
  }),
  VOXGATE_API_PORT: spec({
    schema: port,
    expects: 'an integer port from 0 to 65535',
    description: 'HTTP port',
    default: '8080',
  }),
  VOXGATE_API_RATE_LIMIT_PER_MINUTE: spec({
    schema: z.coerce.number().int().min(0).max(1_000_000),
    expects: 'an integer from 0 to 1000000',
    description: 'API requests per minute per API key, counted across replicas in shared state; 0 = no limit',
    default: '600',
  }),
  VOXGATE_MEDIA_NG: spec({
    schema: hostPort,
    expects: 'host:port, e.g. 127.0.0.1:22222',
    description: 'media relay ng control address (UDP)',
    default: '127.0.0.1:22222',
  }),
  VOXGATE_RTP_PORT_MIN: spec({
    schema: z.coerce.number().int().min(1024).max(65534),
    expects: 'an integer from 1024 to 65534',
    description: 'lowest RTP port of the relay',
    default: '30000',
  }),
  VOXGATE_RTP_PORT_MAX: spec({
    schema: z.coerce.number().int().min(1025).max(65535),
    expects: 'an integer from 1025 to 65535',
    description: 'highest RTP port of the relay',
    default: '40000',
  }),
  VOXGATE_MEDIA_ADVERTISED_ADDRESS: spec({
    schema: z
      .string()
      .regex(/^[0-9A-Fa-f.:]+$/)
      .optional(),
    expects: 'an IPv4 or IPv6 address',
    description:
      'address the relay puts in SDP; unset = the VOXGATE_MEDIA_NG host, or the first external IPv4 for 0.0.0.0',
  }),
  VOXGATE_MEDIA_TIMEOUT_SECONDS: spec({
    schema: z.coerce.number().int().min(0).max(3600),
    expects: 'an integer number of seconds from 0 (off) to 3600',
    description: 'the relay deletes a call with no packet and no command for this long; 0 = never',
    default: '60',
  }),
  VOXGATE_RECORDINGS_URL: spec({
    schema: z
      .string()
      .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/)
      .optional(),
    expects: 'an s3://bucket[/prefix] URL',
    description:
      'where the media relay stores call recordings; unset = the folder VOXGATE_DATA_DIR/recordings',
  }),
  VOXGATE_BACKUP_URL: spec({
    schema: z
      .string()
      .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/)
      .optional(),
    expects: 'an s3://bucket[/prefix] URL',
    description:
      'where the worker stores database backups (pg_dump); unset = the folder VOXGATE_DATA_DIR/backups',
  }),
  VOXGATE_BACKUP_INTERVAL_HOURS: spec({
    schema: z.coerce.number().int().min(0).max(596),
    expects: 'an integer number of hours from 0 (off) to 596',
    description: 'how often the worker backs up PostgreSQL (not PGlite: back up VOXGATE_DATA_DIR); 0 = never',
    default: '24',
  }),
  VOXGATE_RESTORE_TEST_INTERVAL_DAYS: spec({
    schema: z.coerce.number().int().min(0).max(24),
    expects: 'an integer number of days from 0 (off) to 24',
    description:
      'how often the worker restores the latest backup into a scratch database and checks it; 0 = never',
    default: '7',
  }),
  VOXGATE_S3_ENDPOINT: spec({
    schema: urlWithScheme(['http', 'https']).optional(),
    expects: 'an http:// or https:// URL',
    description:
      'an S3-compatible endpoint (MinIO, Ceph) for VOXGATE_RECORDINGS_URL and VOXGATE_BACKUP_URL; unset = AWS S3',
  }),
  VOXGATE_S3_REGION: spec({
    schema: z.string().regex(/^[a-z0-9-]+$/),
    expects: 'a region name such as eu-west-1',
    description: 'the S3 region (credentials come from the AWS SDK default chain: env, IRSA, instance role)',
    default: 'us-east-1',
  }),
  VOXGATE_S3_FORCE_PATH_STYLE: spec({
    schema: z.enum(['auto', 'true', 'false']),
    expects: 'auto, true or false',
    description:
      'bucket in the URL path rather than the host name; auto = true when VOXGATE_S3_ENDPOINT is set',
    default: 'auto',
  }),
  VOXGATE_SHUTDOWN_GRACE_SECONDS: spec({
    schema: seconds,
    expects: 'an integer number of seconds from 0 to 86400',
    description: 'on SIGTERM, how long running work may finish before exit',
    default: '30',
  }),
  VOXGATE_AUDIT_RETENTION_DAYS: spec({
    schema: z.coerce.number().int().min(1).max(3650),
    expects: 'an integer number of days from 1 to 3650',
    description: 'how long the audit log is kept before the worker purges it',
    default: '365',
  }),
  VOXGATE_CDR_RETENTION_DAYS: spec({
    schema: z.coerce.number().int().min(1).max(3650),
    expects: 'an integer number of days from 1 to 3650',
    description: 'how long CDRs are kept before the worker purges them',
    default: '730',
  }),
  VOXGATE_ADMIN_API_KEY: spec({
    schema: z
      .string()
      .refine((token) => parseApiToken(token) !== undefined)
      .optional(),
    expects: 'a key of the form vxg_<id>_<secret>: id 4-32 letters or digits, secret 20-128 of [A-Za-z0-9_-]',
    description: 'platform admin API key created on an empty store; unset = generated and printed once',
    secret: true,
  }),
} as const;

export type VariableName = keyof typeof variables;
export const variableNames = Object.keys(variables) as VariableName[];
