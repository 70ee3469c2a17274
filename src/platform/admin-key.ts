import {
  createApiKeyRepository,
  createAuditRepository,
  parseApiToken,
  type Database,
} from '../store/index.js';

/** Arbitrary constant naming the advisory lock that serializes creating and replacing the platform admin key. */
export const ADMIN_KEY_LOCK = 0x766f7867; // "voxg"

const PAGE = 500;

type ApiKeys = ReturnType<typeof createApiKeyRepository>;
type ApiKeyInfo = Awaited<ReturnType<ApiKeys['list']>>[number];

/** Every active platform key (no tenant), read a page at a time; a key revoked meanwhile does not move the pages. */
async function* activePlatformKeys(keys: ApiKeys): AsyncGenerator<ApiKeyInfo> {
  let after: string | undefined;
  for (;;) {
    const page = await keys.list({ limit: PAGE, tenantId: null, active: true, ...(after ? { after } : {}) });
    yield* page;
    after = page.at(-1)?.id;
    if (page.length < PAGE) return;
  }
}

/** What every change to a platform admin key is audited as: no actor, no tenant, no source address. */
const ADMIN_KEY_CHANGE = { actorKeyId: null, tenantId: null, entity: 'api-key', sourceIp: null } as const;

/** Revokes `key` and audits it; false when it was revoked already. */
async function revokeAudited(
  keys: ApiKeys,
  audit: ReturnType<typeof createAuditRepository>,
  key: ApiKeyInfo,
): Promise<boolean> {
  if (!(await keys.revoke(key.id))) return false;
  await audit.record({ ...ADMIN_KEY_CHANGE, action: 'delete', entityId: key.id, before: key, after: null });
  return true;
}

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
    const revoked: string[] = [];
    for await (const key of activePlatformKeys(keys)) {
      if (key.role === 'admin' && (await revokeAudited(keys, audit, key))) revoked.push(key.id);
    }
    const created = await keys.create({ tenantId: null, role: 'admin', name: 'platform admin (reset-key)' });
    const info = await keys.get(created.id);
    await audit.record({
      ...ADMIN_KEY_CHANGE,
      action: 'create',
      entityId: created.id,
      before: null,
      after: info,
    });
    return { ...created, revoked };
  });
}

/** The name of the admin keys made from VOXGATE_ADMIN_API_KEY: those a rotation of its value retires. */
export const ADMIN_KEY_FROM_SETTING = 'platform admin (VOXGATE_ADMIN_API_KEY)';

/** What `syncAdminKey` found and did. */
export type AdminKeySync =
  | {
      /** created: the value's key is new; active: it was there already. */
      readonly state: 'created' | 'active';
      readonly id: string;
      /** Keys of earlier values revoked now. */
      readonly revoked: readonly string[];
      /** When keys of earlier values are due to be revoked (call again then); undefined when none wait. */
      readonly retireAt?: Date;
    }
  /** revoked: the value's key was revoked (reset-key, the API): not made active again. conflict: its id is
   *  another key's (a different secret, or not a platform admin key). Nothing is changed in both cases. */
  | { readonly state: 'revoked' | 'conflict'; readonly id: string };

/**
 * Makes the value of VOXGATE_ADMIN_API_KEY a platform admin key — created with its id on first sight (the first
 * start, or a rotated value), audit-logged with no actor — and revokes the keys of earlier values once
 * `overlapMs` has passed since it was created: active platform admin keys created before it, named
 * ADMIN_KEY_FROM_SETTING or with the id `previousId` (the value this process read before). The times come from
 * the store, so any replica, or one restarted meanwhile, revokes them at the same time; keys made by operators
 * (the API, reset-key) are never touched.
 */
export async function syncAdminKey(
  db: Database,
  token: string,
  options: { readonly overlapMs: number; readonly previousId?: string },
): Promise<AdminKeySync> {
  return db.transaction(async (tx): Promise<AdminKeySync> => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADMIN_KEY_LOCK]);
    const keys = createApiKeyRepository(tx);
    const audit = createAuditRepository(tx);
    const id = parseApiToken(token)?.id;
    if (!id) return { state: 'conflict', id: '' };
    let current = await keys.get(id);
    let state: 'created' | 'active' = 'active';
    if (!current) {
      // The first key of an empty store is no change anyone made (as with a generated one): not audited.
      const first = (await keys.count()) === 0;
      await keys.create({ tenantId: null, role: 'admin', name: ADMIN_KEY_FROM_SETTING, token });
      current = await keys.get(id);
      if (!first)
        await audit.record({
          ...ADMIN_KEY_CHANGE,
          action: 'create',
          entityId: id,
          before: null,
          after: current,
        });
      state = 'created';
    }
    if (!current) throw new Error(`admin key ${id} not found after it was created`);
    if (current.revokedAt) return { state: 'revoked', id };
    if (current.role !== 'admin' || current.tenantId !== null || !(await keys.verify(token))) {
      return { state: 'conflict', id };
    }
    const { rows } = await tx.query<{ now: Date }>('SELECT now() AS now');
    const retireAt = new Date(current.createdAt.getTime() + options.overlapMs);
    const due = rows[0]!.now >= retireAt;
    const revoked: string[] = [];
    let waiting = false;
    for await (const key of activePlatformKeys(keys)) {
      const earlier =
        key.id !== id &&
        key.role === 'admin' &&
        key.createdAt < current.createdAt &&
        (key.name === ADMIN_KEY_FROM_SETTING || key.id === options.previousId);
      if (!earlier) continue;
      if (!due) waiting = true;
      else if (await revokeAudited(keys, audit, key)) revoked.push(key.id);
    }
    return { state, id, revoked, ...(waiting ? { retireAt } : {}) };
  });
}
