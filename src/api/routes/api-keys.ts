import type { FastifyInstance } from 'fastify';
import {
  createApiKeyRepository,
  createAuditRepository,
  type ApiKeyRole,
  type Database,
} from '../../store/index.js';
import { inTenantScope, requirePlatformKey, requireRole } from '../authorize.js';
import { sendProblem } from '../problem.js';

/**
 * `/v1/api-keys`: an admin creates keys with a role (admin, operator, viewer), scoped to the platform (no
 * tenant) or to one tenant; a tenant admin only for its own tenant. The token is in the 201 response once and
 * stored hashed. Revoking is for platform admins.
 */
export function registerApiKeyRoutes(app: FastifyInstance, deps: { db: Database }): void {
  app.post<{ Body: { name: string; role: ApiKeyRole; tenantId?: string } }>(
    '/api-keys',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'role'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 100 },
            role: { enum: ['admin', 'operator', 'viewer'] },
            tenantId: { type: 'string', format: 'uuid' },
          },
        },
      },
    },
    async (request, reply) => {
      if (!requireRole(request, reply, 'admin')) return reply;
      const own = request.apiKey?.tenantId ?? null;
      const tenantId = request.body.tenantId ?? own;
      // A tenant key may only create keys of its tenant; another tenant is answered as unknown.
      if (tenantId !== null && !inTenantScope(request, tenantId)) {
        return sendProblem(reply, 'not-found', `no tenant ${tenantId}`);
      }
      if (tenantId === null && own !== null)
        return sendProblem(reply, 'forbidden', 'a tenant key cannot create platform keys');
      const { name, role } = request.body;
      try {
        const created = await deps.db.transaction(async (tx) => {
          const key = await createApiKeyRepository(tx).create({ tenantId, role, name });
          await createAuditRepository(tx).record({
            actorKeyId: request.apiKey?.id ?? null,
            tenantId,
            action: 'create',
            entity: 'api-key',
            entityId: key.id,
            before: null,
            after: { id: key.id, name, role, tenantId, token: '****' },
            sourceIp: request.ip,
          });
          return key;
        });
        return reply.code(201).send({ id: created.id, key: created.token, name, role, tenantId });
      } catch (err) {
        // The tenant id is well-formed but unknown: the foreign key refuses it.
        if ((err as { code?: string }).code === '23503')
          return sendProblem(reply, 'not-found', `no tenant ${tenantId}`);
        throw err;
      }
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api-keys/:id',
    {
      schema: {
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', pattern: '^[A-Za-z0-9]{4,32}$' } },
        },
      },
    },
    async (request, reply) => {
      if (!requirePlatformKey(request, reply) || !requireRole(request, reply, 'admin')) return reply;
      const revoked = await deps.db.transaction(async (tx) => {
        const done = await createApiKeyRepository(tx).revoke(request.params.id);
        if (done) {
          await createAuditRepository(tx).record({
            actorKeyId: request.apiKey?.id ?? null,
            tenantId: null,
            action: 'delete',
            entity: 'api-key',
            entityId: request.params.id,
            before: { id: request.params.id },
            after: null,
            sourceIp: request.ip,
          });
        }
        return done;
      });
      if (!revoked) return sendProblem(reply, 'not-found', `no active key ${request.params.id}`);
      return reply.code(204).send();
    },
  );
}
