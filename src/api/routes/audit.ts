import type { FastifyInstance } from 'fastify';
import { createAuditRepository, type Database } from '../../store/index.js';
import { requireRole } from '../authorize.js';
import { sendProblem } from '../problem.js';
import { pageLimit } from './route-helpers.js';

/** `GET /v1/audit`: newest first; admins only; a tenant key sees its tenant's entries only. */
export function registerAuditRoutes(app: FastifyInstance, deps: { db: Database }): void {
  const audit = createAuditRepository(deps.db);
  app.get<{ Querystring: { limit?: number; before?: string; tenantId?: string } }>(
    '/audit',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 500 },
            before: { type: 'string', pattern: '^[0-9]{1,18}$' },
            tenantId: { type: 'string', format: 'uuid' },
          },
        },
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
        before: request.query.before,
        tenantId: own ?? request.query.tenantId,
      });
      return { items, nextCursor: items.length === limit ? items.at(-1)?.id : null };
    },
  );
}
