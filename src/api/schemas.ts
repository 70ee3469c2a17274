/**
 * JSON schemas shared by the routes: they validate requests (unknown properties refused), shape responses
 * (nothing outside them is serialized: a secret cannot leak by being added to a row) and make the OpenAPI
 * document.
 */
import { WEBHOOK_EVENT_TYPES } from '../store/index.js';

export const uuid = { type: 'string', format: 'uuid' } as const;
/** Every instant the API gives is ISO 8601 (RFC 3339, UTC): CDRs, live calls, keys, audit entries. */
export const dateTime = { type: 'string', format: 'date-time' } as const;

/*
 * Requests carry nothing PostgreSQL cannot store: these are the only string, integer and date-time schemas
 * of request fields (a value outside them would be a 500 from the database instead of a 400 naming the field).
 */

/** The largest PostgreSQL `integer` (int4): a larger value is refused by the database (SQLSTATE 22003). */
export const PG_INTEGER_MAX = 2_147_483_647;

/**
 * Text PostgreSQL can store: no NUL (U+0000, refused in text: 22021) and no unpaired surrogate (not UTF-8:
 * mangled in text, refused in the audit log's jsonb). Ajv compiles patterns with the `u` flag, so a valid
 * surrogate pair is one character here and passes.
 */
export const STORABLE_TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$';

/**
 * A date-time that is a real instant: `format: date-time` checks the calendar (no month 13, no February 30)
 * but lets a leap second (`23:59:60`) through, which no clock (nor JavaScript, nor PostgreSQL) can place.
 */
export const INSTANT_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-5][0-9]';

const storableText = new RegExp(STORABLE_TEXT_PATTERN, 'u');

/** Whether `value` is text PostgreSQL can store (for client input that no schema checks, like a cursor's content). */
export function isStorableText(value: string): boolean {
  return storableText.test(value);
}

interface TextLimits {
  minLength?: number;
  maxLength: number;
  description?: string;
}

/** A free-text request field (a name, a password, a cursor): storable text, always with a maximum length. */
export function text(limits: TextLimits) {
  return { type: 'string', pattern: STORABLE_TEXT_PATTERN, ...limits } as const;
}

/** `text` or null (null clears the field). */
export function nullableText(limits: TextLimits) {
  return { type: ['string', 'null'], pattern: STORABLE_TEXT_PATTERN, ...limits } as const;
}

interface IntegerLimits {
  minimum: number;
  /** At most the column's maximum; PostgreSQL `integer` when omitted. */
  maximum?: number;
  description?: string;
}

/**
 * The type once more after the range: Ajv coerces a string like "1e400" or "Infinity" (query strings, and
 * bodies too) to Infinity and then skips `minimum`/`maximum` for a value that is not finite; a second type
 * check refuses it.
 */
const finite = <T>(type: T) => ({ allOf: [{ type }] }) as const;

/** An integer request field stored in a PostgreSQL `integer` column. */
export function integer({ maximum = PG_INTEGER_MAX, ...rest }: IntegerLimits) {
  return {
    type: 'integer',
    maximum: Math.min(maximum, PG_INTEGER_MAX),
    ...rest,
    ...finite('integer' as const),
  } as const;
}

/** `integer` or null (null clears the field). */
export function nullableInteger({ maximum = PG_INTEGER_MAX, ...rest }: IntegerLimits) {
  return {
    type: ['integer', 'null'],
    maximum: Math.min(maximum, PG_INTEGER_MAX),
    ...rest,
    ...finite(['integer', 'null'] as const),
  } as const;
}

/** A date-time request field (RFC 3339) that is a real instant. */
export const instant = {
  type: 'string',
  format: 'date-time',
  pattern: INSTANT_PATTERN,
  maxLength: 64,
} as const;

