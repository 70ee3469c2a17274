import type { FastifyInstance } from 'fastify';
import { createNumberRepository, type Database } from '../../store/index.js';
import { recordMutation } from '../audit-trail.js';
import { requireRole } from '../authorize.js';
import { sendProblem } from '../problem.js';
import {
  e164Schema,
  numberSchema,
  pageOf,
  pageQueryProperties,
  responses,
  tenantObjectParams,
  tenantParams,
  uuid,
} from '../schemas.js';
import { isUniqueViolation, nextCursor, pageLimit } from './route-helpers.js';
import { tenantOf } from './tenant-resource.js';

const TAGS = ['numbers'];

/**
 * `/v1/tenants/{tenantId}/numbers`: the tenant's DIDs (E.164) and the user each rings. A user of another
 * tenant is answered like one that does not exist.
 */
export function registerNumberRoutes(app: FastifyInstance, deps: { db: Database }): void {
  app.post<{ Params: { tenantId: string }; Body: { e164: string; userId?: string } }>(
    '/tenants/:tenantId/numbers',
    {
      schema: {
        tags: TAGS,
        summary: 'Add a number (operator)',
        params: tenantParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['e164'],
          properties: { e164: e164Schema, userId: uuid },
        },
        response: responses({ 201: numberSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      try {
        const number = await deps.db.transaction(async (tx) => {
          const created = await createNumberRepository(tx).create({ tenantId: tenant.id, ...request.body });
          await recordMutation(tx, request, {
            tenantId: tenant.id,
            action: 'create',
            entity: 'number',
            entityId: created.id,
            after: created,
          });
          return created;
        });
        return reply
          .code(201)
          .header('location', `/v1/tenants/${tenant.id}/numbers/${number.id}`)
          .send(number);
      } catch (err) {
        if (isUniqueViolation(err))
          return sendProblem(reply, 'conflict', `${request.body.e164} is already assigned`);
        if (err instanceof RangeError)
          return sendProblem(reply, 'not-found', `no user ${request.body.userId}`);
        throw err;
      }
    },
  );

  app.get<{ Params: { tenantId: string }; Querystring: { limit?: number; after?: string; userId?: string } }>(
    '/tenants/:tenantId/numbers',
    {
      schema: {
        tags: TAGS,
        summary: 'List numbers in E.164 order, optionally of one user',
        params: tenantParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...pageQueryProperties, userId: uuid },
        },
        response: responses({ 200: pageOf(numberSchema) }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const limit = pageLimit(request.query.limit);
      const items = await createNumberRepository(deps.db).list(tenant.id, {
        limit,
        after: request.query.after,
        userId: request.query.userId,
      });
      return { items, nextCursor: nextCursor(items, limit, (n) => n.e164) };
    },
  );

  app.get<{ Params: { tenantId: string; id: string } }>(
    '/tenants/:tenantId/numbers/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Get a number',
        params: tenantObjectParams,
        response: responses({ 200: numberSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const number = await createNumberRepository(deps.db).get(tenant.id, request.params.id);
      return number ?? sendProblem(reply, 'not-found', `no number ${request.params.id}`);
    },
  );

  app.patch<{ Params: { tenantId: string; id: string }; Body: { userId: string | null } }>(
    '/tenants/:tenantId/numbers/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Assign a number to another user, or none (operator)',
        params: tenantObjectParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['userId'],
          properties: { userId: { type: ['string', 'null'], format: 'uuid' } },
        },
        response: responses({ 200: numberSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      try {
        const changed = await deps.db.transaction(async (tx) => {
          const result = await createNumberRepository(tx).assign(
            tenant.id,
            request.params.id,
            request.body.userId,
          );
          if (result) {
            await recordMutation(tx, request, {
              tenantId: tenant.id,
              action: 'update',
              entity: 'number',
              entityId: request.params.id,
              before: result.before,
              after: result.after,
            });
          }
          return result;
        });
        return changed?.after ?? sendProblem(reply, 'not-found', `no number ${request.params.id}`);
      } catch (err) {
        if (err instanceof RangeError)
          return sendProblem(reply, 'not-found', `no user ${request.body.userId}`);
        throw err;
      }
    },
  );

  app.delete<{ Params: { tenantId: string; id: string } }>(
    '/tenants/:tenantId/numbers/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Remove a number (operator)',
        params: tenantObjectParams,
        response: responses({ 204: { type: 'null' } }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const deleted = await deps.db.transaction(async (tx) => {
        const number = await createNumberRepository(tx).delete(tenant.id, request.params.id);
        if (number) {
          await recordMutation(tx, request, {
            tenantId: tenant.id,
            action: 'delete',
            entity: 'number',
            entityId: number.id,
            before: number,
          });
        }
        return number;
      });
      if (!deleted) return sendProblem(reply, 'not-found', `no number ${request.params.id}`);
      return reply.code(204).send();
    },
  );
}
