import type { FastifyInstance } from 'fastify';
import { createCdrRepository, type Cdr, type Database } from '../../store/index.js';
import type { LiveCall, SharedState } from '../../store/shared-state/index.js';
import { sendProblem } from '../problem.js';
import {
  CALL_ID_MAX_LENGTH,
  cdrSchema,
  dateTime,
  instant,
  pageOf,
  nullableDateTime,
  pageQueryProperties,
  responses,
  tenantParams,
  text,
} from '../schemas.js';
import { nextCursor, pageLimit } from './route-helpers.js';
import { tenantOf } from './tenant-resource.js';

const TAGS = ['calls'];

const liveCallSchema = {
  type: 'object',
  properties: {
    callId: { type: 'string' },
    tenantId: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    state: { enum: ['setup', 'ringing', 'answered', 'ending'] },
    startedAt: dateTime,
    answeredAt: { ...nullableDateTime, description: 'null until the call is answered' },
    gateway: { type: 'string' },
  },
} as const;

/**
 * A live call as the API gives it: instants in ISO 8601 like a CDR's (shared state keeps epoch milliseconds),
 * `answeredAt` null until the answer.
 */
function liveCallView({ startedAt, answeredAt, ...call }: LiveCall) {
  return {
    ...call,
    startedAt: new Date(startedAt).toISOString(),
    answeredAt: answeredAt === undefined ? null : new Date(answeredAt).toISOString(),
  };
}

const registrationSchema = {
  type: 'object',
  properties: {
    aor: { type: 'string' },
    contact: { type: 'string' },
    expiresInSeconds: { type: 'integer' },
    source: { type: 'string' },
    transport: { type: 'string' },
    userAgent: { type: ['string', 'null'] },
    gateway: { type: ['string', 'null'] },
  },
} as const;

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
  'reason',
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
        tags: TAGS,
        summary: 'CDRs, newest first, filtered by time, party and disposition; format=csv for CSV',
        params: tenantParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...pageQueryProperties,
            since: instant,
            until: instant,
            disposition: {
              enum: ['answered', 'busy', 'no-answer', 'cancelled', 'rejected', 'failed', 'limited'],
            },
            party: text({ minLength: 1, maxLength: 200 }),
            format: { enum: ['json', 'csv'] },
          },
        },
        response: responses({ 200: pageOf(cdrSchema) }),
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
      const next = nextCursor(items, limit, (c) => c.callId);
      if (q.format === 'csv') {
        if (next) reply.header('link', `<?after=${encodeURIComponent(next)}&format=csv>; rel="next"`);
        // The CSV is sent as a string: the JSON response schema does not apply to it.
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="calls-${tenant.id}.csv"`)
          .serializer((payload) => String(payload))
          .send(toCsv(items));
      }
      return { items, nextCursor: next };
    },
  );

  app.get<{ Params: { tenantId: string; callId: string } }>(
    '/tenants/:tenantId/calls/:callId',
    {
      schema: {
        tags: TAGS,
        summary: 'One CDR by call id',
        params: {
          type: 'object',
          required: ['tenantId', 'callId'],
          properties: {
            tenantId: tenantParams.properties.tenantId,
            callId: text({ minLength: 1, maxLength: CALL_ID_MAX_LENGTH }),
          },
        },
        response: responses({ 200: cdrSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const cdr = await createCdrRepository(deps.db).get(tenant.id, request.params.callId);
      return cdr ?? sendProblem(reply, 'not-found', `no call ${request.params.callId}`);
    },
  );

  app.get<{ Params: { tenantId: string } }>(
    '/tenants/:tenantId/calls/live',
    {
      schema: {
        tags: TAGS,
        summary: 'Calls in progress now (shared state)',
        params: tenantParams,
        response: responses({
          200: { type: 'object', properties: { items: { type: 'array', items: liveCallSchema } } },
        }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      return { items: (await deps.state.calls.listByTenant(tenant.id)).map(liveCallView) };
    },
  );

  app.get<{ Params: { tenantId: string } }>(
    '/tenants/:tenantId/registrations',
    {
      schema: {
        tags: ['registrations'],
        summary: 'Registered contacts of the tenant’s users now (shared state)',
        params: tenantParams,
        response: responses({
          200: { type: 'object', properties: { items: { type: 'array', items: registrationSchema } } },
        }),
      },
    },
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
