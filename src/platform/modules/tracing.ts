import { hostname } from 'node:os';
import { createCallTracer } from '../../observability/index.js';
import { traceCalls } from '../call-tracing.js';
import type { ModuleDefinition } from '../module.js';
import { VERSION } from '../version.js';

/**
 * OpenTelemetry traces of calls to VOXGATE_TRACES_OTLP_ENDPOINT (`call-tracing.ts`); without an endpoint this
 * module does nothing and no channel has a subscriber. It stops after the modules that depend on it, so the
 * spans of calls ended while draining are sent.
 */
export const tracingModule: ModuleDefinition = {
  name: 'tracing',
  deps: [],
  async init(ctx) {
    const endpoint = ctx.config.tracesEndpoint;
    if (!endpoint) return { stop: async () => undefined };
    const tracer = createCallTracer({
      endpoint,
      serviceName: 'voxgate',
      attributes: {
        'service.version': VERSION,
        'service.instance.id': `${hostname()}:${process.pid}`,
        'deployment.environment.name': ctx.config.env,
      },
    });
    const untrace = traceCalls(tracer);
    ctx.logger.info({ endpoint }, 'tracing calls to OTLP');
    return {
      async stop() {
        untrace();
        await tracer.shutdown();
      },
    };
  },
};
