import type { FastifyInstance } from 'fastify';
import {
  createTenantRepository,
  type Database,
  type SipDigestAlgorithm,
  type Tenant,
} from '../../store/index.js';
import { recordMutation } from '../audit-trail.js';
import { inTenantScope, requirePlatformKey, requireRole } from '../authorize.js';
import { sendProblem } from '../problem.js';
import {
  digestAlgorithmsSchema,
  integer,
  nullableInteger,
  pageOf,
  responses,
  tenantParams,
  tenantSchema,
  text,
  uuid,
} from '../schemas.js';
import { isUniqueViolation, nextCursor, pageLimit } from './route-helpers.js';

const TAGS = ['tenants'];

const limits = {
  maxConcurrentCalls: integer({ minimum: 0 }),
  maxCallsPerSecond: integer({ minimum: 0 }),
} as const;

interface TenantPatchBody {
  name?: string;
  maxConcurrentCalls?: number | null;
  maxCallsPerSecond?: number | null;
  status?: Tenant['status'];
  sipDigestAlgorithms?: SipDigestAlgorithm[] | null;
}

/**
 * `/v1/tenants`: a tenant is a SIP domain (the digest realm of its users) with its limits. Creating,
 * changing and deleting tenants is for platform admins; a tenant key sees its own tenant only.
 */
export function registerTenantRoutes(app: FastifyInstance, deps: { db: Database }): void {
  const tenants = createTenantRepository(deps.db);

  app.post<{
    Body: {
      name: string;
      sipDomain: string;
      maxConcurrentCalls?: number;
      maxCallsPerSecond?: number;
      sipDigestAlgorithms?: SipDigestAlgorithm[] | null;
    };
  }>(
    '/tenants',
    {
      schema: {
        tags: TAGS,
        summary: 'Create a tenant (platform admin)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'sipDomain'],
          properties: {
            name: text({ minLength: 1, maxLength: 200 }),
            sipDomain: {
              type: 'string',
              pattern: '^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\\.)*[A-Za-z0-9-]{1,63}$',
            },
            ...limits,
            sipDigestAlgorithms: digestAlgorithmsSchema,
          },
        },
        response: responses({ 201: tenantSchema }),
      },
    },
    async (request, reply) => {
      if (!requirePlatformKey(request, reply) || !requireRole(request, reply, 'admin')) return reply;
      try {
        const tenant = await deps.db.transaction(async (tx) => {
          const created = await createTenantRepository(tx).create(request.body);
          await recordMutation(tx, request, {
            tenantId: created.id,
            action: 'create',
            entity: 'tenant',
            entityId: created.id,
            after: created,
          });
          return created;
        });
        return reply.code(201).header('location', `/v1/tenants/${tenant.id}`).send(tenant);
      } catch (err) {
        if (isUniqueViolation(err)) {
          return sendProblem(
            reply,
            'conflict',
            `a tenant already serves the SIP domain ${request.body.sipDomain}`,
          );
        }
        throw err;
      }
    },
  );

  app.get<{ Querystring: { limit?: number; after?: string } }>(
    '/tenants',
    {
      schema: {
        tags: TAGS,
        summary: 'List tenants (a tenant key sees its own)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: integer({ minimum: 1, maximum: 500 }), after: uuid },
        },
        response: responses({ 200: pageOf(tenantSchema) }),
      },
    },
    async (request) => {
      const limit = pageLimit(request.query.limit);
      const onlyId = request.apiKey?.tenantId ?? undefined;
      const items = await tenants.list({ limit, after: request.query.after, onlyId });
      return { items, nextCursor: nextCursor(items, limit, (t) => t.id) };
    },
  );

  app.get<{ Params: { tenantId: string } }>(
    '/tenants/:tenantId',
    {
      schema: {
        tags: TAGS,
        summary: 'Get a tenant',
        params: tenantParams,
        response: responses({ 200: tenantSchema }),
      },
    },
    async (request, reply) => {
      const tenant = inTenantScope(request, request.params.tenantId)
        ? await tenants.findById(request.params.tenantId)
        : undefined;
      return tenant ?? sendProblem(reply, 'not-found', `no tenant ${request.params.tenantId}`);
    },
  );

  app.patch<{ Params: { tenantId: string }; Body: TenantPatchBody }>(
    '/tenants/:tenantId',
    {
      schema: {
        tags: TAGS,
        summary:
          'Change name, limits, status or digest algorithms of a tenant (platform admin); suspended refuses its calls',
        params: tenantParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            name: text({ minLength: 1, maxLength: 200 }),
            maxConcurrentCalls: nullableInteger({ minimum: 0 }),
            maxCallsPerSecond: nullableInteger({ minimum: 0 }),
            status: { enum: ['active', 'suspended'] },
            sipDigestAlgorithms: digestAlgorithmsSchema,
          },
        },
        response: responses({ 200: tenantSchema }),
      },
    },
    async (request, reply) => {
      if (!inTenantScope(request, request.params.tenantId))
        return sendProblem(reply, 'not-found', `no tenant ${request.params.tenantId}`);
      if (!requirePlatformKey(request, reply) || !requireRole(request, reply, 'admin')) return reply;
      const changed = await deps.db.transaction(async (tx) => {
        const result = await createTenantRepository(tx).update(request.params.tenantId, request.body);
        if (result) {
          await recordMutation(tx, request, {
            tenantId: result.after.id,
            action: 'update',
            entity: 'tenant',
            entityId: result.after.id,
            before: result.before,
            after: result.after,
          });
        }
        return result;
      });
      return changed?.after ?? sendProblem(reply, 'not-found', `no tenant ${request.params.tenantId}`);
    },
  );

  app.delete<{ Params: { tenantId: string } }>(
    '/tenants/:tenantId',
    {
      schema: {
        tags: TAGS,
        summary: 'Delete a tenant and everything it owns (platform admin)',
        params: tenantParams,
        response: responses({ 204: { type: 'null' } }),
      },
    },
    async (request, reply) => {
      if (!inTenantScope(request, request.params.tenantId))
        return sendProblem(reply, 'not-found', `no tenant ${request.params.tenantId}`);
      if (!requirePlatformKey(request, reply) || !requireRole(request, reply, 'admin')) return reply;
      const deleted = await deps.db.transaction(async (tx) => {
        const tenant = await createTenantRepository(tx).delete(request.params.tenantId);
        if (tenant) {
          await recordMutation(tx, request, {
            tenantId: tenant.id,
            action: 'delete',
            entity: 'tenant',
            entityId: tenant.id,
            before: tenant,
          });
        }
        return tenant;
      });
      if (!deleted) return sendProblem(reply, 'not-found', `no tenant ${request.params.tenantId}`);
      return reply.code(204).send();
    },
  );
}
