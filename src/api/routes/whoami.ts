import type { FastifyInstance } from 'fastify';
import { responses, roleSchema } from '../schemas.js';

/** `GET /v1/whoami`: the scope and role of the calling API key. */
export function registerWhoami(app: FastifyInstance): void {
  app.get(
    '/whoami',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'The calling key: id, name, role and tenant (null = platform)',
        response: responses({
          200: {
            type: 'object',
            properties: {
              keyId: { type: 'string' },
              name: { type: 'string' },
              role: roleSchema,
              tenantId: { type: ['string', 'null'] },
            },
          },
        }),
      },
    },
    async (request) => {
      const key = request.apiKey;
      return { keyId: key?.id, name: key?.name, role: key?.role, tenantId: key?.tenantId ?? null };
    },
  );
}
