import type { FastifyInstance } from 'fastify';
import {
  createRouteRepository,
  type Database,
  type RouteCursor,
  type RouteInput,
  type RoutePatch,
} from '../../store/index.js';
import { recordMutation } from '../audit-trail.js';
import { requireRole } from '../authorize.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { sendProblem } from '../problem.js';
import {
  integer,
  isStorableText,
  pageOf,
  pageQuery,
  PG_INTEGER_MAX,
  responses,
  routeSchema,
  tenantObjectParams,
  tenantParams,
  text,
  uuid,
} from '../schemas.js';
import { isUniqueViolation, nextCursor, pageLimit } from './route-helpers.js';
import { tenantOf } from './tenant-resource.js';

const TAGS = ['routes'];

const routeFields = {
  name: text({ minLength: 1, maxLength: 100 }),
  pattern: text({
    minLength: 1,
    maxLength: 200,
    description: 'regular expression the whole dialled number must match, e.g. 00\\d+ or \\+44\\d+',
  }),
  priority: integer({ minimum: 0, maximum: 100000, description: 'lower is tried first' }),
  stripDigits: integer({ minimum: 0, maximum: 15, description: 'digits removed from the front' }),
  prefix: { type: 'string', pattern: '^\\+?[0-9]{0,15}$', description: 'prepended after stripping' },
  mediaBypass: {
    type: 'boolean',
    description: 'calls on this route keep their media off the relays (the SDP passes unchanged)',
  },
  trunkIds: {
    type: 'array',
    minItems: 1,
    maxItems: 10,
    uniqueItems: true,
    items: uuid,
    description: 'trunks in the order they are tried',
  },
} as const;

/** A route pattern must compile, or every call would skip it silently. */
function patternError(pattern: string | undefined): string | undefined {
  if (pattern === undefined) return undefined;
  try {
    new RegExp(`^(?:${pattern})$`);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** A cursor this list made: a priority and a name the database can compare with (the cursor is client input). */
const isRouteCursor = (v: unknown): v is RouteCursor =>
  typeof v === 'object' &&
  v !== null &&
  Number.isInteger((v as RouteCursor).priority) &&
  Math.abs((v as RouteCursor).priority) <= PG_INTEGER_MAX &&
  typeof (v as RouteCursor).name === 'string' &&
  isStorableText((v as RouteCursor).name);

/**
 * `/v1/tenants/{tenantId}/routes`: where calls to numbers go: a pattern, a priority, number rewriting and
 * the trunks tried in order. The gateway reads routes per call.
 */
export function registerDialRoutes(app: FastifyInstance, deps: { db: Database }): void {
  app.post<{ Params: { tenantId: string }; Body: Omit<RouteInput, 'tenantId'> }>(
    '/tenants/:tenantId/routes',
    {
      schema: {
        tags: TAGS,
        summary: 'Create a route (operator)',
        params: tenantParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'pattern', 'trunkIds'],
          properties: routeFields,
        },
        response: responses({ 201: routeSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const invalid = patternError(request.body.pattern);
      if (invalid)
        return sendProblem(reply, 'validation-failed', `pattern is not a regular expression: ${invalid}`);
      try {
        const route = await deps.db.transaction(async (tx) => {
          const created = await createRouteRepository(tx).create({ tenantId: tenant.id, ...request.body });
          await recordMutation(tx, request, {
            tenantId: tenant.id,
            action: 'create',
            entity: 'route',
            entityId: created.id,
            after: { ...created, trunks: undefined },
          });
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

  app.get<{ Params: { tenantId: string }; Querystring: { limit?: number; after?: string } }>(
    '/tenants/:tenantId/routes',
    {
      schema: {
        tags: TAGS,
        summary: 'List routes in the order they are tried (priority, then name)',
        params: tenantParams,
        querystring: pageQuery,
        response: responses({ 200: pageOf(routeSchema) }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const after =
        request.query.after === undefined ? undefined : decodeCursor(request.query.after, isRouteCursor);
      if (request.query.after !== undefined && !after)
        return sendProblem(reply, 'validation-failed', 'after is not a cursor of this list');
      const limit = pageLimit(request.query.limit);
      const items = await createRouteRepository(deps.db).list(tenant.id, {
        limit,
        ...(after ? { after } : {}),
      });
      return {
        items,
        nextCursor: nextCursor(items, limit, (r) => encodeCursor({ priority: r.priority, name: r.name })),
      };
    },
  );

  app.get<{ Params: { tenantId: string; id: string } }>(
    '/tenants/:tenantId/routes/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Get a route with its trunks',
        params: tenantObjectParams,
        response: responses({ 200: routeSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const route = await createRouteRepository(deps.db).get(tenant.id, request.params.id);
      return route ?? sendProblem(reply, 'not-found', `no route ${request.params.id}`);
    },
  );

  app.patch<{ Params: { tenantId: string; id: string }; Body: RoutePatch }>(
    '/tenants/:tenantId/routes/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Change a route (operator); trunkIds replaces the list',
        params: tenantObjectParams,
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: routeFields },
        response: responses({ 200: routeSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const invalid = patternError(request.body.pattern);
      if (invalid)
        return sendProblem(reply, 'validation-failed', `pattern is not a regular expression: ${invalid}`);
      try {
        const changed = await deps.db.transaction(async (tx) => {
          const result = await createRouteRepository(tx).update(tenant.id, request.params.id, request.body);
          if (result) {
            await recordMutation(tx, request, {
              tenantId: tenant.id,
              action: 'update',
              entity: 'route',
              entityId: request.params.id,
              before: { ...result.before, trunks: undefined },
              after: { ...result.after, trunks: undefined },
            });
          }
          return result;
        });
        return changed?.after ?? sendProblem(reply, 'not-found', `no route ${request.params.id}`);
      } catch (err) {
        if (isUniqueViolation(err))
          return sendProblem(reply, 'conflict', `route ${request.body.name} already exists`);
        if (err instanceof RangeError)
          return sendProblem(reply, 'not-found', 'a trunk of the route does not exist');
        throw err;
      }
    },
  );

  app.delete<{ Params: { tenantId: string; id: string } }>(
    '/tenants/:tenantId/routes/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Delete a route (operator)',
        params: tenantObjectParams,
        response: responses({ 204: { type: 'null' } }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const deleted = await deps.db.transaction(async (tx) => {
        const route = await createRouteRepository(tx).delete(tenant.id, request.params.id);
        if (route) {
          await recordMutation(tx, request, {
            tenantId: tenant.id,
            action: 'delete',
            entity: 'route',
            entityId: route.id,
            before: { ...route, trunks: undefined },
          });
        }
        return route;
      });
      if (!deleted) return sendProblem(reply, 'not-found', `no route ${request.params.id}`);
      return reply.code(204).send();
    },
  );
}
