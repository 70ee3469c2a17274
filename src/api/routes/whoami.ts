import type { FastifyInstance } from 'fastify';

/** `GET /v1/whoami`: the scope and role of the calling API key. */
export function registerWhoami(app: FastifyInstance): void {
  app.get('/whoami', async (request) => {
    const key = request.apiKey;
    return { keyId: key?.id, name: key?.name, role: key?.role, tenantId: key?.tenantId ?? null };
  });
}
