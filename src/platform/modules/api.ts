import { registerApi } from '../../api/index.js';
import { computeHa1 } from '../../sip/index.js';
import { createApiKeyRepository } from '../../store/index.js';
import type { ModuleDefinition } from '../module.js';
import { requireService } from '../module.js';

/** The provisioning API under /v1 on the HTTP server. */
export const apiModule: ModuleDefinition = {
  name: 'api',
  deps: ['http-server', 'store', 'shared-state', 'admin-bootstrap'],
  async init(ctx) {
    const app = requireService(ctx, 'http');
    const db = requireService(ctx, 'store');
    await registerApi(app, {
      db,
      state: requireService(ctx, 'sharedState'),
      apiKeys: createApiKeyRepository(db),
      ha1: computeHa1,
      rateLimitPerMinute: ctx.config.api.rateLimitPerMinute,
      webhooks: { allow: ctx.config.webhooks.allow },
    });
    return { stop: async () => undefined };
  },
};
