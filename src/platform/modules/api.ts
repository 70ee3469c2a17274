import { registerApi } from '../../api/index.js';
import { join } from 'node:path';
import { computeHa1 } from '../../sip/index.js';
import { createApiKeyRepository } from '../../store/index.js';
import type { ModuleDefinition } from '../module.js';
import { requireService } from '../module.js';
import { findPackageRoot } from '../package-root.js';
import { openRecordingStore } from '../recording-store.js';

/** The provisioning API under /v1 on the HTTP server. */
export const apiModule: ModuleDefinition = {
  name: 'api',
  deps: ['http-server', 'store', 'shared-state', 'admin-bootstrap'],
  async init(ctx) {
    const app = requireService(ctx, 'http');
    const db = requireService(ctx, 'store');
    const recordings = openRecordingStore(ctx.config);
    const api = await registerApi(app, {
      db,
      state: requireService(ctx, 'sharedState'),
      apiKeys: createApiKeyRepository(db),
      ha1: computeHa1,
      rateLimitPerMinute: ctx.config.api.rateLimitPerMinute,
      webhooks: { allow: ctx.config.webhooks.allow },
      recordings,
      console: {
        dir: join(findPackageRoot(), 'dist', 'console'),
        sipWebSocket: { port: ctx.config.sip.wsPort || null, securePort: ctx.config.sip.wssPort ?? null },
      },
      onLiveEventsError: (err) => ctx.logger.warn({ err }, 'reading events for live views failed; retrying'),
    });
    return {
      async stop() {
        await api.close();
        recordings.close();
      },
    };
  },
};
