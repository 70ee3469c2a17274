import type { Queryable } from '../database/database.js';

/** What the registrar needs to authenticate a user: the HA1 values, never a password. */
export interface SipCredentials {
  userId: string;
  tenantId: string;
  username: string;
  ha1Md5: string;
  ha1Sha256: string;
  enabled: boolean;
  tenantActive: boolean;
  /** Calls the user may have at once (placed and received); null = no limit. */
  maxConcurrentCalls: number | null;
}

export interface SipUser {
  id: string;
  tenantId: string;
  username: string;
  displayName: string | null;
  enabled: boolean;
  createdAt: Date;
}

export interface SipUserRepository {
  /** A page of a tenant's users ordered by username, after the cursor (the last username of the previous page). */
  list(tenantId: string, options: { limit: number; after?: string }): Promise<SipUser[]>;
  /** Creates a user from HA1 values computed by the caller for the tenant's realm. */
  create(input: {
    tenantId: string;
    username: string;
    displayName?: string;
    ha1Md5: string;
    ha1Sha256: string;
  }): Promise<{ id: string }>;
  /** Credentials of `username` in the tenant serving `sipDomain`. */
  findCredentials(sipDomain: string, username: string): Promise<SipCredentials | undefined>;
}

export function createSipUserRepository(db: Queryable): SipUserRepository {
  return {
    async list(tenantId, { limit, after }) {
      const { rows } = await db.query<{
        id: string;
        tenant_id: string;
        username: string;
        display_name: string | null;
        enabled: boolean;
        created_at: Date;
      }>(
        `SELECT id, tenant_id, username, display_name, enabled, created_at FROM sip_users
          WHERE tenant_id = $1 AND ($2::text IS NULL OR username > $2) ORDER BY username LIMIT $3`,
        [tenantId, after ?? null, limit],
      );
      return rows.map((r) => ({
        id: r.id,
        tenantId: r.tenant_id,
        username: r.username,
        displayName: r.display_name,
        enabled: r.enabled,
        createdAt: r.created_at,
      }));
    },
    async create({ tenantId, username, displayName, ha1Md5, ha1Sha256 }) {
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO sip_users (tenant_id, username, display_name, ha1_md5, ha1_sha256)
         VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [tenantId, username, displayName ?? null, ha1Md5, ha1Sha256],
      );
      return { id: rows[0]!.id };
    },
    async findCredentials(sipDomain, username) {
      const { rows } = await db.query<{
        id: string;
        tenant_id: string;
        username: string;
        ha1_md5: string;
        ha1_sha256: string;
        enabled: boolean;
        status: string;
        max_concurrent_calls: number | null;
      }>(
        `SELECT u.id, u.tenant_id, u.username, u.ha1_md5, u.ha1_sha256, u.enabled, t.status, u.max_concurrent_calls
           FROM sip_users u JOIN tenants t ON t.id = u.tenant_id
          WHERE t.sip_domain = lower($1) AND u.username = $2`,
        [sipDomain, username],
      );
      const r = rows[0];
      return (
        r && {
          userId: r.id,
          tenantId: r.tenant_id,
          username: r.username,
          ha1Md5: r.ha1_md5,
          ha1Sha256: r.ha1_sha256,
          enabled: r.enabled,
          tenantActive: r.status === 'active',
          maxConcurrentCalls: r.max_concurrent_calls,
        }
      );
    },
  };
}
