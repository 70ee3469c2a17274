import type { FastifyInstance } from 'fastify';
import { createAuditRepository, createTenantRepository, type Database } from '../../store/index.js';
import { inTenantScope, requirePlatformKey, requireRole } from '../authorize.js';
import { sendProblem } from '../problem.js';
import { isUniqueViolation, pageLimit } from './route-helpers.js';

const tenantBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'sipDomain'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    sipDomain: { type: 'string', pattern: '^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\\.)*[A-Za-z0-9-]{1,63}$' },
    maxConcurrentCalls: { type: 'integer', minimum: 0 },
    maxCallsPerSecond: { type: 'integer', minimum: 0 },
  },
} as const;

/** `/v1/tenants`: a tenant is a SIP domain (the digest realm of its users) with its limits. */
export function registerTenantRoutes(app: FastifyInstance, deps: { db: Database }): void {
  const tenants = createTenantRepository(deps.db);
  app.post<{
    Body: { name: string; sipDomain: string; maxConcurrentCalls?: number; maxCallsPerSecond?: number };
  }>('/tenants', { schema: { body: tenantBody } }, async (request, reply) => {
    if (!requirePlatformKey(request, reply) || !requireRole(request, reply, 'admin')) return reply;
    try {
      // The change and its audit entry commit together or not at all.
      const tenant = await deps.db.transaction(async (tx) => {
        const created = await createTenantRepository(tx).create(request.body);
        await createAuditRepository(tx).record({
          actorKeyId: request.apiKey?.id ?? null,
          tenantId: created.id,
          action: 'create',
          entity: 'tenant',
          entityId: created.id,
          before: null,
          after: created,
          sourceIp: request.ip,
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
  });

  app.get<{ Querystring: { limit?: number; after?: string } }>(
    '/tenants',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 500 },
            after: { type: 'string', format: 'uuid' },
          },
        },
      },
    },
    async (request) => {
      const limit = pageLimit(request.query.limit);
      const onlyId = request.apiKey?.tenantId ?? undefined;
      const items = await tenants.list({ limit, after: request.query.after, onlyId });
      return { items, nextCursor: items.length === limit ? items.at(-1)?.id : null };
    },
  );

  app.get<{ Params: { tenantId: string } }>(
    '/tenants/:tenantId',
    { schema: { params: { type: 'object', properties: { tenantId: { type: 'string', format: 'uuid' } } } } },
    async (request, reply) => {
      const tenant = inTenantScope(request, request.params.tenantId)
        ? await tenants.findById(request.params.tenantId)
        : undefined;
      return tenant ?? sendProblem(reply, 'not-found', `no tenant ${request.params.tenantId}`);
    },
  );
}
