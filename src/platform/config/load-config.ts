import { ConfigError } from './config-error.js';
import { variableNames, variables, type VariableName } from './variables.js';

type Parsed = { [K in VariableName]: (typeof variables)[K]['schema']['_output'] };

/** The effective, validated configuration of one voxgate process. */
export interface Config {
  readonly env: Parsed['VOXGATE_ENV'];
  readonly logLevel: Parsed['VOXGATE_LOG_LEVEL'];
  /** OTLP/HTTP endpoint for traces; unset = tracing off. */
  readonly tracesEndpoint?: string;
  readonly dataDir: string;
  readonly database: { readonly url?: string; readonly poolSize: number };
  readonly redis: { readonly url?: string };
  readonly sip: {
    readonly host: string;
    readonly port: number;
    readonly tls?: { readonly port: number; readonly certFile: string; readonly keyFile: string };
    readonly wsPort?: number;
    readonly wssPort?: number;
    readonly register: { readonly minExpires: number; readonly maxExpires: number };
    readonly authBan: { readonly threshold: number; readonly seconds: number };
    readonly nonceSecret?: string;
    readonly digestAlgorithms: readonly ('SHA-256' | 'MD5')[];
    readonly advertisedHost?: string;
    readonly keepaliveMs: number;
  };
  readonly calls: {
    readonly ringTimeoutMs: number;
    readonly maxDurationMs: number;
    readonly mediaTimeoutMs: number;
    readonly trunkCheckMs: number;
    readonly trunkRegisterExpiresSec: number;
    /** How long store lookups are cached by the gateway; 0 = not cached. */
    readonly directoryCacheMs: number;
    /** ng addresses the gateway anchors media on; empty = no anchoring. */
    readonly relays: readonly { readonly host: string; readonly port: number }[];
  };
  readonly http: { readonly host: string; readonly port: number };
  readonly api: { readonly rateLimitPerMinute: number };
  readonly media: {
    readonly ng: { readonly host: string; readonly port: number };
    readonly rtpPortMin: number;
    readonly rtpPortMax: number;
    readonly advertisedAddress?: string;
    readonly timeoutMs: number;
    /** S3 destination of recordings; unset = a local folder. */
    readonly recordings?: {
      readonly url: string;
      readonly endpoint?: string;
      readonly region: string;
      readonly forcePathStyle: boolean;
    };
  };
  readonly backups: {
    /** S3 destination; unset = a folder under the data directory. */
    readonly s3?: {
      readonly url: string;
      readonly endpoint?: string;
      readonly region: string;
      readonly forcePathStyle: boolean;
    };
    readonly intervalMs: number;
    readonly restoreTestIntervalMs: number;
  };
  readonly shutdownGraceMs: number;
  readonly auditRetentionDays: number;
  readonly cdrRetentionDays: number;
  readonly adminApiKey?: string;
}

/** Variables that share the prefix but are not settings of the process. */
const NOT_SETTINGS = /^VOXGATE_(TEST_|TARGET$)/;

