import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { CALL_COMMANDS_STREAM, encodeOriginateCommand, type Database } from '../../store/index.js';
import type { SharedState } from '../../store/shared-state/index.js';
import { recordMutation } from '../audit-trail.js';
import { requireRole } from '../authorize.js';
import { responses, tenantParams } from '../schemas.js';
import { tenantOf } from './tenant-resource.js';

/** A party of a placed call: a user name of the tenant, or a number (E.164 or as the tenant's routes take it). */
const party = (description: string) =>
  ({ type: 'string', pattern: '^[A-Za-z0-9+*#._-]{1,64}$', description }) as const;

/** How long each party is rung at most, seconds. */
const MAX_TIMEOUT_SECONDS = 300;

const placedCallSchema = {
  type: 'object',
  properties: {
    callId: { type: 'string', description: 'The call’s id: its live call’s, its events’ and its CDR’s' },
    tenantId: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    state: { enum: ['placing'] },
  },
} as const;

/**
 * `POST /v1/tenants/{tenantId}/calls`: click-to-call. The API cannot ring anyone itself (calls live in the
 * gateway replicas), so it gives the call an id and publishes an `originate` command on the call command stream,
 * inside the audit entry's transaction; one gateway replica takes it (`followPlacedCalls`) and places the call.
 * What happens next is in the call's events (webhooks, the event stream), its live call and its CDR, under
 * the id answered here.
 */
export function registerPlaceCallRoute(
  app: FastifyInstance,
  deps: { db: Database; state: SharedState },
): void {
  app.post<{
    Params: { tenantId: string };
    Body: { from: string; to: string; callerId?: string; timeoutSeconds?: number };
  }>(
    '/tenants/:tenantId/calls',
    {
      schema: {
        tags: ['calls'],
        summary:
          'Places a call (operator), click-to-call: rings `from` (a user’s registered phones, or a number through ' +
          'the tenant’s routes), showing it who it will be connected to, and once it answers calls `to` as if ' +
          '`from` had dialled it (the same routing and limits), then bridges them. 202 with the call’s id: the ' +
          'call goes on in a gateway replica; follow it by its events (webhooks, GET …/events/stream), ' +
          '`GET …/calls/live` and, once ended, `GET …/calls/{callId}`. If `from` does not answer the call ends ' +
          '(a CDR, `call.ended`); if `to` fails, `from` gets a BYE whose Reason says why',
        params: tenantParams,
        body: {
          type: 'object',
          required: ['from', 'to'],
          additionalProperties: false,
          properties: {
            from: party('Rung first: a user of the tenant (`alice`) or a number (`+15551234567`)'),
            to: party('Called once `from` answers, as if `from` had dialled it: a user or a number'),
            callerId: party('What `from` is shown as the caller (default: `to`)'),
            timeoutSeconds: {
              type: 'integer',
              minimum: 5,
              maximum: MAX_TIMEOUT_SECONDS,
              description:
                'How long each party is rung before the call gives up (default: the gateway’s ring timeout)',
            },
          },
          examples: [
            { from: 'alice', to: 'bob' },
            { from: 'alice', to: '+15551234567', timeoutSeconds: 30 },
          ],
        },
        response: responses({ 202: placedCallSchema }),
      },
    },
    async (request, reply) => {
      const tenant = await tenantOf(deps.db, request, reply);
      if (!tenant || !requireRole(request, reply, 'operator')) return reply;
      const { from, to, callerId, timeoutSeconds } = request.body;
      const callId = randomUUID();
      // The command is published inside the audit entry's transaction: not published, not audited.
      await deps.db.transaction(async (tx) => {
        await recordMutation(tx, request, {
          tenantId: tenant.id,
          action: 'create',
          entity: 'call',
          entityId: callId,
          after: {
            from,
            to,
            ...(callerId ? { callerId } : {}),
            ...(timeoutSeconds ? { timeoutSeconds } : {}),
          },
        });
        await deps.state.events.publish(
          CALL_COMMANDS_STREAM,
          encodeOriginateCommand({
            type: 'originate',
            callId,
            tenantId: tenant.id,
            domain: tenant.sipDomain,
            from,
            to,
            at: Date.now(),
            ...(callerId ? { callerId } : {}),
            ...(timeoutSeconds ? { timeoutSeconds } : {}),
          }),
        );
      });
      return reply
        .code(202)
        .header('location', `/v1/tenants/${tenant.id}/calls/${callId}`)
        .send({ callId, tenantId: tenant.id, from, to, state: 'placing' });
    },
  );
}
