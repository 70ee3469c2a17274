import type { FastifyReply, FastifyRequest } from 'fastify';
import { encodeProvisioningChange, PROVISIONING_CHANGES_STREAM } from '../store/index.js';
import type { EventStreams } from '../store/shared-state/index.js';

const MUTATIONS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/**
 * Changes to live state (ending a call, removing a registration) and to webhooks (read by the worker only):
 * nothing a gateway caches from the store.
 */
const LIVE_STATE = /^\/v1\/tenants\/:tenantId\/(?:calls|registrations|webhooks)(?:\/|$)/;

/**
 * An `onResponse` hook: a successful mutation under /v1/tenants is announced on the provisioning change stream
 * once its response is sent (its transaction has committed), so that running gateways drop what they cached.
 * A failed publish is logged: gateways' caches also expire on their own.
 */
export function announceProvisioningChanges(events: Pick<EventStreams, 'publish'>) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const route = request.routeOptions.url;
    if (!MUTATIONS.has(request.method) || reply.statusCode >= 300 || !route?.startsWith('/v1/tenants'))
      return;
    if (LIVE_STATE.test(route)) return;
    const params = request.params as { tenantId?: unknown } | undefined;
    const tenantId = typeof params?.tenantId === 'string' ? params.tenantId : '';
    try {
      await events.publish(
        PROVISIONING_CHANGES_STREAM,
        encodeProvisioningChange({ route, method: request.method, tenantId, at: Date.now() }),
      );
    } catch (err) {
      request.log.warn(
        { err, route },
        'provisioning change not announced; gateway caches catch up on expiry',
      );
    }
  };
}
