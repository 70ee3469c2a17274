import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyRole } from '../store/index.js';
import { sendProblem } from './problem.js';

const RANK: Record<ApiKeyRole, number> = { viewer: 0, operator: 1, admin: 2 };

/**
 * Scope and role checks. A key of another tenant gets 404, never 403: it must not learn that the object
 * exists. A key in scope without the role gets 403.
 */
export function inTenantScope(request: FastifyRequest, tenantId: string): boolean {
  const key = request.apiKey;
  return key !== undefined && (key.tenantId === null || key.tenantId === tenantId);
}

export function requireRole(request: FastifyRequest, reply: FastifyReply, role: ApiKeyRole): boolean {
  const key = request.apiKey;
  if (key && RANK[key.role] >= RANK[role]) return true;
  sendProblem(
    reply,
    'forbidden',
    `this operation needs the ${role} role; the key has ${key?.role ?? 'none'}`,
  );
  return false;
}

export function requirePlatformKey(request: FastifyRequest, reply: FastifyReply): boolean {
  if (request.apiKey?.tenantId === null) return true;
  sendProblem(reply, 'forbidden', 'this operation needs a platform-scoped API key');
  return false;
}