/**
 * Validates `VOXGATE_*` variables. The first problem found is thrown as a ConfigError whose message is one
 * line naming the variable, the value given (masked if secret) and what is allowed.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  for (const key of Object.keys(env)) {
    if (key.startsWith('VOXGATE_') && !NOT_SETTINGS.test(key) && !(key in variables)) {
      const hint = closest(key);
      throw new ConfigError(
        'CONFIG_UNKNOWN_VARIABLE',
        `unknown setting ${key}${hint ? ` (did you mean ${hint}?)` : ''}; run 'voxgate --help' for the list`,
      );
    }
  }
  const v = {} as Record<VariableName, unknown>;
  for (const name of variableNames) {
    const s = variables[name];
    const given = env[name];
    const raw = given === undefined || given === '' ? s.default : given;
    const result = s.schema.safeParse(raw);
    if (!result.success) {
      const shown = 'secret' in s && s.secret ? '(secret, not shown)' : JSON.stringify(raw);
      throw new ConfigError('CONFIG_INVALID_VALUE', `${name}=${shown} is invalid: expected ${s.expects}`);
    }
    v[name] = result.data;
  }
  const p = v as Parsed;
  // S3 access shared by recordings and backups: endpoint, region, addressing style.
  const s3Access = {
    ...(p.VOXGATE_S3_ENDPOINT ? { endpoint: p.VOXGATE_S3_ENDPOINT } : {}),
    region: p.VOXGATE_S3_REGION,
    forcePathStyle:
      p.VOXGATE_S3_FORCE_PATH_STYLE === 'auto'
        ? p.VOXGATE_S3_ENDPOINT !== undefined
        : p.VOXGATE_S3_FORCE_PATH_STYLE === 'true',
  };
  if (p.VOXGATE_RTP_PORT_MIN >= p.VOXGATE_RTP_PORT_MAX) {
    throw new ConfigError(
      'CONFIG_INVALID_VALUE',
      `VOXGATE_RTP_PORT_MIN=${p.VOXGATE_RTP_PORT_MIN} is invalid: expected less than VOXGATE_RTP_PORT_MAX=${p.VOXGATE_RTP_PORT_MAX}`,
    );
  }
  if (p.VOXGATE_SIP_WSS_PORT !== undefined && !p.VOXGATE_SIP_TLS_CERT) {
    throw new ConfigError(
      'CONFIG_INVALID_VALUE',
      `VOXGATE_SIP_WSS_PORT=${p.VOXGATE_SIP_WSS_PORT} is invalid: wss needs VOXGATE_SIP_TLS_CERT and VOXGATE_SIP_TLS_KEY`,
    );
  }
  if (Boolean(p.VOXGATE_SIP_TLS_CERT) !== Boolean(p.VOXGATE_SIP_TLS_KEY)) {
    const missing = p.VOXGATE_SIP_TLS_CERT ? 'VOXGATE_SIP_TLS_KEY' : 'VOXGATE_SIP_TLS_CERT';
    throw new ConfigError(
      'CONFIG_INVALID_VALUE',
      `${missing} is missing: SIP over TLS needs both VOXGATE_SIP_TLS_CERT and VOXGATE_SIP_TLS_KEY`,
    );
  }
  return {
    env: p.VOXGATE_ENV,
    logLevel: p.VOXGATE_LOG_LEVEL,
    tracesEndpoint: p.VOXGATE_TRACES_OTLP_ENDPOINT,
    dataDir: p.VOXGATE_DATA_DIR,
    database: { url: p.VOXGATE_DATABASE_URL, poolSize: p.VOXGATE_DATABASE_POOL_SIZE },
    redis: { url: p.VOXGATE_REDIS_URL },
    sip: {
      host: p.VOXGATE_SIP_HOST,
      port: p.VOXGATE_SIP_PORT,
      tls:
        p.VOXGATE_SIP_TLS_CERT && p.VOXGATE_SIP_TLS_KEY
          ? { port: p.VOXGATE_SIP_TLS_PORT, certFile: p.VOXGATE_SIP_TLS_CERT, keyFile: p.VOXGATE_SIP_TLS_KEY }
          : undefined,
      register: {
        minExpires: p.VOXGATE_SIP_REGISTER_MIN_EXPIRES,
        maxExpires: p.VOXGATE_SIP_REGISTER_MAX_EXPIRES,
      },
      authBan: { threshold: p.VOXGATE_SIP_AUTH_BAN_THRESHOLD, seconds: p.VOXGATE_SIP_AUTH_BAN_SECONDS },
      nonceSecret: p.VOXGATE_SIP_NONCE_SECRET,
      digestAlgorithms: p.VOXGATE_SIP_DIGEST_ALGORITHMS,
      advertisedHost: p.VOXGATE_SIP_ADVERTISED_HOST,
      wsPort: p.VOXGATE_SIP_WS_PORT,
      wssPort: p.VOXGATE_SIP_WSS_PORT,
      keepaliveMs: p.VOXGATE_SIP_KEEPALIVE_SECONDS * 1000,
    },
    calls: {
      ringTimeoutMs: p.VOXGATE_CALL_RING_TIMEOUT_SECONDS * 1000,
      maxDurationMs: p.VOXGATE_CALL_MAX_DURATION_SECONDS * 1000,
      mediaTimeoutMs: p.VOXGATE_CALL_MEDIA_TIMEOUT_SECONDS * 1000,
      trunkCheckMs: p.VOXGATE_TRUNK_CHECK_SECONDS * 1000,
      trunkRegisterExpiresSec: p.VOXGATE_TRUNK_REGISTER_EXPIRES_SECONDS,
      directoryCacheMs: p.VOXGATE_DIRECTORY_CACHE_SECONDS * 1000,
      relays: relayList(p.VOXGATE_GATEWAY_MEDIA_RELAYS, p.VOXGATE_MEDIA_NG),
    },
    http: { host: p.VOXGATE_API_HOST, port: p.VOXGATE_API_PORT },
    api: { rateLimitPerMinute: p.VOXGATE_API_RATE_LIMIT_PER_MINUTE },
    media: {
      ng: p.VOXGATE_MEDIA_NG,
      rtpPortMin: p.VOXGATE_RTP_PORT_MIN,
      rtpPortMax: p.VOXGATE_RTP_PORT_MAX,
      advertisedAddress: p.VOXGATE_MEDIA_ADVERTISED_ADDRESS,
      timeoutMs: p.VOXGATE_MEDIA_TIMEOUT_SECONDS * 1000,
      ...(p.VOXGATE_RECORDINGS_URL ? { recordings: { url: p.VOXGATE_RECORDINGS_URL, ...s3Access } } : {}),
    },
    backups: {
      ...(p.VOXGATE_BACKUP_URL ? { s3: { url: p.VOXGATE_BACKUP_URL, ...s3Access } } : {}),
      intervalMs: p.VOXGATE_BACKUP_INTERVAL_HOURS * 3_600_000,
      restoreTestIntervalMs: p.VOXGATE_RESTORE_TEST_INTERVAL_DAYS * 86_400_000,
    },
    shutdownGraceMs: p.VOXGATE_SHUTDOWN_GRACE_SECONDS * 1000,
    auditRetentionDays: p.VOXGATE_AUDIT_RETENTION_DAYS,
    cdrRetentionDays: p.VOXGATE_CDR_RETENTION_DAYS,
    adminApiKey: p.VOXGATE_ADMIN_API_KEY,
  };
}

/** `off` → none; unset → the media relay's own ng address; else the comma list. */
function relayList(
  value: string | undefined,
  ownRelay: { host: string; port: number },
): { host: string; port: number }[] {
  if (value === 'off') return [];
  if (value === undefined) return [ownRelay];
  return value.split(',').map((item) => {
    const colon = item.lastIndexOf(':');
    return { host: item.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(item.slice(colon + 1)) };
  });
}

/** The nearest known name by edit distance, if it is close enough to be a typo. */
function closest(key: string): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of variableNames) {
    const d = editDistance(key, name);
    if (!best || d < best.d) best = { name, d };
  }
  return best && best.d <= 3 ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
