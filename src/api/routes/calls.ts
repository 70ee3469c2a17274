import type { FastifyInstance } from 'fastify';
import { createCdrRepository, type Cdr, type Database } from '../../store/index.js';
import type { SharedState } from '../../store/shared-state/index.js';
import { pageLimit } from './route-helpers.js';
import { pageQuery, tenantOf, tenantParams } from './tenant-resource.js';

const CSV_COLUMNS = [
  'callId',
  'direction',
  'from',
  'to',
  'trunkId',
  'startedAt',
  'answeredAt',
  'endedAt',
  'durationSeconds',
  'disposition',
  'sipCode',
  'hangupBy',
] as const;

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvField(value: unknown): string {
  const text =
    value instanceof Date ? value.toISOString() : value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function toCsv(rows: readonly Cdr[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) lines.push(CSV_COLUMNS.map((c) => csvField(r[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * `/v1/tenants/{tenantId}/calls` (CDRs, newest first, filtered, JSON or CSV), `/calls/live` and
 * `/registrations` (from shared state: what the gateways see now).
 */
export function registerCallRoutes(app: FastifyInstance, deps: { db: Database; state: SharedState }): void {
  app.get<{
    Params: { tenantId: string };
    Querystring: {
      since?: string;
      until?: string;
      disposition?: Cdr['disposition'];
      party?: string;
      limit?: number;
      after?: string;
      format?: 'json' | 'csv';
    };
  }>(
    '/tenants/:tenantId/calls',
    {
      schema: {
        params: tenantParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...pageQuery,
            since: { type: 'string', format: 'date-time' },
            until: { type: 'string', format: 'date-time' },
            disposition: {
              enum: ['answered', 'busy', 'no-answer', 'cancelled', 'rejected', 'failed', 'limited'],
            },
            party: { type: 'string', minLength: 1, maxLength: 200 },
            format: { enum: ['json', 'csv'] },
          },
        },
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const q = request.query;
      const limit = pageLimit(q.limit);
      const items = await createCdrRepository(deps.db).list(tenant.id, {
        limit,
        ...(q.since ? { since: new Date(q.since) } : {}),
        ...(q.until ? { until: new Date(q.until) } : {}),
        ...(q.disposition ? { disposition: q.disposition } : {}),
        ...(q.party ? { party: q.party } : {}),
        ...(q.after ? { after: q.after } : {}),
      });
      const nextCursor = items.length === limit ? (items.at(-1)?.callId ?? null) : null;
      if (q.format === 'csv') {
        if (nextCursor)
          reply.header('link', `<?after=${encodeURIComponent(nextCursor)}&format=csv>; rel="next"`);
        return reply.type('text/csv; charset=utf-8').send(toCsv(items));
      }
      return { items, nextCursor };
    },
  );

  app.get<{ Params: { tenantId: string } }>(
    '/tenants/:tenantId/calls/live',
    { schema: { params: tenantParams } },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      return { items: await deps.state.calls.listByTenant(tenant.id) };
    },
  );

  app.get<{ Params: { tenantId: string } }>(
    '/tenants/:tenantId/registrations',
    { schema: { params: tenantParams } },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const now = Date.now();
      const items = (await deps.state.registrations.listByTenant(tenant.id)).map(({ aor, binding }) => ({
        aor,
        contact: binding.contact,
        expiresInSeconds: Math.max(0, Math.round((binding.expiresAt - now) / 1000)),
        source: `${binding.source.address}:${binding.source.port}`,
        transport: binding.transport,
        userAgent: binding.userAgent ?? null,
        gateway: binding.gateway ?? null,
      }));
      return { items };
    },
  );
}
