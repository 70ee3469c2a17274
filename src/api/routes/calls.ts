import type { FastifyInstance } from 'fastify';
import {
  CALL_COMMANDS_STREAM,
  createCdrRepository,
  createRecordingRepository,
  encodeCallCommand,
  type Cdr,
  type Database,
} from '../../store/index.js';
import type { Binding, LiveCall, SharedState } from '../../store/shared-state/index.js';
import { recordMutation } from '../audit-trail.js';
import { requireRole } from '../authorize.js';
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

/** A call of the tenant by its Call-ID (a CDR, or a live call). */
export const callParams = {
  type: 'object',
  required: ['tenantId', 'callId'],
  properties: {
    tenantId: tenantParams.properties.tenantId,
    callId: text({ minLength: 1, maxLength: CALL_ID_MAX_LENGTH }),
  },
} as const;

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
    recording: { type: 'boolean', description: 'the media relay is recording the call' },
    recordingPolicy: {
      enum: ['off', 'always', 'on-demand'],
      description: "the call's recording policy (its user's, route's or tenant's)",
    },
  },
} as const;

/**
 * A live call as the API gives it: instants in ISO 8601 like a CDR's (shared state keeps epoch milliseconds),
 * `answeredAt` null until the answer.
 */
function liveCallView({ startedAt, answeredAt, recording, ...call }: LiveCall) {
  return {
    ...call,
    recording: recording === true,
    startedAt: new Date(startedAt).toISOString(),
    answeredAt: answeredAt === undefined ? null : new Date(answeredAt).toISOString(),
  };
}

/** A registered contact as the API gives it (`now` for the seconds until it expires). */
export function registrationView(aor: string, binding: Binding, now: number) {
  return {
    aor,
    contact: binding.contact,
    expiresInSeconds: Math.max(0, Math.round((binding.expiresAt - now) / 1000)),
    source: `${binding.source.address}:${binding.source.port}`,
    transport: binding.transport,
    userAgent: binding.userAgent ?? null,
    gateway: binding.gateway ?? null,
  };
}

/** A transfer target: a user name, a number, or a sip:/sips:/tel: URI. */
const TRANSFER_TARGET_MAX_LENGTH = 300;

/** An address-of-record as the registrations list shows it, e.g. `sip:alice@acme.example`. */
const AOR_MAX_LENGTH = 300;
const CONTACT_MAX_LENGTH = 2000;

