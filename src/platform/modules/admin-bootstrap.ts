import { createApiKeyRepository, parseApiToken, type Database } from '../../store/index.js';
import { ADMIN_KEY_LOCK, syncAdminKey, type AdminKeySync } from '../admin-key.js';
import type { ModuleContext, ModuleDefinition } from '../module.js';
import { requireService } from '../module.js';
import { watchModuleSecrets } from '../secret-files.js';

/**
 * The platform admin key. With VOXGATE_ADMIN_API_KEY, its value is an admin key (created on first sight, on an
 * empty store or not); given as VOXGATE_ADMIN_API_KEY_FILE, the file is re-read and a new value becomes a new
 * admin key at once while the previous one keeps working for VOXGATE_SECRET_OVERLAP_SECONDS, then is revoked
 * (syncAdminKey). Without it, on a store without any API key, a generated key is printed once. Only hashes are
 * stored.
 */
export const adminBootstrapModule: ModuleDefinition = {
  name: 'admin-bootstrap',
  deps: ['store'],
  async init(ctx) {
    const db = requireService(ctx, 'store');
    const token = ctx.config.adminApiKey;
    if (!token) {
      await generateOnFirstStart(ctx, db);
      return { stop: async () => undefined };
    }
    const overlapMs = ctx.config.secrets.overlapMs;
    let current = token;
    let previousId: string | undefined;
    let retire: NodeJS.Timeout | undefined;
    let stopped = false;
    const sync = async () => {
      const result = await syncAdminKey(db, current, { overlapMs, ...(previousId ? { previousId } : {}) });
      report(ctx, result);
      if (retire) clearTimeout(retire);
      if (result.state !== 'created' && result.state !== 'active') return;
      if (!result.retireAt || stopped) return;
      // Revoked when due by whichever replica comes first; a failure is retried at the next change or start.
      retire = setTimeout(
        () =>
          void sync().catch((err: unknown) =>
            ctx.logger.warn(
              { err },
              'revoking the previous platform admin key failed; retried at the next start',
            ),
          ),
        Math.max(0, result.retireAt.getTime() - Date.now()) + 1000,
      );
      retire.unref();
    };
    await sync();
    const watcher = watchModuleSecrets(ctx, { VOXGATE_ADMIN_API_KEY: token }, async (_name, value) => {
      previousId = parseApiToken(current)?.id;
      current = value;
      await sync();
    });
    return {
      stop: async () => {
        stopped = true;
        watcher?.stop();
        if (retire) clearTimeout(retire);
      },
    };
  },
};

function report(ctx: ModuleContext, result: AdminKeySync): void {
  const { logger } = ctx;
  if (result.state === 'created') {
    logger.info({ keyId: result.id }, 'created the platform admin API key from VOXGATE_ADMIN_API_KEY');
  } else if (result.state === 'revoked') {
    logger.warn(
      { keyId: result.id },
      'the platform admin API key of VOXGATE_ADMIN_API_KEY was revoked; give it a new value (a new key id)',
    );
  } else if (result.state === 'conflict') {
    logger.error(
      { keyId: result.id },
      'VOXGATE_ADMIN_API_KEY names the id of another key; give it a new value with a new key id',
    );
  }
  if ((result.state === 'created' || result.state === 'active') && result.revoked.length > 0) {
    logger.info(
      { keyId: result.id, revoked: result.revoked },
      'revoked the platform admin API keys of the previous VOXGATE_ADMIN_API_KEY (their overlap ended)',
    );
  }
}

/** First start without VOXGATE_ADMIN_API_KEY: on a store without any API key, a generated admin key, printed once. */
async function generateOnFirstStart(ctx: ModuleContext, db: Database): Promise<void> {
  const created = await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADMIN_KEY_LOCK]);
    const keys = createApiKeyRepository(tx);
    if ((await keys.count()) > 0) return undefined;
    return keys.create({ tenantId: null, role: 'admin', name: 'platform admin (first start)' });
  });
  if (created) {
    ctx.logger.warn(
      { keyId: created.id, apiKey: created.token },
      'generated the platform admin API key; it is shown this once and only its hash is stored',
    );
  }
}
