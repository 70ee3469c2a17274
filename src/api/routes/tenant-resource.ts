import type { FastifyReply, FastifyRequest } from 'fastify';
import { createTenantRepository, type Database, type Tenant } from '../../store/index.js';
import { inTenantScope } from '../authorize.js';
import { sendProblem } from '../problem.js';

/**
 * The tenant of a `/tenants/{tenantId}/…` request, or undefined after answering 404: a tenant outside the
 * key's scope is answered exactly like one that does not exist (no way to learn other tenants' ids).
 */
export async function tenantOf(
  db: Database,
  request: FastifyRequest<{ Params: { tenantId: string } }>,
  reply: FastifyReply,
): Promise<Tenant | undefined> {
  const { tenantId } = request.params;
  const tenant = inTenantScope(request, tenantId)
    ? await createTenantRepository(db).findById(tenantId)
    : undefined;
  if (!tenant) sendProblem(reply, 'not-found', `no tenant ${tenantId}`);
  return tenant;
}
