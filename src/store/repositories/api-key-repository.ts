import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../database/database.js';
import { StoreError } from '../store-error.js';

export type ApiKeyRole = 'admin' | 'operator' | 'viewer';

export interface ApiKeyRecord {
  id: string;
  tenantId: string | null;
  role: ApiKeyRole;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** A key as an administrator sees it: never its secret or hash. */
export interface ApiKeyInfo extends ApiKeyRecord {
  revokedAt: Date | null;
}

export interface ApiKeyRepository {
  count(): Promise<number>;
  /** Creates a key; the token (`vxg_<id>_<secret>`) is returned this once and never stored. */
  create(input: { tenantId: string | null; role: ApiKeyRole; name: string; token?: string }): Promise<{
    id: string;
    token: string;
  }>;
  /** The key a token belongs to, or null if unknown, malformed, wrong or revoked. */
  verify(token: string): Promise<ApiKeyRecord | null>;
  revoke(id: string): Promise<boolean>;
  get(id: string): Promise<ApiKeyInfo | undefined>;
  /**
   * A page ordered by id, after the cursor. `tenantId` undefined = every key, null = platform keys only, a
   * tenant id = that tenant's keys only. Revoked keys are listed unless `active`.
   */
  list(options: {
    limit: number;
    after?: string;
    tenantId?: string | null;
    active?: boolean;
  }): Promise<ApiKeyInfo[]>;
}

/** `last_used_at` is written at most this often per key, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

const TOKEN = /^vxg_([A-Za-z0-9]{4,32})_([A-Za-z0-9_-]{20,128})$/;

/** Splits a token into public id and secret, or undefined when it is not one. */
export function parseApiToken(token: string): { id: string; secret: string } | undefined {
  const m = TOKEN.exec(token);
  return m?.[1] && m[2] ? { id: m[1], secret: m[2] } : undefined;
}

/** SHA-256 is right here: the secret is 32 random bytes, so there is nothing for a slow hash to protect. */
function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

interface Row {
  id: string;
  tenant_id: string | null;
  role: ApiKeyRole;
  name: string;
  secret_hash: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export function createApiKeyRepository(db: Queryable): ApiKeyRepository {
  return {
    async count() {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_keys');
      return rows[0]?.n ?? 0;
    },
    async create({ tenantId, role, name, token }) {
      let parts = token === undefined ? undefined : parseApiToken(token);
      if (token !== undefined && !parts) {
        throw new StoreError('STORE_INVALID_TOKEN', 'an API key must look like vxg_<id>_<secret>');
      }
      parts ??= { id: randomBytes(6).toString('hex'), secret: randomBytes(32).toString('base64url') };
      await db.query(
        'INSERT INTO api_keys (id, tenant_id, role, name, secret_hash) VALUES ($1, $2, $3, $4, $5)',
        [parts.id, tenantId, role, name, hashSecret(parts.secret)],
      );
      return { id: parts.id, token: `vxg_${parts.id}_${parts.secret}` };
    },
    async verify(token) {
      const parts = parseApiToken(token);
      if (!parts) return null;
      const { rows } = await db.query<Row>('SELECT * FROM api_keys WHERE id = $1', [parts.id]);
      const row = rows[0];
      if (!row || row.revoked_at) return null;
      const given = Buffer.from(hashSecret(parts.secret), 'hex');
      if (!timingSafeEqual(given, Buffer.from(row.secret_hash, 'hex'))) return null;
      if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
        await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [row.id]);
      }
      return {
        id: row.id,
        tenantId: row.tenant_id,
        role: row.role,
        name: row.name,
        createdAt: row.created_at,
        lastUsedAt: row.last_used_at,
      };
    },
    async revoke(id) {
      const { rowCount } = await db.query(
        'UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
        [id],
      );
      return rowCount > 0;
    },
    async get(id) {
      const { rows } = await db.query<Row>('SELECT * FROM api_keys WHERE id = $1', [id]);
      return rows[0] && toInfo(rows[0]);
    },
    async list({ limit, after, tenantId, active }) {
      const { rows } = await db.query<Row>(
        `SELECT * FROM api_keys
          WHERE ($1::text IS NULL OR id > $1)
            AND ($2::boolean OR ($3::uuid IS NULL AND tenant_id IS NULL) OR tenant_id = $3::uuid)
            AND (NOT $4::boolean OR revoked_at IS NULL)
          ORDER BY id LIMIT $5`,
        [after ?? null, tenantId === undefined, tenantId ?? null, active ?? false, limit],
      );
      return rows.map(toInfo);
    },
  };
}

const toInfo = (r: Row): ApiKeyInfo => ({
  id: r.id,
  tenantId: r.tenant_id,
  role: r.role,
  name: r.name,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});
