import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import {
  apiServerOptions,
  registerApi,
  type ConsoleOptions,
  type WebhookApiOptions,
} from '../../src/api/index.js';
import {
  createApiKeyRepository,
  createTenantRepository,
  migrate,
  type ApiKeyRole,
  type Database,
  type ObjectStore,
} from '../../src/store/index.js';
import { createMemorySharedState, type SharedState } from '../../src/store/shared-state/index.js';
import { MIGRATIONS_DIR } from './store-backends.js';

/** HA1 as the SIP layer computes it (H(username:realm:password)), without importing the SIP plane. */
export const testHa1 = (algorithm: 'MD5' | 'SHA-256', user: string, realm: string, password: string) =>
  createHash(algorithm === 'MD5' ? 'md5' : 'sha256')
    .update(`${user}:${realm}:${password}`)
    .digest('hex');

export interface ApiApp {
  app: FastifyInstance;
  db: Database;
  state: SharedState;
  /** One request with a bearer key; a body is sent as JSON unless `raw` is given. */
  call(
    key: string | undefined,
    method: string,
    url: string,
    body?: unknown,
    options?: { raw?: string; contentType?: string },
  ): Promise<LightMyRequestResponse>;
  /** A key of `tenantId` (null = platform) with `role`. */
  key(tenantId: string | null, role: ApiKeyRole): Promise<string>;
  tenant(name: string): Promise<string>;
  auditCount(): Promise<number>;
  /** Listens on a free loopback port and returns the base URL (http://127.0.0.1:port). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/**
 * The API on an in-process Fastify configured like the platform's HTTP server (unknown properties refused,
 * the API's server options), over a migrated database and memory shared state; requests go through `inject`
 * (no socket), or over real HTTP after `listen()`.
 */
export async function startApiApp(
  db: Database,
  options: {
    rateLimitPerMinute?: number;
    bodyLimit?: number;
    state?: SharedState;
    webhooks?: WebhookApiOptions;
    recordings?: ObjectStore;
    /** The web console at /console (dist/console, built by scripts/build-console.mjs). */
    console?: ConsoleOptions;
  } = {},
): Promise<ApiApp> {
  await migrate(db, MIGRATIONS_DIR);
  const { state = createMemorySharedState(), ...apiOptions } = options;
  const app = Fastify({
    ...apiServerOptions,
    bodyLimit: 1 << 20,
    ajv: { customOptions: { removeAdditional: false } },
  });
  const running = await registerApi(app, {
    db,
    state,
    apiKeys: createApiKeyRepository(db),
    ha1: testHa1,
    ...apiOptions,
  });
  await app.ready();
  let n = 0;
  return {
    app,
    db,
    state,
    call(key, method, url, body, opts = {}) {
      const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
      return app.inject({
        method: method as 'GET',
        url,
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(payload === undefined ? {} : { 'content-type': opts.contentType ?? 'application/json' }),
        },
        ...(payload === undefined ? {} : { payload }),
      });
    },
    async key(tenantId, role) {
      return (await createApiKeyRepository(db).create({ tenantId, role, name: `${role}-${++n}` })).token;
    },
    async tenant(name) {
      return (await createTenantRepository(db).create({ name, sipDomain: `${name.toLowerCase()}.example` }))
        .id;
    },
    async auditCount() {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log');
      return rows[0]?.n ?? 0;
    },
    listen: () => app.listen({ host: '127.0.0.1', port: 0 }),
    async close() {
      await running.close();
      await app.close();
      await state.close();
    },
  };
}

/** The properties of request and response bodies in the app's OpenAPI document, by path and method. */
export async function openApiProperties(app: FastifyInstance): Promise<{
  request(path: string, method: string): Record<string, unknown>;
  response(path: string, method: string, code: string): Record<string, unknown>;
}> {
  type Operation = {
    requestBody: { content: { 'application/json': { schema: { properties: Record<string, unknown> } } } };
    responses: Record<
      string,
      { content: Record<string, { schema: { properties: Record<string, unknown> } }> }
    >;
  };
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{
    paths: Record<string, Record<string, Operation>>;
  }>();
  const operation = (path: string, method: string) => {
    const found = doc.paths[path]?.[method];
    if (!found) throw new Error(`no ${method} ${path} in the OpenAPI document`);
    return found;
  };
  return {
    request: (path, method) =>
      operation(path, method).requestBody.content['application/json'].schema.properties,
    response: (path, method, code) =>
      operation(path, method).responses[code]!.content['application/json']!.schema.properties,
  };
}
