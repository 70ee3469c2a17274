import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { ApiKeyRepository, Database, ObjectStore } from '../store/index.js';
import type { SharedState } from '../store/shared-state/index.js';
import { bearerAuth } from './authenticate.js';
import { registerConsole, type ConsoleOptions } from './console.js';
import { apiErrorHandler } from './error-handler.js';
import { createLiveEventHub, registerLiveEventRoutes } from './live-events.js';
import { sendProblem } from './problem.js';
import { announceProvisioningChanges } from './provisioning-changes.js';
import { rateLimitPerKey } from './rate-limit.js';
import { registerApiKeyRoutes } from './routes/api-keys.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerCallRoutes } from './routes/calls.js';
import { registerPlatformRegistrationRoutes } from './routes/platform-registrations.js';
import { registerDialRoutes } from './routes/dial-routes.js';
import { registerNumberRoutes } from './routes/numbers.js';
import { registerPlaceCallRoute } from './routes/place-call.js';
import { registerRecordingRoutes } from './routes/recordings.js';
import { registerSipUserRoutes, type Ha1Function } from './routes/sip-users.js';
import { registerTenantRoutes } from './routes/tenants.js';
import { registerTrunkRoutes } from './routes/trunks.js';
import { registerWebhookRoutes, type WebhookApiOptions } from './routes/webhooks.js';
import { registerWhoami } from './routes/whoami.js';

export { sendProblem, problemTypes, type ProblemType } from './problem.js';
export { apiServerOptions } from './server-options.js';
export { maskSecrets } from './audit-trail.js';
export type { Ha1Function } from './routes/sip-users.js';
export type { WebhookApiOptions } from './routes/webhooks.js';
export type { ConsoleOptions } from './console.js';

export interface ApiOptions {
  db: Database;
  apiKeys: ApiKeyRepository;
  ha1: Ha1Function;
  state: SharedState;
  /** Requests per minute per API key (all replicas together); 0 = no limit. */
  rateLimitPerMinute?: number;
  /** The largest request body accepted under /v1, in bytes. */
  bodyLimit?: number;
  version?: string;
  /** Where webhook URLs may point (default: nowhere, so no webhook can be created). */
  webhooks?: WebhookApiOptions;
  /** The web console at /console (absent: not served). */
  console?: ConsoleOptions;
  /** Where the media relays store recordings (their files are read and deleted there); absent: none served. */
  recordings?: ObjectStore;
  /** Told when reading the event streams for live views fails (it is retried). */
  onLiveEventsError?: (err: unknown) => void;
}

/** What the platform stops when the API module stops. */
export interface RunningApi {
  /** Ends the live event streams (Server-Sent Events) and stops following the shared event streams. */
  close(): Promise<void>;
}

const DEFAULT_BODY_LIMIT = 64 * 1024;

/**
 * Mounts the provisioning API under /v1 on the platform's HTTP server, its OpenAPI 3.1 document (made from
 * the route schemas) at /openapi.json and a docs UI at /docs.
 */
export async function registerApi(app: FastifyInstance, deps: ApiOptions): Promise<RunningApi> {
  const hub = createLiveEventHub(deps.state.events, deps.onLiveEventsError ?? (() => undefined));
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'voxgate provisioning API',
        version: deps.version ?? '1',
        description:
          'Tenants, SIP users, trunks, numbers, routes, API keys, CDRs, live state and webhooks. Errors are RFC 9457 ' +
          'application/problem+json; lists are cursor pages (pass nextCursor as after).',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'vxg_<id>_<secret>' } },
      },
      security: [{ bearer: [] }],
    },
    // Only the API is documented, not /healthz, /readyz and /metrics.
    transform: ({ schema, url }) => ({
      schema: url.startsWith('/v1/') ? schema : { ...schema, hide: true },
      url,
    }),
  });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  // Outside /v1 too, an unknown path is a problem (the /v1 scope has its own, behind authentication).
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 'not-found', `no route ${request.method} ${request.url}`),
  );
  await app.register(swaggerUi, { routePrefix: '/docs' });
  if (deps.console) registerConsole(app, deps.console);

  await app.register(
    async (v1) => {
      const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
      v1.addHook('onRoute', (route) => {
        route.bodyLimit ??= bodyLimit;
      });
      // Authentication and the rate limit come before the body is read: an unauthenticated caller learns
      // nothing from validation errors and spends no parsing.
      v1.addHook('onRequest', bearerAuth(deps.apiKeys));
      v1.addHook('onRequest', rateLimitPerKey(deps.state.counters, deps.rateLimitPerMinute ?? 0));
      v1.addHook('onResponse', announceProvisioningChanges(deps.state.events));
      v1.setNotFoundHandler((request, reply) =>
        sendProblem(reply, 'not-found', `no route ${request.method} ${request.url}`),
      );
      v1.setErrorHandler(apiErrorHandler);
      registerWhoami(v1);
      registerTenantRoutes(v1, deps);
      registerSipUserRoutes(v1, deps);
      registerTrunkRoutes(v1, deps);
      registerNumberRoutes(v1, deps);
      registerDialRoutes(v1, deps);
      registerApiKeyRoutes(v1, deps);
      registerCallRoutes(v1, deps);
      registerPlatformRegistrationRoutes(v1, deps);
      registerPlaceCallRoute(v1, deps);
      registerAuditRoutes(v1, deps);
      registerWebhookRoutes(v1, deps);
      registerRecordingRoutes(v1, deps);
      registerLiveEventRoutes(v1, { db: deps.db, hub });
    },
    { prefix: '/v1' },
  );
  return { close: () => hub.close() };
}
