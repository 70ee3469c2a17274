import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createRegistrar, createRequestRouter, STATELESS_METHODS } from '../../src/gateway/index.js';
import {
  computeHa1,
  createSipEndpoint,
  createTransactionLayer,
  type DigestAlgorithm,
} from '../../src/sip/index.js';
import {
  createSipUserRepository,
  createTenantRepository,
  migrate,
  openDatabase,
} from '../../src/store/index.js';
import { createMemorySharedState, type SharedState } from '../../src/store/shared-state/index.js';
import { MIGRATIONS_DIR } from './store-backends.js';

export interface GatewayHarness {
  port: number;
  state: SharedState;
  draining: { value: boolean };
  close(): Promise<void>;
}

/**
 * The gateway's SIP path as the sip-gateway module wires it — endpoint, transaction layer, router, registrar —
 * over a real UDP/TCP socket, a real (embedded) PostgreSQL with tenant acme.example and user alice/s3cret,
 * and in-memory shared state.
 */
export async function startGateway(
  policy: { banThreshold?: number; digestAlgorithms?: readonly DigestAlgorithm[] } = {},
): Promise<GatewayHarness> {
  const db = await openDatabase({
    dataDir: 'memory://',
    pgliteTemplate: join(import.meta.dirname, '..', '..', 'dist', 'pglite-template.tar.gz'),
  });
  await migrate(db, MIGRATIONS_DIR);
  const tenant = await createTenantRepository(db).create({ name: 'Acme', sipDomain: 'acme.example' });
  await createSipUserRepository(db).create({
    tenantId: tenant.id,
    username: 'alice',
    ha1Md5: computeHa1('MD5', 'alice', 'acme.example', 's3cret'),
    ha1Sha256: computeHa1('SHA-256', 'alice', 'acme.example', 's3cret'),
  });
  const state = createMemorySharedState();
  const draining = { value: false };
  const route = createRequestRouter({
    registrar: createRegistrar({
      users: createSipUserRepository(db),
      registrations: state.registrations,
      counters: state.counters,
      policy: {
        minExpires: 60,
        maxExpires: 3600,
        defaultExpires: 3600,
        banThreshold: policy.banThreshold ?? 10,
        banSeconds: 300,
        nonceSecret: randomBytes(32),
        digestAlgorithms: policy.digestAlgorithms ?? ['SHA-256', 'MD5'],
      },
    }),
    isDraining: () => draining.value,
  });
  const layer = createTransactionLayer({
    tu: {
      onRequest: (request, tx, inbound) => {
        if (tx) route(request, (s, r, h) => tx.respond(s, r, h), inbound);
      },
    },
  });
  const endpoint = await createSipEndpoint({
    host: '127.0.0.1',
    udpPort: 0,
    tcpPort: 0,
    onRequest: (req, ctx) =>
      STATELESS_METHODS.has(req.method) ? route(req, ctx.reply, ctx) : layer.handleRequest(req, ctx),
    onResponse: (res) => layer.handleResponse(res),
  });
  return {
    port: endpoint.address().udp!.port,
    state,
    draining,
    async close() {
      layer.close();
      await endpoint.close();
      await state.close();
      await db.close();
    },
  };
}
