import type { FastifyRequest } from 'fastify';
import { createAuditRepository, type AuditEntry, type Queryable } from '../store/index.js';

/** Property names whose values never reach the audit log (nor any response). */
const SECRET_KEYS = new Set(['password', 'token', 'key', 'secret', 'secretHash', 'ha1Md5', 'ha1Sha256']);
export const MASK = '****';

/** A deep copy of `value` with every secret property replaced by `****` (null stays null: "no secret"). */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value instanceof Date) return value.toISOString();
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      SECRET_KEYS.has(k) && v !== null && v !== undefined ? MASK : maskSecrets(v),
    ]),
  );
}

/**
 * Records one mutation made by the request's API key, from the request's address, in the caller's
 * transaction: the change and its audit entry commit together or not at all. Secrets are masked here.
 */
export function recordMutation(
  tx: Queryable,
  request: FastifyRequest,
  entry: Pick<AuditEntry, 'tenantId' | 'action' | 'entity' | 'entityId'> & {
    before?: unknown;
    after?: unknown;
  },
): Promise<void> {
  return createAuditRepository(tx).record({
    actorKeyId: request.apiKey?.id ?? null,
    tenantId: entry.tenantId,
    action: entry.action,
    entity: entry.entity,
    entityId: entry.entityId,
    before: entry.before === undefined ? null : maskSecrets(entry.before),
    after: entry.after === undefined ? null : maskSecrets(entry.after),
    sourceIp: request.ip,
  });
}