export const registrationSchema = {
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
  // Last: columns added later go at the end, so scripts reading by position keep working.
  'ringingAt',
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
 * `/registrations` (from shared state: what the gateways see now); ending a live call (a command to the
 * gateway replica holding it, on the call command stream) and removing registrations (from shared state).
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
      if (q.format !== 'csv') {
        const recorded = await createRecordingRepository(deps.db).idsByCall(
          tenant.id,
          items.map((c) => c.callId),
        );
        return {
          items: items.map((c) => ({ ...c, recordingIds: recorded.get(c.callId) ?? [] })),
          nextCursor: next,
        };
      }
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
        params: callParams,
        response: responses({ 200: cdrSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant) return reply;
      const cdr = await createCdrRepository(deps.db).get(tenant.id, request.params.callId);
      if (!cdr) return sendProblem(reply, 'not-found', `no call ${request.params.callId}`);
      const recorded = await createRecordingRepository(deps.db).idsByCall(tenant.id, [cdr.callId]);
      return { ...cdr, recordingIds: recorded.get(cdr.callId) ?? [] };
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
      const items = (await deps.state.registrations.listByTenant(tenant.id)).map(({ aor, binding }) =>
        registrationView(aor, binding, now),
      );
      return { items };
    },
  );

  app.delete<{ Params: { tenantId: string; callId: string } }>(
    '/tenants/:tenantId/calls/live/:callId',
    {
      schema: {
        tags: TAGS,
        summary:
          'Ends a live call (operator): BYE on both legs once answered, before that CANCEL to the callee and ' +
          '487 to the caller; its CDR says hangupBy "api". 202: the replica holding the call ends it',
        params: callParams,
        response: responses({ 202: liveCallSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const { callId } = request.params;
      const live = await deps.state.calls.get(callId);
      if (!live || live.tenantId !== tenant.id || live.gateway === undefined)
        return sendProblem(reply, 'not-found', `no live call ${callId}`);
      const gateway = live.gateway;
      // The command is published inside the audit entry's transaction: not published, not audited.
      await deps.db.transaction(async (tx) => {
        await recordMutation(tx, request, {
          tenantId: tenant.id,
          action: 'delete',
          entity: 'live-call',
          entityId: callId,
          before: liveCallView(live),
        });
        await deps.state.events.publish(
          CALL_COMMANDS_STREAM,
          encodeCallCommand({ type: 'hangup', callId, tenantId: tenant.id, gateway, at: Date.now() }),
        );
      });
      return reply.code(202).send(liveCallView(live));
    },
  );

  app.post<{
    Params: { tenantId: string; callId: string };
    Body: { party: 'caller' | 'callee'; target: string };
  }>(
    '/tenants/:tenantId/calls/live/:callId/transfer',
    {
      schema: {
        tags: TAGS,
        summary:
          'Blind transfer of a live, answered call (operator): `party` stays and is connected to `target` (a ' +
          'user of the tenant or a number), the other party is released once the target answers. The target ' +
          'is authorized as a call from the party released (the same routing and limits as its own calls). ' +
          '202: the replica holding the call carries it out; the transferred call gets a CDR of its own with ' +
          '`transferredFrom`, and the original call ends with reason "transferred"',
        params: callParams,
        body: {
          type: 'object',
          required: ['party', 'target'],
          additionalProperties: false,
          properties: {
            party: { enum: ['caller', 'callee'], description: 'The party that stays in the call' },
            target: {
              ...text({ minLength: 1, maxLength: TRANSFER_TARGET_MAX_LENGTH }),
              description: 'A user of the tenant (`carol`), a number (`+15551234567`), or a sip:/tel: URI',
            },
          },
          examples: [{ party: 'caller', target: 'carol' }],
        },
        response: responses({ 202: liveCallSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const { callId } = request.params;
      const { party, target } = request.body;
      const live = await deps.state.calls.get(callId);
      if (!live || live.tenantId !== tenant.id || live.gateway === undefined)
        return sendProblem(reply, 'not-found', `no live call ${callId}`);
      const gateway = live.gateway;
      const uri = /^(sips?|tel):/i.test(target) ? target : `sip:${target}@${tenant.sipDomain}`;
      await deps.db.transaction(async (tx) => {
        await recordMutation(tx, request, {
          tenantId: tenant.id,
          action: 'update',
          entity: 'live-call',
          entityId: callId,
          before: liveCallView(live),
          after: { transfer: { party, target: uri } },
        });
        await deps.state.events.publish(
          CALL_COMMANDS_STREAM,
          encodeCallCommand({
            type: 'transfer',
            callId,
            tenantId: tenant.id,
            gateway,
            at: Date.now(),
            party,
            target: uri,
          }),
        );
      });
      return reply.code(202).send(liveCallView(live));
    },
  );

  app.delete<{ Params: { tenantId: string; aor: string }; Querystring: { contact?: string } }>(
    '/tenants/:tenantId/registrations/:aor',
    {
      schema: {
        tags: ['registrations'],
        summary:
          'Removes the registered contacts of an AOR (operator), or only `contact`: calls no longer go to them ' +
          'until the phone registers again',
        params: {
          type: 'object',
          required: ['tenantId', 'aor'],
          properties: {
            tenantId: tenantParams.properties.tenantId,
            aor: text({ minLength: 1, maxLength: AOR_MAX_LENGTH }),
          },
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { contact: text({ minLength: 1, maxLength: CONTACT_MAX_LENGTH }) },
        },
        response: responses({ 204: { type: 'null' } }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const { aor } = request.params;
      const { contact } = request.query;
      const kicked = (await deps.state.registrations.list(aor)).filter(
        (b) => b.tenantId === tenant.id && (contact === undefined || b.contact === contact),
      );
      if (kicked.length === 0) {
        return sendProblem(
          reply,
          'not-found',
          contact === undefined ? `no registration of ${aor}` : `no registration of ${aor} at ${contact}`,
        );
      }
      const now = Date.now();
      // Removed inside the audit entry's transaction: a removal that fails leaves no audit entry.
      await deps.db.transaction(async (tx) => {
        await recordMutation(tx, request, {
          tenantId: tenant.id,
          action: 'delete',
          entity: 'registration',
          entityId: aor,
          before: kicked.map((b) => registrationView(aor, b, now)),
        });
        for (const b of kicked) await deps.state.registrations.remove(aor, b.contact);
      });
      return reply.code(204).send();
    },
  );
}
