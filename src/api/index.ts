import type { FastifyError, FastifyInstance } from 'fastify';
import type { ApiKeyRepository, Database } from '../store/index.js';
import type { SharedState } from '../store/shared-state/index.js';
import { bearerAuth } from './authenticate.js';
import { sendProblem } from './problem.js';
import { registerApiKeyRoutes } from './routes/api-keys.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerCallRoutes } from './routes/calls.js';
import { registerCarrierRoutes } from './routes/carriers.js';
import { registerSipUserRoutes, type Ha1Function } from './routes/sip-users.js';
import { registerTenantRoutes } from './routes/tenants.js';
import { registerWhoami } from './routes/whoami.js';

export { sendProblem, problemTypes, type ProblemType } from './problem.js';
export type { Ha1Function } from './routes/sip-users.js';

/** Mounts the provisioning API under /v1 on the platform's HTTP server. */
export async function registerApi(
  app: FastifyInstance,
  deps: { db: Database; apiKeys: ApiKeyRepository; ha1: Ha1Function; state: SharedState },
): Promise<void> {
  await app.register(
    async (v1) => {
      v1.addHook('preHandler', bearerAuth(deps.apiKeys));
      v1.setNotFoundHandler((request, reply) =>
        sendProblem(reply, 'not-found', `no route ${request.method} ${request.url}`),
      );
      // RFC 9457 for every failure: schema validation and unreadable JSON are 400, the rest 500 (logged).
      v1.setErrorHandler((err: FastifyError, request, reply) => {
        if (err.validation || (err.statusCode !== undefined && err.statusCode < 500)) {
          return sendProblem(reply, 'validation-failed', err.message);
        }
        request.log.error({ err }, 'API request failed');
        return sendProblem(reply, 'internal-error', 'the request failed; the error is logged');
      });
      registerWhoami(v1);
      registerTenantRoutes(v1, deps);
      registerSipUserRoutes(v1, deps);
      registerAuditRoutes(v1, deps);
      registerCarrierRoutes(v1, deps);
      registerApiKeyRoutes(v1, deps);
      registerCallRoutes(v1, deps);
    },
    { prefix: '/v1' },
  );
}
