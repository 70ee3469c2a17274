import type { FastifyInstance } from 'fastify';
import {
  createNumberRepository,
  createRouteRepository,
  createTrunkRepository,
  type Database,
  type Trunk,
} from '../../store/index.js';
import { requireRole } from '../authorize.js';
import { sendProblem } from '../problem.js';
import { isUniqueViolation, pageLimit } from './route-helpers.js';
import { auditCreate, pageQuery, tenantOf, tenantParams } from './tenant-resource.js';

const listQuery = { type: 'object', additionalProperties: false, properties: pageQuery } as const;
const CIDR = '^[0-9A-Fa-f.:]+/\\d{1,3}$';

/** A trunk as the API shows it: the outbound password never leaves the store. */
function publicTrunk(t: Trunk) {
  return { ...t, hasPassword: t.username !== null };
}

/** A route pattern must compile, or every call would skip it silently. */
function patternError(pattern: string): string | undefined {
  try {
    new RegExp(`^(?:${pattern})$`);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * `/v1/tenants/{tenantId}/trunks`, `/numbers` and `/routes`: the tenant's carriers, its DIDs and where calls
 * to numbers go. Changes are audited in the same transaction, secrets masked; the gateway reads them per call,
 * so they apply to the next call without a restart.
 */
export function registerCarrierRoutes(app: FastifyInstance, deps: { db: Database }): void {
  app.post<{
    Params: { tenantId: string };
    Body: {
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
    };
  }>(
    '/tenants/:tenantId/trunks',
    {
      schema: {
        params: tenantParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'host'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            host: { type: 'string', pattern: '^[A-Za-z0-9.:-]{1,253}$' },
            port: { type: 'integer', minimum: 1, maximum: 65535 },
            transport: { enum: ['udp', 'tcp', 'tls'] },
            username: { type: 'string', minLength: 1, maxLength: 128 },
            password: { type: 'string', minLength: 1, maxLength: 128 },
            inboundCidrs: { type: 'array', maxItems: 50, items: { type: 'string', pattern: CIDR } },
            register: { type: 'boolean' },
            enabled: { type: 'boolean' },
            maxConcurrentCalls: { type: 'integer', minimum: 0 },
          },
          dependencies: { username: ['password'], password: ['username'] },
        },
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      if (!requireRole(request, reply, 'operator')) return reply;
      const { username, password, ...rest } = request.body;
      try {
        const trunk = await deps.db.transaction(async (tx) => {
          const created = await createTrunkRepository(tx).create({
            ...rest,
            tenantId: tenant.id,
            ...(username && password ? { credentials: { username, password } } : {}),
          });
          await auditCreate(tx, request, tenant.id, 'trunk', created.id, {
            ...publicTrunk(created),
            ...(password ? { password: '****' } : {}),
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
        if ((err as { code?: string }).code === '22P02') {
          return sendProblem(reply, 'validation-failed', 'an inbound CIDR is not a valid network');
        }
        throw err;
      }
    },
  );

  app.get<{ Params: { tenantId: string }; Querystring: { limit?: number; after?: string } }>(
    '/tenants/:tenantId/trunks',
    { schema: { params: tenantParams, querystring: listQuery } },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const limit = pageLimit(request.query.limit);
      const items = await createTrunkRepository(deps.db).list(tenant.id, {
        limit,
        after: request.query.after,
      });
      return {
        items: items.map(publicTrunk),
        nextCursor: items.length === limit ? items.at(-1)?.name : null,
      };
    },
  );

  app.post<{ Params: { tenantId: string }; Body: { e164: string; userId?: string } }>(
    '/tenants/:tenantId/numbers',
    {
      schema: {
        params: tenantParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['e164'],
          properties: {
            e164: { type: 'string', pattern: '^\\+[1-9][0-9]{1,14}$' },
            userId: { type: 'string', format: 'uuid' },
          },
        },
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      if (!requireRole(request, reply, 'operator')) return reply;
      try {
        const number = await deps.db.transaction(async (tx) => {
          const created = await createNumberRepository(tx).create({ tenantId: tenant.id, ...request.body });
          await auditCreate(tx, request, tenant.id, 'number', created.id, { ...created });
          return created;
        });
        return reply
          .code(201)
          .header('location', `/v1/tenants/${tenant.id}/numbers/${number.id}`)
          .send(number);
      } catch (err) {
        if (isUniqueViolation(err))
          return sendProblem(reply, 'conflict', `${request.body.e164} is already assigned`);
        // A user of another tenant is answered like one that does not exist.
        if (err instanceof RangeError)
          return sendProblem(reply, 'not-found', `no user ${request.body.userId}`);
        throw err;
      }
    },
  );

  app.get<{ Params: { tenantId: string }; Querystring: { limit?: number; after?: string } }>(
    '/tenants/:tenantId/numbers',
    { schema: { params: tenantParams, querystring: listQuery } },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const limit = pageLimit(request.query.limit);
      const items = await createNumberRepository(deps.db).list(tenant.id, {
        limit,
        after: request.query.after,
      });
      return { items, nextCursor: items.length === limit ? items.at(-1)?.e164 : null };
    },
  );

  app.post<{
    Params: { tenantId: string };
    Body: {
      name: string;
      pattern: string;
      priority?: number;
      stripDigits?: number;
      prefix?: string;
      trunkIds: string[];
    };
  }>(
    '/tenants/:tenantId/routes',
    {
      schema: {
        params: tenantParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'pattern', 'trunkIds'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            pattern: { type: 'string', minLength: 1, maxLength: 200 },
            priority: { type: 'integer', minimum: 0, maximum: 100000 },
            stripDigits: { type: 'integer', minimum: 0, maximum: 15 },
            prefix: { type: 'string', pattern: '^\\+?[0-9]{0,15}$' },
            trunkIds: {
              type: 'array',
              minItems: 1,
              maxItems: 10,
              uniqueItems: true,
              items: { type: 'string', format: 'uuid' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      if (!requireRole(request, reply, 'operator')) return reply;
      const invalid = patternError(request.body.pattern);
      if (invalid)
        return sendProblem(reply, 'validation-failed', `pattern is not a regular expression: ${invalid}`);
      try {
        const route = await deps.db.transaction(async (tx) => {
          const created = await createRouteRepository(tx).create({ tenantId: tenant.id, ...request.body });
          await auditCreate(tx, request, tenant.id, 'route', created.id, { ...created });
          return created;
        });
        return reply.code(201).header('location', `/v1/tenants/${tenant.id}/routes/${route.id}`).send(route);
      } catch (err) {
        if (isUniqueViolation(err))
          return sendProblem(reply, 'conflict', `route ${request.body.name} already exists`);
        if (err instanceof RangeError)
          return sendProblem(reply, 'not-found', 'a trunk of the route does not exist');
        throw err;
      }
    },
  );

  app.get<{ Params: { tenantId: string } }>(
    '/tenants/:tenantId/routes',
    { schema: { params: tenantParams } },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      return { items: await createRouteRepository(deps.db).listForTenant(tenant.id) };
    },
  );
}
