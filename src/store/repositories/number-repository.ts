import type { Queryable } from '../database/database.js';

export interface PhoneNumber {
  id: string;
  tenantId: string;
  /** E.164 with its leading +. */
  e164: string;
  /** The user the number rings; null when unassigned. */
  userId: string | null;
}

/** Who a DID rings, as the gateway needs it. */
export interface NumberOwner {
  tenantId: string;
  userId: string;
  username: string;
  sipDomain: string;
}

export interface NumberRepository {
  create(input: { tenantId: string; e164: string; userId?: string }): Promise<PhoneNumber>;
  get(tenantId: string, id: string): Promise<PhoneNumber | undefined>;
  /** A page ordered by E.164, after the cursor (the last number of the previous page), optionally of one user. */
  list(tenantId: string, options: { limit: number; after?: string; userId?: string }): Promise<PhoneNumber[]>;
  /**
   * Assigns the number to another user of the tenant (null = unassigned). Undefined when the number is not the
   * tenant's; a RangeError when the user is not.
   */
  assign(
    tenantId: string,
    id: string,
    userId: string | null,
  ): Promise<{ before: PhoneNumber; after: PhoneNumber } | undefined>;
  delete(tenantId: string, id: string): Promise<PhoneNumber | undefined>;
  /** The enabled user of an active tenant that `e164` is assigned to. */
  findByE164(e164: string): Promise<NumberOwner | undefined>;
}

interface Row {
  id: string;
  tenant_id: string;
  e164: string;
  user_id: string | null;
}

const toNumber = (r: Row): PhoneNumber => ({
  id: r.id,
  tenantId: r.tenant_id,
  e164: r.e164,
  userId: r.user_id,
});

export function createNumberRepository(db: Queryable): NumberRepository {
  return {
    async create({ tenantId, e164, userId }) {
      // The user must be the tenant's own: a number cannot ring another tenant's user.
      const { rows } = await db.query<Row>(
        `INSERT INTO numbers (tenant_id, e164, user_id)
         SELECT $1, $2, $3 WHERE $3::uuid IS NULL OR EXISTS (SELECT 1 FROM sip_users WHERE id = $3 AND tenant_id = $1)
         RETURNING id, tenant_id, e164, user_id`,
        [tenantId, e164, userId ?? null],
      );
      if (!rows[0]) throw new RangeError(`user ${userId} is not a user of tenant ${tenantId}`);
      return toNumber(rows[0]);
    },
    async get(tenantId, id) {
      const { rows } = await db.query<Row>(
        'SELECT id, tenant_id, e164, user_id FROM numbers WHERE tenant_id = $1 AND id = $2',
        [tenantId, id],
      );
      return rows[0] && toNumber(rows[0]);
    },
    async list(tenantId, { limit, after, userId }) {
      const { rows } = await db.query<Row>(
        `SELECT id, tenant_id, e164, user_id FROM numbers
          WHERE tenant_id = $1 AND ($2::text IS NULL OR e164 > $2) AND ($3::uuid IS NULL OR user_id = $3::uuid)
          ORDER BY e164 LIMIT $4`,
        [tenantId, after ?? null, userId ?? null, limit],
      );
      return rows.map(toNumber);
    },
    async assign(tenantId, id, userId) {
      const { rows: current } = await db.query<Row>(
        'SELECT id, tenant_id, e164, user_id FROM numbers WHERE tenant_id = $1 AND id = $2 FOR UPDATE',
        [tenantId, id],
      );
      if (!current[0]) return undefined;
      const { rows } = await db.query<Row>(
        `UPDATE numbers SET user_id = $3, updated_at = now()
          WHERE tenant_id = $1 AND id = $2
            AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM sip_users WHERE id = $3 AND tenant_id = $1))
          RETURNING id, tenant_id, e164, user_id`,
        [tenantId, id, userId],
      );
      if (!rows[0]) throw new RangeError(`user ${userId} is not a user of tenant ${tenantId}`);
      return { before: toNumber(current[0]), after: toNumber(rows[0]) };
    },
    async delete(tenantId, id) {
      const { rows } = await db.query<Row>(
        'DELETE FROM numbers WHERE tenant_id = $1 AND id = $2 RETURNING id, tenant_id, e164, user_id',
        [tenantId, id],
      );
      return rows[0] && toNumber(rows[0]);
    },
    async findByE164(e164) {
      const { rows } = await db.query<{
        tenant_id: string;
        user_id: string;
        username: string;
        sip_domain: string;
      }>(
        `SELECT n.tenant_id, u.id AS user_id, u.username, t.sip_domain
           FROM numbers n JOIN sip_users u ON u.id = n.user_id JOIN tenants t ON t.id = n.tenant_id
          WHERE n.e164 = $1 AND u.enabled AND t.status = 'active'`,
        [e164],
      );
      const r = rows[0];
      return r && { tenantId: r.tenant_id, userId: r.user_id, username: r.username, sipDomain: r.sip_domain };
    },
  };
}
