import type { Queryable } from '../database/database.js';

/** A digest algorithm a SIP user may be challenged with (RFC 3261 §22.4 MD5, RFC 8760 SHA-256). */
export type SipDigestAlgorithm = 'MD5' | 'SHA-256';

/**
 * Whether calls are recorded: `off` never (the API cannot start one), `always` from the call's setup,
 * `on-demand` when the API starts it. A user's or a route's (null = the tenant's) wins over the tenant's.
 */
export type RecordingPolicy = 'off' | 'always' | 'on-demand';

export interface Tenant {
  id: string;
  name: string;
  sipDomain: string;
  maxConcurrentCalls: number | null;
  maxCallsPerSecond: number | null;
  status: 'active' | 'suspended';
  /**
   * The digest challenges offered to the tenant's users, preferred first, where a user has no list of its own;
   * null = the platform's (VOXGATE_SIP_DIGEST_ALGORITHMS).
   */
  sipDigestAlgorithms: SipDigestAlgorithm[] | null;
  /** The recording policy of the tenant's calls, where their user or route sets none. */
  recording: RecordingPolicy;
}

interface Row {
  id: string;
  name: string;
  sip_domain: string;
  max_concurrent_calls: number | null;
  max_calls_per_second: number | null;
  status: 'active' | 'suspended';
  sip_digest_algorithms: SipDigestAlgorithm[] | null;
  recording: RecordingPolicy;
}

const toTenant = (r: Row): Tenant => ({
  id: r.id,
  name: r.name,
  sipDomain: r.sip_domain,
  maxConcurrentCalls: r.max_concurrent_calls,
  maxCallsPerSecond: r.max_calls_per_second,
  status: r.status,
  sipDigestAlgorithms: r.sip_digest_algorithms,
  recording: r.recording,
});

export interface TenantRepository {
  create(input: {
    name: string;
    sipDomain: string;
    maxConcurrentCalls?: number;
    maxCallsPerSecond?: number;
    sipDigestAlgorithms?: readonly SipDigestAlgorithm[] | null;
    recording?: RecordingPolicy;
  }): Promise<Tenant>;
  /** The tenant serving a SIP domain (domains are compared lower-cased). */
  findByDomain(sipDomain: string): Promise<Tenant | undefined>;
  findById(id: string): Promise<Tenant | undefined>;
  /**
   * Changes name, limits (null removes one), status or digest algorithms (null inherits the platform's); the
   * SIP domain is the users' realm and stays.
   */
  update(
    id: string,
    patch: {
      name?: string;
      maxConcurrentCalls?: number | null;
      maxCallsPerSecond?: number | null;
      status?: Tenant['status'];
      sipDigestAlgorithms?: readonly SipDigestAlgorithm[] | null;
      recording?: RecordingPolicy;
    },
  ): Promise<{ before: Tenant; after: Tenant } | undefined>;
  /** Deletes the tenant and everything it owns. */
  delete(id: string): Promise<Tenant | undefined>;
  /** A page ordered by id, after the cursor (the last id of the previous page). */
  list(options: { limit: number; after?: string; onlyId?: string }): Promise<Tenant[]>;
}

export function createTenantRepository(db: Queryable): TenantRepository {
  return {
    async create({ name, sipDomain, maxConcurrentCalls, maxCallsPerSecond, sipDigestAlgorithms, recording }) {
      const { rows } = await db.query<Row>(
        `INSERT INTO tenants (name, sip_domain, max_concurrent_calls, max_calls_per_second, sip_digest_algorithms,
                              recording)
         VALUES ($1, lower($2), $3, $4, $5::text[], $6) RETURNING *`,
        [
          name,
          sipDomain,
          maxConcurrentCalls ?? null,
          maxCallsPerSecond ?? null,
          sipDigestAlgorithms ?? null,
          recording ?? 'off',
        ],
      );
      return toTenant(rows[0]!);
    },
    async findById(id) {
      const { rows } = await db.query<Row>('SELECT * FROM tenants WHERE id = $1', [id]);
      return rows[0] && toTenant(rows[0]);
    },
    async update(id, patch) {
      const { rows: current } = await db.query<Row>('SELECT * FROM tenants WHERE id = $1 FOR UPDATE', [id]);
      if (!current[0]) return undefined;
      const before = toTenant(current[0]);
      const { rows } = await db.query<Row>(
        `UPDATE tenants SET name = $2, max_concurrent_calls = $3, max_calls_per_second = $4, status = $5,
                sip_digest_algorithms = $6::text[], recording = $7, updated_at = now()
          WHERE id = $1 RETURNING *`,
        [
          id,
          patch.name ?? before.name,
          patch.maxConcurrentCalls === undefined ? before.maxConcurrentCalls : patch.maxConcurrentCalls,
          patch.maxCallsPerSecond === undefined ? before.maxCallsPerSecond : patch.maxCallsPerSecond,
          patch.status ?? before.status,
          patch.sipDigestAlgorithms === undefined ? before.sipDigestAlgorithms : patch.sipDigestAlgorithms,
          patch.recording ?? before.recording,
        ],
      );
      return { before, after: toTenant(rows[0]!) };
    },
    async delete(id) {
      const { rows } = await db.query<Row>('DELETE FROM tenants WHERE id = $1 RETURNING *', [id]);
      return rows[0] && toTenant(rows[0]);
    },
    async list({ limit, after, onlyId }) {
      const { rows } = await db.query<Row>(
        `SELECT * FROM tenants
          WHERE ($1::uuid IS NULL OR id > $1::uuid) AND ($2::uuid IS NULL OR id = $2::uuid)
          ORDER BY id LIMIT $3`,
        [after ?? null, onlyId ?? null, limit],
      );
      return rows.map(toTenant);
    },
    async findByDomain(sipDomain) {
      const { rows } = await db.query<Row>('SELECT * FROM tenants WHERE sip_domain = lower($1)', [sipDomain]);
      return rows[0] && toTenant(rows[0]);
    },
  };
}
