import type { FastifyInstance } from 'fastify';
import {
  createAuditRepository,
  createSipUserRepository,
  createTenantRepository,
  type Database,
} from '../../store/index.js';
import { inTenantScope, requireRole } from '../authorize.js';
import { sendProblem } from '../problem.js';
import { isUniqueViolation, pageLimit } from './route-helpers.js';

/** HA1 = H(username:realm:password) for one algorithm; injected so the API layer holds no SIP code. */
export type Ha1Function = (
  algorithm: 'MD5' | 'SHA-256',
  username: string,
  realm: string,
  password: string,
) => string;

const tenantParams = {
  type: 'object',
  required: ['tenantId'],
  properties: { tenantId: { type: 'string', format: 'uuid' } },
} as const;

/**
 * `/v1/tenants/{tenantId}/users`: SIP users. The password is accepted once and stored only as HA1 values
 * for the tenant's realm; it is never returned.
 */
export function registerSipUserRoutes(app: FastifyInstance, deps: { db: Database; ha1: Ha1Function }): void {
  const tenants = createTenantRepository(deps.db);
  const users = createSipUserRepository(deps.db);
  app.post<{
    Params: { tenantId: string };
    Body: { username: string; password: string; displayName?: string };
  }>(
    '/tenants/:tenantId/users',
    {
      schema: {
        params: tenantParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'password'],
          properties: {
            username: { type: 'string', pattern: "^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,64}$" },
            password: { type: 'string', minLength: 8, maxLength: 128 },
            displayName: { type: 'string', maxLength: 200 },
          },
        },
      },
    },
    async (request, reply) => {
      const { tenantId } = request.params;
      const tenant = inTenantScope(request, tenantId) ? await tenants.findById(tenantId) : undefined;
      if (!tenant) return sendProblem(reply, 'not-found', `no tenant ${tenantId}`);
      if (!requireRole(request, reply, 'operator')) return reply;
      const { username, password, displayName } = request.body;
      try {
        const id = await deps.db.transaction(async (tx) => {
          const created = await createSipUserRepository(tx).create({
            tenantId,
            username,
            displayName,
            ha1Md5: deps.ha1('MD5', username, tenant.sipDomain, password),
            ha1Sha256: deps.ha1('SHA-256', username, tenant.sipDomain, password),
          });
          // The audit entry names the user, never the password or its HA1.
          await createAuditRepository(tx).record({
            actorKeyId: request.apiKey?.id ?? null,
            tenantId,
            action: 'create',
            entity: 'sip-user',
            entityId: created.id,
            before: null,
            after: { id: created.id, username, displayName: displayName ?? null },
            sourceIp: request.ip,
          });
          return created.id;
        });
        return reply
          .code(201)
          .header('location', `/v1/tenants/${tenantId}/users/${id}`)
          .send({
            id,
            tenantId,
            username,
            displayName: displayName ?? null,
            sipUri: `sip:${username}@${tenant.sipDomain}`,
          });
      } catch (err) {
        if (isUniqueViolation(err))
          return sendProblem(reply, 'conflict', `user ${username} already exists in this tenant`);
        throw err;
      }
    },
  );

  app.get<{ Params: { tenantId: string }; Querystring: { limit?: number; after?: string } }>(
    '/tenants/:tenantId/users',
    {
      schema: {
        params: tenantParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 500 }, after: { type: 'string' } },
        },
      },
    },
    async (request, reply) => {
      const { tenantId } = request.params;
      const tenant = inTenantScope(request, tenantId) ? await tenants.findById(tenantId) : undefined;
      if (!tenant) return sendProblem(reply, 'not-found', `no tenant ${tenantId}`);
      const limit = pageLimit(request.query.limit);
      const items = await users.list(tenantId, { limit, after: request.query.after });
      return { items, nextCursor: items.length === limit ? items.at(-1)?.username : null };
    },
  );
}
