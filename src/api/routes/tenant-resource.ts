import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  createAuditRepository,
  createTenantRepository,
  type Database,
  type Queryable,
  type Tenant,
} from '../../store/index.js';
import { inTenantScope } from '../authorize.js';
import { sendProblem } from '../problem.js';

export const tenantParams = {
  type: 'object',
  required: ['tenantId'],
  properties: { tenantId: { type: 'string', format: 'uuid' } },
} as const;

export const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 500 },
  after: { type: 'string', maxLength: 200 },
} as const;

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

/** Records a creation in the audit log, in the caller's transaction; `after` must hold no secret. */
export function auditCreate(
  tx: Queryable,
  request: FastifyRequest,
  tenantId: string,
  entity: string,
  entityId: string,
  after: Record<string, unknown>,
): Promise<void> {
  return createAuditRepository(tx).record({
    actorKeyId: request.apiKey?.id ?? null,
    tenantId,
    action: 'create',
    entity,
    entityId,
    before: null,
    after,
    sourceIp: request.ip,
  });
}
