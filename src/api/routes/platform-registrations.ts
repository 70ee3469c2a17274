import type { FastifyInstance } from 'fastify';
import { createTenantRepository, type Database } from '../../store/index.js';
import type { SharedState } from '../../store/shared-state/index.js';
import { requirePlatformKey, requireRole } from '../authorize.js';
import { responses } from '../schemas.js';
import { registrationSchema, registrationView } from './calls.js';

/** Tenants read per page while listing; registrations returned at most. */
const TENANT_PAGE = 200;
const MAX_ITEMS = 5000;

const querySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    user: { type: 'string', maxLength: 200, description: 'part of the address-of-record (case-insensitive)' },
    source: {
      type: 'string',
      maxLength: 100,
      description: 'the start of the source address, e.g. 203.0.113.',
    },
    userAgent: { type: 'string', maxLength: 200, description: 'part of the User-Agent (case-insensitive)' },
    tenantId: { type: 'string', format: 'uuid' },
    limit: { type: 'integer', minimum: 1, maximum: MAX_ITEMS, default: 500 },
  },
} as const;

interface Query {
  user?: string;
  source?: string;
  userAgent?: string;
  tenantId?: string;
  limit?: number;
}

/**
 * `GET /v1/registrations` (platform admin): every tenant's registered contacts now, from shared state, filtered by
 * user, source and user agent — to find a phone whose tenant is not known, or every phone behind one address or
 * of one model. Each item names its tenant.
 */
export function registerPlatformRegistrationRoutes(
  app: FastifyInstance,
  deps: { db: Database; state: SharedState },
): void {
  app.get<{ Querystring: Query }>(
    '/registrations',
    {
      schema: {
        tags: ['registrations'],
        summary: 'Registered contacts of every tenant now, filtered (platform admin)',
        querystring: querySchema,
        response: responses({
          200: {
            type: 'object',
            properties: {
              items: {
                type: 'array',
                items: {
                  ...registrationSchema,
                  properties: { ...registrationSchema.properties, tenantId: { type: 'string' } },
                },
              },
              truncated: { type: 'boolean' },
            },
          },
        }),
      },
    },
    async (request, reply) => {
      if (!requirePlatformKey(request, reply) || !requireRole(request, reply, 'admin')) return reply;
      const { user, source, userAgent, tenantId } = request.query;
      const limit = request.query.limit ?? 500;
      const tenants = createTenantRepository(deps.db);
      const now = Date.now();
      const items: (ReturnType<typeof registrationView> & { tenantId: string })[] = [];
      const wanted = (view: ReturnType<typeof registrationView>) =>
        (!user || view.aor.toLowerCase().includes(user.toLowerCase())) &&
        (!source || view.source.startsWith(source)) &&
        (!userAgent || (view.userAgent ?? '').toLowerCase().includes(userAgent.toLowerCase()));
      let after: string | undefined;
      for (;;) {
        const page = await tenants.list({
          limit: TENANT_PAGE,
          ...(after ? { after } : {}),
          ...(tenantId ? { onlyId: tenantId } : {}),
        });
        for (const tenant of page) {
          for (const { aor, binding } of await deps.state.registrations.listByTenant(tenant.id)) {
            const view = registrationView(aor, binding, now);
            if (!wanted(view)) continue;
            if (items.length === limit) return { items, truncated: true };
            items.push({ ...view, tenantId: tenant.id });
          }
        }
        if (page.length < TENANT_PAGE || tenantId) break;
        after = page[page.length - 1]!.id;
      }
      return { items, truncated: false };
    },
  );
}
