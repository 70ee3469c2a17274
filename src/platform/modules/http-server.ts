import cluster from 'node:cluster';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { apiServerOptions } from '../../api/index.js';
import { Histogram } from '../../observability/index.js';
import type { ModuleDefinition } from '../module.js';

/**
 * The HTTP listener every target has: `/healthz` (the process is alive), `/readyz` (every module of the
 * target is started and its dependencies answer), `/metrics` (Prometheus text). The API module adds its
 * routes to the same server before it listens.
 */
export const httpServerModule: ModuleDefinition = {
  name: 'http-server',
  deps: [],
  async init(ctx) {
    // Fastify logs each request at info; the access log is the duration histogram, so Fastify's own logger
    // only passes warnings and errors (handler failures) through.
    const app = Fastify({
      ...apiServerOptions,
      loggerInstance: ctx.logger.child({}, { level: 'warn' }) as FastifyBaseLogger,
      bodyLimit: 1 << 20,
      // Unknown properties are refused (400), not silently dropped: a typo must not look like success.
      ajv: { customOptions: { removeAdditional: false } },
    });
    const duration = new Histogram({
      name: 'voxgate_http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [ctx.metrics],
    });
    app.addHook('onResponse', async (request, reply) => {
      duration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
    });

    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      const report = await ctx.readiness();
      return reply
        .code(report.ready ? 200 : 503)
        .send({ status: report.ready ? 'ready' : 'not ready', ...report });
    });
    app.get('/metrics', async (_request, reply) => {
      const body = await ctx.metrics.metrics();
      return reply.type(ctx.metrics.contentType).send(body);
    });
    ctx.services.http = app;

    return {
      async start() {
        // A SIP worker (sip-workers.ts) listens on a loopback port of its own, not on one shared through the
        // cluster's primary: the primary serves the HTTP port itself.
        const address = await app.listen({
          host: ctx.config.http.host,
          port: ctx.config.http.port,
          exclusive: cluster.isWorker,
        });
        ctx.logger.info({ address }, 'HTTP listening');
      },
      async stop() {
        await app.close();
      },
    };
  },
};
