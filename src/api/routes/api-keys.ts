import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  createApiKeyRepository,
  type ApiKeyInfo,
  type ApiKeyRole,
  type Database,
} from '../../store/index.js';
import { recordMutation } from '../audit-trail.js';
import { inTenantScope, requireRole } from '../authorize.js';
import { sendProblem } from '../problem.js';
import { apiKeySchema, pageOf, pageQueryProperties, responses, roleSchema, text, uuid } from '../schemas.js';
import { isForeignKeyViolation, nextCursor, pageLimit } from './route-helpers.js';

const TAGS = ['api-keys'];
const keyParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9]{4,32}$' } },
} as const;

/** Whether the calling key may see `key`: a platform key sees every key, a tenant key its tenant's only. */
function visible(request: FastifyRequest, key: ApiKeyInfo | undefined): key is ApiKeyInfo {
  const own = request.apiKey?.tenantId ?? null;
  return key !== undefined && (own === null || key.tenantId === own);
}

/**
 * `/v1/api-keys` (admin role): keys scoped to the platform (no tenant) or to one tenant, with a role
 * (admin, operator, viewer). The token is in the 201 response once; only a hash of its secret is stored.
 * A tenant admin manages its own tenant's keys only; other keys are answered as unknown (404).
 */
export function registerApiKeyRoutes(app: FastifyInstance, deps: { db: Database }): void {
  app.post<{ Body: { name: string; role: ApiKeyRole; tenantId?: string } }>(
    '/api-keys',
    {
      schema: {
        tags: TAGS,
        summary: 'Create an API key (admin); the key is shown in this response only',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'role'],
          properties: {
            name: text({ minLength: 1, maxLength: 100 }),
            role: roleSchema,
            tenantId: { ...uuid, description: "default: the calling key's tenant (none for a platform key)" },
          },
        },
        response: responses({
          201: {
            type: 'object',
            properties: {
              ...apiKeySchema.properties,
              key: { type: 'string', description: 'Authorization: Bearer <key>; not retrievable later' },
            },
          },
        }),
      },
    },
    async (request, reply) => {
      if (!requireRole(request, reply, 'admin')) return reply;
      const own = request.apiKey?.tenantId ?? null;
      const tenantId = request.body.tenantId ?? own;
      if (tenantId !== null && !inTenantScope(request, tenantId))
        return sendProblem(reply, 'not-found', `no tenant ${tenantId}`);
      const { name, role } = request.body;
      try {
        const created = await deps.db.transaction(async (tx) => {
          const keys = createApiKeyRepository(tx);
          const { id, token } = await keys.create({ tenantId, role, name });
          const info = (await keys.get(id))!;
          await recordMutation(tx, request, {
            tenantId,
            action: 'create',
            entity: 'api-key',
            entityId: id,
            after: info,
          });
          return { ...info, key: token };
        });
        return reply.code(201).header('location', `/v1/api-keys/${created.id}`).send(created);
      } catch (err) {
        // The tenant id is well-formed but unknown: the foreign key refuses it.
        if (isForeignKeyViolation(err)) return sendProblem(reply, 'not-found', `no tenant ${tenantId}`);
        throw err;
      }
    },
  );

  app.get<{
    Querystring: { limit?: number; after?: string; tenantId?: string; scope?: 'platform'; active?: boolean };
  }>(
    '/api-keys',
    {
      schema: {
        tags: TAGS,
        summary: 'List API keys (admin): a tenant admin sees its tenant’s keys',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...pageQueryProperties,
            tenantId: uuid,
            scope: { enum: ['platform'], description: 'platform keys only' },
            active: { type: 'boolean', description: 'leave revoked keys out' },
          },
        },
        response: responses({ 200: pageOf(apiKeySchema) }),
      },
    },
    async (request, reply) => {
      if (!requireRole(request, reply, 'admin')) return reply;
      const own = request.apiKey?.tenantId ?? null;
      const q = request.query;
      if (own !== null && q.tenantId !== undefined && q.tenantId !== own)
        return sendProblem(reply, 'not-found', `no tenant ${q.tenantId}`);
      if (own !== null && q.scope === 'platform') return { items: [], nextCursor: null };
      const tenantId = own ?? (q.scope === 'platform' ? null : q.tenantId);
      const limit = pageLimit(q.limit);
      const items = await createApiKeyRepository(deps.db).list({
        limit,
        ...(q.after === undefined ? {} : { after: q.after }),
        ...(tenantId === undefined ? {} : { tenantId }),
        ...(q.active ? { active: true } : {}),
      });
      return { items, nextCursor: nextCursor(items, limit, (k) => k.id) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api-keys/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Get an API key (admin); never its secret',
        params: keyParams,
        response: responses({ 200: apiKeySchema }),
      },
    },
    async (request, reply) => {
      if (!requireRole(request, reply, 'admin')) return reply;
      const key = await createApiKeyRepository(deps.db).get(request.params.id);
      return visible(request, key) ? key : sendProblem(reply, 'not-found', `no key ${request.params.id}`);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api-keys/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Revoke an API key (admin); it stops working at once',
        params: keyParams,
        response: responses({ 204: { type: 'null' } }),
      },
    },
    async (request, reply) => {
      if (!requireRole(request, reply, 'admin')) return reply;
      const revoked = await deps.db.transaction(async (tx) => {
        const keys = createApiKeyRepository(tx);
        const key = await keys.get(request.params.id);
        if (!visible(request, key) || key.revokedAt !== null || !(await keys.revoke(key.id))) return false;
        await recordMutation(tx, request, {
          tenantId: key.tenantId,
          action: 'delete',
          entity: 'api-key',
          entityId: key.id,
          before: key,
        });
        return true;
      });
      if (!revoked) return sendProblem(reply, 'not-found', `no active key ${request.params.id}`);
      return reply.code(204).send();
    },
  );
}
