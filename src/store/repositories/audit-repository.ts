import type { Queryable } from '../database/database.js';

export interface AuditEntry {
  id: string;
  at: Date;
  actorKeyId: string | null;
  tenantId: string | null;
  action: 'create' | 'update' | 'delete';
  entity: string;
  entityId: string;
  before: unknown;
  after: unknown;
  sourceIp: string | null;
}

export interface AuditRepository {
  /** Records one mutation; call it with the transaction that makes the change. */
  record(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void>;
  /** Newest first, before the cursor (an entry id), optionally for one tenant. */
  list(options: { limit: number; before?: string; tenantId?: string }): Promise<AuditEntry[]>;
  /** Deletes entries older than `cutoff`; returns how many. */
  purgeOlderThan(cutoff: Date): Promise<number>;
}

interface Row {
  id: string;
  at: Date;
  actor_key_id: string | null;
  tenant_id: string | null;
  action: AuditEntry['action'];
  entity: string;
  entity_id: string;
  before: unknown;
  after: unknown;
  source_ip: string | null;
}

export function createAuditRepository(db: Queryable): AuditRepository {
  return {
    async record(e) {
      await db.query(
        `INSERT INTO audit_log (actor_key_id, tenant_id, action, entity, entity_id, before, after, source_ip)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)`,
        [
          e.actorKeyId,
          e.tenantId,
          e.action,
          e.entity,
          e.entityId,
          e.before === undefined || e.before === null ? null : JSON.stringify(e.before),
          e.after === undefined || e.after === null ? null : JSON.stringify(e.after),
          e.sourceIp,
        ],
      );
    },
    async list({ limit, before, tenantId }) {
      const { rows } = await db.query<Row>(
        `SELECT id::text AS id, at, actor_key_id, tenant_id, action, entity, entity_id, before, after, source_ip
           FROM audit_log
          WHERE ($1::bigint IS NULL OR id < $1::bigint) AND ($2::uuid IS NULL OR tenant_id = $2::uuid)
          ORDER BY id DESC LIMIT $3`,
        [before ?? null, tenantId ?? null, limit],
      );
      return rows.map((r) => ({
        id: r.id,
        at: r.at,
        actorKeyId: r.actor_key_id,
        tenantId: r.tenant_id,
        action: r.action,
        entity: r.entity,
        entityId: r.entity_id,
        before: r.before,
        after: r.after,
        sourceIp: r.source_ip,
      }));
    },
    async purgeOlderThan(cutoff) {
      const { rowCount } = await db.query('DELETE FROM audit_log WHERE at < $1', [cutoff]);
      return rowCount;
    },
  };
}
