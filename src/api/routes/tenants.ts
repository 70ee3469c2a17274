import type { FastifyInstance } from 'fastify';
import {
  createTenantRepository,
  type Database,
  type RecordingPolicy,
  type SipDigestAlgorithm,
  type Tenant,
} from '../../store/index.js';
import {
  digestAlgorithmsSchema,
  integer,
  nullableInteger,
  recordingPolicySchema,
  tenantSchema,
  text,
  uuid,
} from '../schemas.js';
import { platformScope, registerResource, type PlatformView } from './resource-routes.js';
import { isUniqueViolation } from './route-helpers.js';

interface TenantBody {
  name: string;
  sipDomain: string;
  maxConcurrentCalls?: number;
  maxCallsPerSecond?: number;
  sipDigestAlgorithms?: SipDigestAlgorithm[] | null;
  recording?: RecordingPolicy;
}

interface TenantPatchBody {
  name?: string;
  maxConcurrentCalls?: number | null;
  maxCallsPerSecond?: number | null;
  status?: Tenant['status'];
  sipDigestAlgorithms?: SipDigestAlgorithm[] | null;
  recording?: RecordingPolicy;
}

/**
 * `/v1/tenants`: a tenant is a SIP domain (the digest realm of its users) with its limits. Creating,
 * changing and deleting tenants is for platform admins; a tenant key sees its own tenant only. Made by the
 * resource factory in the platform scope (`platformScope`): tenants are what the other resources are scoped
 * by, so they are not under one themselves.
 */
export function registerTenantRoutes(app: FastifyInstance, deps: { db: Database }): void {
  registerResource<PlatformView, Tenant, TenantBody, TenantPatchBody, { after?: string }>(
    app,
    deps.db,
    platformScope(),
    {
      tag: 'tenants',
      entity: 'tenant',
      noun: 'tenant',
      role: 'admin',
      schemas: {
        item: tenantSchema,
        create: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'sipDomain'],
          properties: {
            name: text({ minLength: 1, maxLength: 200 }),
            sipDomain: {
              type: 'string',
              pattern: '^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\\.)*[A-Za-z0-9-]{1,63}$',
            },
            maxConcurrentCalls: integer({ minimum: 0 }),
            maxCallsPerSecond: integer({ minimum: 0 }),
            sipDigestAlgorithms: digestAlgorithmsSchema,
            recording: recordingPolicySchema,
          },
        },
        update: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            name: text({ minLength: 1, maxLength: 200 }),
            maxConcurrentCalls: nullableInteger({ minimum: 0 }),
            maxCallsPerSecond: nullableInteger({ minimum: 0 }),
            status: { enum: ['active', 'suspended'] },
            sipDigestAlgorithms: digestAlgorithmsSchema,
            recording: recordingPolicySchema,
          },
        },
        query: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: integer({ minimum: 1, maximum: 500 }), after: uuid },
        },
      },
      summaries: {
        create: 'Create a tenant (platform admin)',
        list: 'List tenants (a tenant key sees its own)',
        get: 'Get a tenant',
        update:
          'Change name, limits, status, digest algorithms or recording policy of a tenant (platform admin); ' +
          'suspended refuses its calls',
        delete: 'Delete a tenant and everything it owns (platform admin)',
      },
      list: (db, { onlyTenantId }, { limit, query }) =>
        createTenantRepository(db).list({ limit, after: query.after, onlyId: onlyTenantId }),
      get: (db, _, id) => createTenantRepository(db).findById(id),
      create: (tx, _, body) => createTenantRepository(tx).create(body),
      update: (tx, _, id, body) => createTenantRepository(tx).update(id, body),
      remove: (tx, _, id) => createTenantRepository(tx).delete(id),
      cursor: (t) => t.id,
      failure: (err, body) =>
        isUniqueViolation(err) && 'sipDomain' in body
          ? ['conflict', `a tenant already serves the SIP domain ${body.sipDomain}`]
          : undefined,
    },
  );
}
