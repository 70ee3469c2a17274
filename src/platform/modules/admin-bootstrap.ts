import { createApiKeyRepository } from '../../store/index.js';
import { ADMIN_KEY_LOCK } from '../admin-key.js';
import type { ModuleDefinition } from '../module.js';
import { requireService } from '../module.js';

/**
 * First start: on a store without any API key, create the platform admin key — the one from
 * VOXGATE_ADMIN_API_KEY, or a generated one that is printed once. Only its hash is stored.
 */
export const adminBootstrapModule: ModuleDefinition = {
  name: 'admin-bootstrap',
  deps: ['store'],
  async init(ctx) {
    const db = requireService(ctx, 'store');
    const created = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ADMIN_KEY_LOCK]);
      const keys = createApiKeyRepository(tx);
      if ((await keys.count()) > 0) return undefined;
      return keys.create({
        tenantId: null,
        role: 'admin',
        name: 'platform admin (first start)',
        token: ctx.config.adminApiKey,
      });
    });
    if (created && ctx.config.adminApiKey) {
      ctx.logger.info({ keyId: created.id }, 'created the platform admin API key from VOXGATE_ADMIN_API_KEY');
    } else if (created) {
      ctx.logger.warn(
        { keyId: created.id, apiKey: created.token },
        'generated the platform admin API key; it is shown this once and only its hash is stored',
      );
    }
    return { stop: async () => undefined };
  },
};
