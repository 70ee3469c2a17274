import { createNgControlServer, type NgControlServer } from '../../media/index.js';
import { collectMediaMetrics } from '../media-metrics.js';
import type { ModuleDefinition } from '../module.js';

/** The media relay's ng control listener (RTPengine's protocol) on VOXGATE_MEDIA_NG. */
export const mediaRelayModule: ModuleDefinition = {
  name: 'media-relay',
  deps: ['http-server'],
  async init(ctx) {
    let server: NgControlServer | undefined;
    const stopMetrics = collectMediaMetrics(ctx.metrics);
    return {
      async start() {
        server = await createNgControlServer({
          host: ctx.config.media.ng.host,
          port: ctx.config.media.ng.port,
        });
        ctx.logger.info({ ng: server.address() }, 'media relay ng control listening');
      },
      async ready() {
        if (!server) throw new Error('ng control not open');
      },
      async stop() {
        stopMetrics();
        await server?.close();
      },
    };
  },
};