/** A SIP Call-ID as a path parameter: real ones can be long. */
export const CALL_ID_MAX_LENGTH = 300;
export const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
const nullableInt = { type: ['integer', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;

export const tenantParams = {
  type: 'object',
  required: ['tenantId'],
  properties: { tenantId: uuid },
} as const;

export const tenantObjectParams = {
  type: 'object',
  required: ['tenantId', 'id'],
  properties: { tenantId: uuid, id: uuid },
} as const;

export const pageQueryProperties = {
  limit: integer({ minimum: 1, maximum: 500, description: 'items per page (default 50)' }),
  after: text({ maxLength: 400, description: 'the nextCursor of the previous page' }),
} as const;

export const pageQuery = {
  type: 'object',
  additionalProperties: false,
  properties: pageQueryProperties,
} as const;

export const roleSchema = { enum: ['admin', 'operator', 'viewer'] } as const;
export const e164Schema = { type: 'string', pattern: '^\\+[1-9][0-9]{1,14}$' } as const;
export const cidrSchema = { type: 'string', pattern: '^[0-9A-Fa-f.:]+/\\d{1,3}$' } as const;

/**
 * Where calls to a registered contact go: `auto` (behind NAT → the address and flow its REGISTER came from,
 * else its Contact), `force` (always the source), `off` (always the Contact). See docs/architecture.md, NAT.
 */
export const natSchema = {
  enum: ['auto', 'force', 'off'],
  description: 'auto: the source when behind NAT, else the Contact; force: the source; off: the Contact',
} as const;

/**
 * Whether the media of a user's, trunk's or route's calls is encrypted: SDES-SRTP (RFC 4568) or DTLS-SRTP
 * (RFC 5764). See docs/api.md, "Media encryption".
 */
export const mediaEncryptionSchema = {
  enum: ['auto', 'none', 'sdes', 'dtls'],
  description:
    'sdes: SDES-SRTP (RTP/SAVP with a=crypto) is required: calls to it are offered SRTP, its calls must ' +
    'offer SRTP (a plain RTP/AVP offer gets 488); dtls: DTLS-SRTP (UDP/TLS/RTP/SAVPF with a=fingerprint, ' +
    'ICE and rtcp-mux, as browsers speak) likewise; none and auto (default): calls to it are offered plain ' +
    'RTP (browsers on WebSocket always get DTLS-SRTP), its calls are answered in the profile they offer',
} as const;

/** A tenant's recording policy (docs/api.md, "Recordings"). */
export const recordingPolicySchema = {
  enum: ['off', 'always', 'on-demand'],
  description:
    "off (default): calls are not recorded, the API cannot start a recording; always: recorded from the call's " +
    'setup; on-demand: recorded when the API starts it (POST …/calls/live/{callId}/recording). A user or ' +
    "route that sets its own policy wins over the tenant's",
} as const;

/** A user's or a route's recording policy: null = the tenant's. */
export const nullableRecordingPolicySchema = {
  enum: ['off', 'always', 'on-demand', null],
  description:
    "the recording policy of the calls of this user (placed or received) or on this route; null (default) = the tenant's. The most specific set policy wins (the strongest of a call's user and route: always, on-demand, off)",
} as const;

/**
 * The digest challenges (RFC 8760) offered to a tenant's or a user's phones, preferred first; null inherits
 * (a user's from its tenant, a tenant's from VOXGATE_SIP_DIGEST_ALGORITHMS). See docs/api.md.
 */
export const digestAlgorithmsSchema = {
  type: ['array', 'null'],
  items: { enum: ['MD5', 'SHA-256'] },
  minItems: 1,
  maxItems: 2,
  uniqueItems: true,
  description:
    'digest challenges offered, preferred first (one challenge per algorithm); null = inherit (user → tenant → ' +
    'the platform setting VOXGATE_SIP_DIGEST_ALGORITHMS, MD5 by default)',
} as const;

export const problemSchema = {
  type: 'object',
  description: 'RFC 9457 problem details (application/problem+json)',
  required: ['type', 'title', 'status'],
  additionalProperties: true,
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    errors: {
      type: 'array',
      description: 'validation-failed: each invalid member of the request',
      items: {
        type: 'object',
        properties: {
          where: { enum: ['body', 'querystring', 'params', 'headers'] },
          pointer: { type: 'string', description: 'RFC 6901 JSON pointer into that part, e.g. /name' },
          detail: { type: 'string' },
        },
      },
    },
  },
} as const;

export const tenantSchema = {
  type: 'object',
  properties: {
    id: uuid,
    name: { type: 'string' },
    sipDomain: { type: 'string' },
    maxConcurrentCalls: nullableInt,
    maxCallsPerSecond: nullableInt,
    status: { enum: ['active', 'suspended'] },
    sipDigestAlgorithms: digestAlgorithmsSchema,
    recording: recordingPolicySchema,
  },
} as const;

export const userSchema = {
  type: 'object',
  properties: {
    id: uuid,
    tenantId: uuid,
    username: { type: 'string' },
    sipUri: { type: 'string' },
    displayName: nullableString,
    callerId: nullableString,
    enabled: { type: 'boolean' },
    maxConcurrentCalls: nullableInt,
    nat: natSchema,
    mediaEncryption: mediaEncryptionSchema,
    sipDigestAlgorithms: digestAlgorithmsSchema,
    recording: nullableRecordingPolicySchema,
    createdAt: dateTime,
  },
} as const;

export const trunkSchema = {
  type: 'object',
  description: 'a carrier; the outbound password is write-only',
  properties: {
    id: uuid,
    tenantId: uuid,
    name: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'integer' },
    transport: { enum: ['udp', 'tcp', 'tls'] },
    username: nullableString,
    hasPassword: { type: 'boolean' },
    inboundCidrs: { type: 'array', items: { type: 'string' } },
    register: { type: 'boolean' },
    enabled: { type: 'boolean' },
    maxConcurrentCalls: nullableInt,
    nat: natSchema,
    mediaEncryption: mediaEncryptionSchema,
    health: {
      type: 'object',
      description:
        "on reads: up when a gateway's last OPTIONS check reached the trunk, down when none did, unknown " +
        'without reports; per gateway, that check and the outbound registration (trunks with register set)',
      properties: {
        state: { enum: ['up', 'down', 'unknown'] },
        gateways: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              gateway: { type: 'string' },
              reachable: { type: 'boolean' },
              checkedAt: { type: 'string', format: 'date-time' },
              registration: {
                type: 'object',
                properties: {
                  state: { enum: ['registered', 'failed', 'unregistered'] },
                  code: { type: 'integer' },
                  expiresAt: { type: 'string', format: 'date-time' },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

export const numberSchema = {
  type: 'object',
  properties: { id: uuid, tenantId: uuid, e164: { type: 'string' }, userId: { type: ['string', 'null'] } },
} as const;

export const routeSchema = {
  type: 'object',
  properties: {
    id: uuid,
    tenantId: uuid,
    name: { type: 'string' },
    pattern: { type: 'string' },
    priority: { type: 'integer' },
    stripDigits: { type: 'integer' },
    prefix: { type: 'string' },
    mediaBypass: { type: 'boolean' },
    mediaEncryption: mediaEncryptionSchema,
    recording: nullableRecordingPolicySchema,
    trunkIds: { type: 'array', items: { type: 'string' } },
    trunks: { type: 'array', items: trunkSchema },
  },
} as const;

export const apiKeySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    tenantId: { type: ['string', 'null'] },
    role: roleSchema,
    name: { type: 'string' },
    createdAt: dateTime,
    lastUsedAt: nullableDateTime,
    revokedAt: nullableDateTime,
  },
} as const;

export const cdrSchema = {
  type: 'object',
  properties: {
    callId: { type: 'string' },
    tenantId: uuid,
    direction: { enum: ['internal', 'inbound', 'outbound'] },
    from: { type: 'string' },
    to: { type: 'string' },
    trunkId: { type: ['string', 'null'] },
    startedAt: dateTime,
    ringingAt: {
      ...nullableDateTime,
      description:
        'When the call first rang (the first 18x relayed to the caller); ringingAt − startedAt is the ' +
        'post-dial delay. null when it never rang',
    },
    answeredAt: nullableDateTime,
    endedAt: dateTime,
    durationSeconds: { type: 'integer' },
    recordingIds: {
      type: 'array',
      items: { type: 'string' },
      description: 'the recordings of the call (GET …/recordings/{id}); empty when it was not recorded',
    },
    disposition: { type: 'string' },
    sipCode: nullableInt,
    hangupBy: nullableString,
    reason: nullableString,
    media: { type: ['object', 'null'], additionalProperties: true },
    gateway: nullableString,
    transferredFrom: {
      ...nullableString,
      description:
        'A call a transfer made (REFER or the API): the call id of the call it came from, whose CDR has ' +
        'reason "transferred"',
    },
  },
} as const;

export const auditEntrySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    at: dateTime,
    actorKeyId: nullableString,
    tenantId: { type: ['string', 'null'] },
    action: { enum: ['create', 'update', 'delete'] },
    entity: { type: 'string' },
    entityId: { type: 'string' },
    before: {},
    after: {},
    sourceIp: nullableString,
  },
} as const;

/** The events a webhook can subscribe to (`WEBHOOK_EVENT_TYPES` of the store). */
export const webhookEventSchema = {
  enum: [...WEBHOOK_EVENT_TYPES],
  description:
    'call.ended carries the CDR; registration.changed a contact added, removed or expired; recording.ready is ' +
    'accepted but not sent yet (no recordings in the API)',
} as const;

export const webhookSchema = {
  type: 'object',
  description: 'a subscription: events of the tenant POSTed to url, signed with the secret',
  properties: {
    id: uuid,
    tenantId: uuid,
    url: { type: 'string' },
    events: { type: 'array', items: webhookEventSchema },
    enabled: { type: 'boolean' },
    secret: {
      type: 'string',
      description:
        'the signing secret: only in the response of the request that created the webhook (never readable later)',
    },
    createdAt: dateTime,
    updatedAt: dateTime,
  },
} as const;

export const webhookDeliverySchema = {
  type: 'object',
  description: 'one event sent (or being sent) to one webhook',
  properties: {
    id: uuid,
    webhookId: uuid,
    eventId: { type: 'string', description: 'the Voxgate-Event-Id header and the id of the body' },
    eventType: { type: 'string' },
    state: {
      enum: ['pending', 'delivered', 'failed'],
      description: 'pending until a 2xx (delivered) or until the retries run out (failed)',
    },
    attempts: { type: 'integer' },
    lastStatus: { ...nullableInt, description: 'the HTTP status of the last attempt' },
    lastError: { ...nullableString, description: 'why the last attempt got no answer (timeout, refused …)' },
    createdAt: dateTime,
    lastAttemptAt: nullableDateTime,
    nextAttemptAt: { ...nullableDateTime, description: 'when the next attempt is due (pending only)' },
    completedAt: nullableDateTime,
  },
} as const;

/** A cursor page of `item`. */
export function pageOf<T extends object>(item: T) {
  return {
    type: 'object',
    properties: {
      items: { type: 'array', items: item },
      nextCursor: {
        type: ['string', 'null'],
        description: 'pass as `after` for the next page; null at the end',
      },
    },
  } as const;
}

/** Success responses plus the problems every authenticated route can answer. */
export function responses(success: Record<number, unknown>): Record<string, unknown> {
  return { ...success, '4xx': problemSchema, '5xx': problemSchema };
}
