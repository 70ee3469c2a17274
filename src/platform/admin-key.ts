import { createApiKeyRepository, createAuditRepository, type Database } from '../store/index.js';

/** Arbitrary constant naming the advisory lock that serializes creating and replacing the platform admin key. */
export const ADMIN_KEY_LOCK = 0x766f7867; // "voxg"

const PAGE = 500;

/** The new platform admin key (its token shown this once) and the admin keys it replaced. */
export interface ResetAdminKey {
  readonly id: string;
  readonly token: string;
  readonly revoked: readonly string[];
}

/**
 * `voxgate admin reset-key`: in one transaction, revokes every active platform admin key (tenant keys and
 * lower roles are left alone) and creates a new one, each change in the audit log with no actor. The token
 * is returned this once; only its hash is stored.
 */
export async function resetAdminKey(db: Database): Promise<ResetAdminKey> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADMIN_KEY_LOCK]);
    const keys = createApiKeyRepository(tx);
    const audit = createAuditRepository(tx);
    const change = { actorKeyId: null, tenantId: null, entity: 'api-key', sourceIp: null } as const;
    const revoked: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await keys.list({
        limit: PAGE,
        tenantId: null,
        active: true,
        ...(after ? { after } : {}),
      });
      for (const key of page) {
        if (key.role !== 'admin' || !(await keys.revoke(key.id))) continue;
        revoked.push(key.id);
        await audit.record({ ...change, action: 'delete', entityId: key.id, before: key, after: null });
      }
      after = page.at(-1)?.id;
      if (page.length < PAGE) break;
    }
    const created = await keys.create({ tenantId: null, role: 'admin', name: 'platform admin (reset-key)' });
    const info = await keys.get(created.id);
    await audit.record({ ...change, action: 'create', entityId: created.id, before: null, after: info });
    return { ...created, revoked };
  });
}
