import type { FastifyInstance } from 'fastify';
import { createAuditRepository, type Database } from '../../store/index.js';
import { requireRole } from '../authorize.js';
import { sendProblem } from '../problem.js';
import { auditEntrySchema, integer, pageOf, responses, uuid } from '../schemas.js';
import { nextCursor, pageLimit } from './route-helpers.js';

/** `GET /v1/audit`: newest first; admins only; a tenant key sees its tenant's entries only. */
export function registerAuditRoutes(app: FastifyInstance, deps: { db: Database }): void {
  const audit = createAuditRepository(deps.db);
  app.get<{ Querystring: { limit?: number; before?: string; after?: string; tenantId?: string } }>(
    '/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'The audit log, newest first (admin; a tenant key sees its tenant)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: integer({ minimum: 1, maximum: 500 }),
            before: { type: 'string', pattern: '^[0-9]{1,18}$', description: 'entries older than this id' },
            after: {
              type: 'string',
              pattern: '^[0-9]{1,18}$',
              description: 'the nextCursor of the previous page',
            },
            tenantId: uuid,
          },
        },
        response: responses({ 200: pageOf(auditEntrySchema) }),
      },
    },
    async (request, reply) => {
      if (!requireRole(request, reply, 'admin')) return reply;
      const own = request.apiKey?.tenantId ?? null;
      if (own !== null && request.query.tenantId !== undefined && request.query.tenantId !== own) {
        return sendProblem(reply, 'not-found', `no tenant ${request.query.tenantId}`);
      }
      const limit = pageLimit(request.query.limit);
      const items = await audit.list({
        limit,
        before: request.query.before ?? request.query.after,
        tenantId: own ?? request.query.tenantId,
      });
      return { items, nextCursor: nextCursor(items, limit, (e) => e.id) };
    },
  );
}
