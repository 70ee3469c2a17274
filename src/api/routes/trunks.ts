import type { FastifyInstance } from 'fastify';
import { createTrunkRepository, type Database, type Trunk, type TrunkPatch } from '../../store/index.js';
import type { SharedState, TrunkStatus } from '../../store/shared-state/index.js';
import {
  cidrSchema,
  integer,
  mediaEncryptionSchema,
  natSchema,
  nullableInteger,
  nullableText,
  text,
  trunkSchema,
} from '../schemas.js';
import { registerTenantResource } from './resource-routes.js';
import { isInvalidText, isUniqueViolation } from './route-helpers.js';

/**
 * A trunk's health from the gateway replicas' reports: `up` when one of them reached it with its last OPTIONS
 * check, `down` when all that report failed, `unknown` when none reports (health checks off, no gateway).
 */
function healthOf(reports: readonly TrunkStatus[]) {
  return {
    state: reports.length === 0 ? 'unknown' : reports.some((r) => r.reachable) ? 'up' : 'down',
    gateways: reports.map((r) => ({
      gateway: r.gateway,
      reachable: r.reachable,
      checkedAt: new Date(r.checkedAt).toISOString(),
      ...(r.registration
        ? {
            registration: {
              state: r.registration.state,
              code: r.registration.code,
              ...(r.registration.expiresAt
                ? { expiresAt: new Date(r.registration.expiresAt).toISOString() }
                : {}),
            },
          }
        : {}),
    })),
  };
}

/** A trunk as the API and the audit log show it: the outbound password never leaves the store. */
function publicTrunk(t: Trunk) {
  return { ...t, hasPassword: t.username !== null };
}

const trunkFields = {
  name: text({ minLength: 1, maxLength: 100 }),
  host: { type: 'string', pattern: '^[A-Za-z0-9.:-]{1,253}$' },
  port: integer({ minimum: 1, maximum: 65535 }),
  transport: { enum: ['udp', 'tcp', 'tls'] },
  username: text({
    minLength: 1,
    maxLength: 128,
    description:
      "digest username: answers the carrier's challenges, and lets the trunk authenticate its own calls " +
      '(realm "voxgate") from addresses outside inboundCidrs; unique among enabled trunks for the latter',
  }),
  password: { ...text({ minLength: 1, maxLength: 128 }), writeOnly: true },
  inboundCidrs: { type: 'array', maxItems: 50, items: cidrSchema },
  register: { type: 'boolean' },
  enabled: { type: 'boolean' },
  maxConcurrentCalls: integer({ minimum: 0 }),
  nat: natSchema,
  mediaEncryption: mediaEncryptionSchema,
} as const;

interface TrunkBody {
  name: string;
  host: string;
  port?: number;
  transport?: Trunk['transport'];
  username?: string;
  password?: string;
  inboundCidrs?: string[];
  register?: boolean;
  enabled?: boolean;
  maxConcurrentCalls?: number;
  nat?: Trunk['nat'];
  mediaEncryption?: Trunk['mediaEncryption'];
}

type TrunkPatchBody = Partial<Omit<TrunkBody, 'maxConcurrentCalls' | 'username' | 'password'>> & {
  maxConcurrentCalls?: number | null;
  username?: string | null;
  password?: string;
};

/** The trunk's credentials as the store takes them: both or none; a null username removes them. */
function credentialsOf({ username, password }: TrunkPatchBody): Pick<TrunkPatch, 'credentials'> {
  if (username === null) return { credentials: null };
  return username && password ? { credentials: { username, password } } : {};
}

const cidrRefused = (err: unknown) =>
  isInvalidText(err) ? (['validation-failed', 'an inbound CIDR is not a valid network'] as const) : undefined;

/**
 * `/v1/tenants/{tenantId}/trunks`: the tenant's carriers. The outbound password is write-only (never
 * returned, masked in the audit log). Reads include `health`, the gateways' last OPTIONS check and outbound
 * registration as shared state holds them. A change applies to the gateways' next call (announced on the
 * provisioning change stream).
 */
export function registerTrunkRoutes(
  app: FastifyInstance,
  deps: { db: Database; state: Pick<SharedState, 'trunkStatus'> },
): void {
  /** Trunks as listed, each with its health as the gateway replicas last reported it. */
  const withHealth = async (trunks: readonly Trunk[]) => {
    const reports = await deps.state.trunkStatus.list(trunks.map((t) => t.id));
    return trunks.map((t) => ({ ...publicTrunk(t), health: healthOf(reports.get(t.id) ?? []) }));
  };
  const credentialRules = { dependencies: { username: ['password'], password: ['username'] } };

  registerTenantResource<Trunk, TrunkBody, TrunkPatchBody, { after?: string }>(app, deps.db, {
    path: 'trunks',
    tag: 'trunks',
    entity: 'trunk',
    noun: 'trunk',
    role: 'operator',
    schemas: {
      item: trunkSchema,
      create: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'host'],
        properties: trunkFields,
        ...credentialRules,
      },
      update: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          ...trunkFields,
          username: nullableText({ minLength: 1, maxLength: 128 }),
          maxConcurrentCalls: nullableInteger({ minimum: 0 }),
        },
        ...credentialRules,
      },
    },
    summaries: {
      create: 'Create a trunk (operator)',
      list: 'List trunks by name',
      get: 'Get a trunk',
      update: 'Change a trunk (operator); username null removes the credentials',
      delete: 'Delete a trunk (operator); it leaves every route it was in',
    },
    list: (db, tenant, { limit, query }) =>
      createTrunkRepository(db).list(tenant.id, { limit, after: query.after }),
    get: (db, tenant, id) => createTrunkRepository(db).get(tenant.id, id),
    create: (tx, tenant, { username, password, ...rest }) =>
      createTrunkRepository(tx).create({
        ...rest,
        tenantId: tenant.id,
        ...(username && password ? { credentials: { username, password } } : {}),
      }),
    update: (tx, tenant, id, { username, password, ...rest }) =>
      createTrunkRepository(tx).update(tenant.id, id, { ...rest, ...credentialsOf({ username, password }) }),
    remove: (tx, tenant, id) => createTrunkRepository(tx).delete(tenant.id, id),
    cursor: (t) => t.name,
    refuse: (body) =>
      body.username === null && body.password !== undefined
        ? ['validation-failed', 'a password needs a username']
        : undefined,
    failure: (err, body) =>
      isUniqueViolation(err) ? ['conflict', `trunk ${body.name} already exists`] : cidrRefused(err),
    show: (trunks, _tenant, use) => (use === 'read' ? withHealth(trunks) : trunks.map(publicTrunk)),
    audit: {
      view: publicTrunk,
      written: (body, action) =>
        action === 'create'
          ? { password: body.password ?? null }
          : body.password
            ? { password: body.password }
            : {},
    },
  });
}
