import type { FastifyInstance } from 'fastify';
import { createTrunkRepository, type Database, type Trunk, type TrunkPatch } from '../../store/index.js';
import type { SharedState, TrunkStatus } from '../../store/shared-state/index.js';
import { recordMutation } from '../audit-trail.js';
import { requireRole } from '../authorize.js';
import { sendProblem } from '../problem.js';
import {
  cidrSchema,
  integer,
  natSchema,
  nullableInteger,
  nullableText,
  pageOf,
  pageQuery,
  responses,
  tenantObjectParams,
  tenantParams,
  text,
  trunkSchema,
} from '../schemas.js';
import { isInvalidText, isUniqueViolation, nextCursor, pageLimit } from './route-helpers.js';
import { tenantOf } from './tenant-resource.js';

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
}

type TrunkPatchBody = Partial<Omit<TrunkBody, 'maxConcurrentCalls' | 'username' | 'password'>> & {
  maxConcurrentCalls?: number | null;
  username?: string | null;
  password?: string;
};

const TAGS = ['trunks'];

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
  const withHealth = async (trunks: Trunk[]) => {
    const reports = await deps.state.trunkStatus.list(trunks.map((t) => t.id));
    return trunks.map((t) => ({ ...publicTrunk(t), health: healthOf(reports.get(t.id) ?? []) }));
  };

  app.post<{ Params: { tenantId: string }; Body: TrunkBody }>(
    '/tenants/:tenantId/trunks',
    {
      schema: {
        tags: TAGS,
        summary: 'Create a trunk (operator)',
        params: tenantParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'host'],
          properties: trunkFields,
          dependencies: { username: ['password'], password: ['username'] },
        },
        response: responses({ 201: trunkSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const { username, password, ...rest } = request.body;
      try {
        const trunk = await deps.db.transaction(async (tx) => {
          const created = await createTrunkRepository(tx).create({
            ...rest,
            tenantId: tenant.id,
            ...(username && password ? { credentials: { username, password } } : {}),
          });
          await recordMutation(tx, request, {
            tenantId: tenant.id,
            action: 'create',
            entity: 'trunk',
            entityId: created.id,
            after: { ...publicTrunk(created), password: password ?? null },
          });
          return created;
        });
        return reply
          .code(201)
          .header('location', `/v1/tenants/${tenant.id}/trunks/${trunk.id}`)
          .send(publicTrunk(trunk));
      } catch (err) {
        if (isUniqueViolation(err))
          return sendProblem(reply, 'conflict', `trunk ${rest.name} already exists`);
        if (isInvalidText(err))
          return sendProblem(reply, 'validation-failed', 'an inbound CIDR is not a valid network');
        throw err;
      }
    },
  );

  app.get<{ Params: { tenantId: string }; Querystring: { limit?: number; after?: string } }>(
    '/tenants/:tenantId/trunks',
    {
      schema: {
        tags: TAGS,
        summary: 'List trunks by name',
        params: tenantParams,
        querystring: pageQuery,
        response: responses({ 200: pageOf(trunkSchema) }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const limit = pageLimit(request.query.limit);
      const items = await createTrunkRepository(deps.db).list(tenant.id, {
        limit,
        after: request.query.after,
      });
      return { items: await withHealth(items), nextCursor: nextCursor(items, limit, (t) => t.name) };
    },
  );

  app.get<{ Params: { tenantId: string; id: string } }>(
    '/tenants/:tenantId/trunks/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Get a trunk',
        params: tenantObjectParams,
        response: responses({ 200: trunkSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const trunk = await createTrunkRepository(deps.db).get(tenant.id, request.params.id);
      return trunk
        ? (await withHealth([trunk]))[0]
        : sendProblem(reply, 'not-found', `no trunk ${request.params.id}`);
    },
  );

  app.patch<{ Params: { tenantId: string; id: string }; Body: TrunkPatchBody }>(
    '/tenants/:tenantId/trunks/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Change a trunk (operator); username null removes the credentials',
        params: tenantObjectParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            ...trunkFields,
            username: nullableText({ minLength: 1, maxLength: 128 }),
            maxConcurrentCalls: nullableInteger({ minimum: 0 }),
          },
          dependencies: { username: ['password'], password: ['username'] },
        },
        response: responses({ 200: trunkSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const { username, password, ...rest } = request.body;
      if (username === null && password !== undefined)
        return sendProblem(reply, 'validation-failed', 'a password needs a username');
      const patch: TrunkPatch = {
        ...rest,
        ...(username === null ? { credentials: null } : {}),
        ...(username && password ? { credentials: { username, password } } : {}),
      };
      try {
        const changed = await deps.db.transaction(async (tx) => {
          const result = await createTrunkRepository(tx).update(tenant.id, request.params.id, patch);
          if (result) {
            await recordMutation(tx, request, {
              tenantId: tenant.id,
              action: 'update',
              entity: 'trunk',
              entityId: request.params.id,
              before: publicTrunk(result.before),
              after: { ...publicTrunk(result.after), ...(password ? { password } : {}) },
            });
          }
          return result;
        });
        if (!changed) return sendProblem(reply, 'not-found', `no trunk ${request.params.id}`);
        return publicTrunk(changed.after);
      } catch (err) {
        if (isUniqueViolation(err))
          return sendProblem(reply, 'conflict', `trunk ${rest.name} already exists`);
        if (isInvalidText(err))
          return sendProblem(reply, 'validation-failed', 'an inbound CIDR is not a valid network');
        throw err;
      }
    },
  );

  app.delete<{ Params: { tenantId: string; id: string } }>(
    '/tenants/:tenantId/trunks/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Delete a trunk (operator); it leaves every route it was in',
        params: tenantObjectParams,
        response: responses({ 204: { type: 'null' } }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const deleted = await deps.db.transaction(async (tx) => {
        const trunk = await createTrunkRepository(tx).delete(tenant.id, request.params.id);
        if (trunk) {
          await recordMutation(tx, request, {
            tenantId: tenant.id,
            action: 'delete',
            entity: 'trunk',
            entityId: trunk.id,
            before: publicTrunk(trunk),
          });
        }
        return trunk;
      });
      if (!deleted) return sendProblem(reply, 'not-found', `no trunk ${request.params.id}`);
      return reply.code(204).send();
    },
  );
}
