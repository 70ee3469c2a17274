import type { FastifyInstance } from 'fastify';
import { createNumberRepository, type Database, type PhoneNumber } from '../../store/index.js';
import { e164Schema, numberSchema, pageQueryProperties, uuid } from '../schemas.js';
import { registerTenantResource } from './resource-routes.js';
import { isUniqueViolation } from './route-helpers.js';

interface NumberBody {
  e164: string;
  userId?: string;
}

interface NumberPatchBody {
  userId: string | null;
}

/**
 * `/v1/tenants/{tenantId}/numbers`: the tenant's DIDs (E.164) and the user each rings. A user of another
 * tenant is answered like one that does not exist.
 */
export function registerNumberRoutes(app: FastifyInstance, deps: { db: Database }): void {
  registerTenantResource<PhoneNumber, NumberBody, NumberPatchBody, { after?: string; userId?: string }>(
    app,
    deps.db,
    {
      path: 'numbers',
      tag: 'numbers',
      entity: 'number',
      noun: 'number',
      role: 'operator',
      schemas: {
        item: numberSchema,
        create: {
          type: 'object',
          additionalProperties: false,
          required: ['e164'],
          properties: { e164: e164Schema, userId: uuid },
        },
        update: {
          type: 'object',
          additionalProperties: false,
          required: ['userId'],
          properties: { userId: { type: ['string', 'null'], format: 'uuid' } },
        },
        query: {
          type: 'object',
          additionalProperties: false,
          properties: { ...pageQueryProperties, userId: uuid },
        },
      },
      summaries: {
        create: 'Add a number (operator)',
        list: 'List numbers in E.164 order, optionally of one user',
        get: 'Get a number',
        update: 'Assign a number to another user, or none (operator)',
        delete: 'Remove a number (operator)',
      },
      list: (db, tenant, { limit, query }) =>
        createNumberRepository(db).list(tenant.id, { limit, after: query.after, userId: query.userId }),
      get: (db, tenant, id) => createNumberRepository(db).get(tenant.id, id),
      create: (tx, tenant, body) => createNumberRepository(tx).create({ tenantId: tenant.id, ...body }),
      update: (tx, tenant, id, body) => createNumberRepository(tx).assign(tenant.id, id, body.userId),
      remove: (tx, tenant, id) => createNumberRepository(tx).delete(tenant.id, id),
      cursor: (n) => n.e164,
      failure(err, body) {
        if (isUniqueViolation(err) && 'e164' in body) return ['conflict', `${body.e164} is already assigned`];
        if (err instanceof RangeError) return ['not-found', `no user ${body.userId}`];
        return undefined;
      },
    },
  );
}
