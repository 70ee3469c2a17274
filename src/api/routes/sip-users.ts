import type { FastifyInstance } from 'fastify';
import {
  createSipUserRepository,
  type Database,
  type SipUser,
  type SipUserPatch,
  type Tenant,
} from '../../store/index.js';
import { recordMutation } from '../audit-trail.js';
import { requireRole } from '../authorize.js';
import { sendProblem } from '../problem.js';
import {
  integer,
  natSchema,
  nullableInteger,
  nullableText,
  pageOf,
  pageQuery,
  responses,
  tenantObjectParams,
  tenantParams,
  text,
  userSchema,
} from '../schemas.js';
import { isUniqueViolation, nextCursor, pageLimit } from './route-helpers.js';
import { tenantOf } from './tenant-resource.js';

/** HA1 = H(username:realm:password) for one algorithm; injected so the API layer holds no SIP code. */
export type Ha1Function = (
  algorithm: 'MD5' | 'SHA-256',
  username: string,
  realm: string,
  password: string,
) => string;

const TAGS = ['users'];

const userFields = {
  username: { type: 'string', pattern: "^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,64}$" },
  password: { ...text({ minLength: 8, maxLength: 128 }), writeOnly: true },
  displayName: text({ maxLength: 200 }),
  callerId: text({ minLength: 1, maxLength: 64 }),
  enabled: { type: 'boolean' },
  maxConcurrentCalls: integer({ minimum: 0 }),
  nat: natSchema,
} as const;

interface UserBody {
  username: string;
  password: string;
  displayName?: string;
  callerId?: string;
  enabled?: boolean;
  maxConcurrentCalls?: number;
  nat?: 'auto' | 'force' | 'off';
}

interface UserPatchBody {
  password?: string;
  displayName?: string | null;
  callerId?: string | null;
  enabled?: boolean;
  maxConcurrentCalls?: number | null;
  nat?: 'auto' | 'force' | 'off';
}

const publicUser = (user: SipUser, tenant: Tenant) => ({
  ...user,
  sipUri: `sip:${user.username}@${tenant.sipDomain}`,
});

/**
 * `/v1/tenants/{tenantId}/users`: SIP users. The password is accepted and turned into HA1 values for the
 * tenant's realm; it is never stored, returned or audited.
 */
export function registerSipUserRoutes(app: FastifyInstance, deps: { db: Database; ha1: Ha1Function }): void {
  const ha1Of = (tenant: Tenant, username: string, password: string) => ({
    md5: deps.ha1('MD5', username, tenant.sipDomain, password),
    sha256: deps.ha1('SHA-256', username, tenant.sipDomain, password),
  });

  app.post<{ Params: { tenantId: string }; Body: UserBody }>(
    '/tenants/:tenantId/users',
    {
      schema: {
        tags: TAGS,
        summary: 'Create a SIP user (operator)',
        params: tenantParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'password'],
          properties: userFields,
        },
        response: responses({ 201: userSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const { password, ...rest } = request.body;
      const ha1 = ha1Of(tenant, rest.username, password);
      try {
        const user = await deps.db.transaction(async (tx) => {
          const created = await createSipUserRepository(tx).create({
            ...rest,
            tenantId: tenant.id,
            ha1Md5: ha1.md5,
            ha1Sha256: ha1.sha256,
          });
          await recordMutation(tx, request, {
            tenantId: tenant.id,
            action: 'create',
            entity: 'sip-user',
            entityId: created.id,
            after: created,
          });
          return created;
        });
        return reply
          .code(201)
          .header('location', `/v1/tenants/${tenant.id}/users/${user.id}`)
          .send(publicUser(user, tenant));
      } catch (err) {
        if (isUniqueViolation(err))
          return sendProblem(reply, 'conflict', `user ${rest.username} already exists in this tenant`);
        throw err;
      }
    },
  );

  app.get<{ Params: { tenantId: string }; Querystring: { limit?: number; after?: string } }>(
    '/tenants/:tenantId/users',
    {
      schema: {
        tags: TAGS,
        summary: 'List SIP users by username',
        params: tenantParams,
        querystring: pageQuery,
        response: responses({ 200: pageOf(userSchema) }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const limit = pageLimit(request.query.limit);
      const items = await createSipUserRepository(deps.db).list(tenant.id, {
        limit,
        after: request.query.after,
      });
      return {
        items: items.map((u) => publicUser(u, tenant)),
        nextCursor: nextCursor(items, limit, (u) => u.username),
      };
    },
  );

  app.get<{ Params: { tenantId: string; id: string } }>(
    '/tenants/:tenantId/users/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Get a SIP user',
        params: tenantObjectParams,
        response: responses({ 200: userSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const user = await createSipUserRepository(deps.db).get(tenant.id, request.params.id);
      return user
        ? publicUser(user, tenant)
        : sendProblem(reply, 'not-found', `no user ${request.params.id}`);
    },
  );

  app.patch<{ Params: { tenantId: string; id: string }; Body: UserPatchBody }>(
    '/tenants/:tenantId/users/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Change a SIP user (operator): password, names, limits, enabled, nat',
        params: tenantObjectParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            password: userFields.password,
            displayName: nullableText({ maxLength: 200 }),
            callerId: nullableText({ minLength: 1, maxLength: 64 }),
            enabled: userFields.enabled,
            maxConcurrentCalls: nullableInteger({ minimum: 0 }),
            nat: userFields.nat,
          },
        },
        response: responses({ 200: userSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const { password, ...rest } = request.body;
      const changed = await deps.db.transaction(async (tx) => {
        const users = createSipUserRepository(tx);
        let patch: SipUserPatch = rest;
        if (password !== undefined) {
          const current = await users.get(tenant.id, request.params.id);
          if (!current) return undefined;
          patch = { ...rest, ha1: ha1Of(tenant, current.username, password) };
        }
        const result = await users.update(tenant.id, request.params.id, patch);
        if (result) {
          await recordMutation(tx, request, {
            tenantId: tenant.id,
            action: 'update',
            entity: 'sip-user',
            entityId: request.params.id,
            before: result.before,
            after: { ...result.after, ...(password === undefined ? {} : { password }) },
          });
        }
        return result;
      });
      return changed
        ? publicUser(changed.after, tenant)
        : sendProblem(reply, 'not-found', `no user ${request.params.id}`);
    },
  );

  app.delete<{ Params: { tenantId: string; id: string } }>(
    '/tenants/:tenantId/users/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Delete a SIP user (operator); its numbers become unassigned',
        params: tenantObjectParams,
        response: responses({ 204: { type: 'null' } }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const deleted = await deps.db.transaction(async (tx) => {
        const user = await createSipUserRepository(tx).delete(tenant.id, request.params.id);
        if (user) {
          await recordMutation(tx, request, {
            tenantId: tenant.id,
            action: 'delete',
            entity: 'sip-user',
            entityId: user.id,
            before: user,
          });
        }
        return user;
      });
      if (!deleted) return sendProblem(reply, 'not-found', `no user ${request.params.id}`);
      return reply.code(204).send();
    },
  );
}
