import type { Queryable } from '../database/database.js';
import type { MediaEncryption, NatMode } from './sip-user-repository.js';

export interface Trunk {
  id: string;
  tenantId: string;
  name: string;
  host: string;
  port: number;
  transport: 'udp' | 'tcp' | 'tls';
  /** Outbound digest username; the password is read only by `findBySource`/`credentials` for the gateway. */
  username: string | null;
  inboundCidrs: string[];
  register: boolean;
  enabled: boolean;
  maxConcurrentCalls: number | null;
  /**
   * Where requests to the carrier go once it has given an address of its own (`auto` | `force` | `off`, as for
   * users). Stored and served; the gateway sends every request to a trunk at `host:port` today (see
   * docs/architecture.md, "NAT").
   */
  nat: NatMode;
  /** The media calls to the carrier are offered: `sdes` SRTP (RTP/SAVP), `none` and `auto` plain RTP. */
  mediaEncryption: MediaEncryption;
}

export interface TrunkInput {
  tenantId: string;
  name: string;
  host: string;
  port?: number;
  transport?: Trunk['transport'];
  credentials?: { username: string; password: string };
  inboundCidrs?: string[];
  register?: boolean;
  enabled?: boolean;
  maxConcurrentCalls?: number;
  nat?: NatMode;
  mediaEncryption?: MediaEncryption;
}

/**
 * A change to a trunk: only the given fields change. `credentials: null` removes the outbound credentials;
 * `maxConcurrentCalls: null` removes the limit.
 */
export type TrunkPatch = Partial<Omit<TrunkInput, 'tenantId' | 'credentials' | 'maxConcurrentCalls'>> & {
  credentials?: { username: string; password: string } | null;
  maxConcurrentCalls?: number | null;
};

/** A trunk with its outbound password: what the gateway needs to answer a carrier's challenge. */
export type TrunkWithSecret = Trunk & { password: string | null };

export interface TrunkRepository {
  create(input: TrunkInput): Promise<Trunk>;
  get(tenantId: string, id: string): Promise<Trunk | undefined>;
  /** Applies `patch` to the tenant's trunk; the trunk before and after, or undefined when it is not there. */
  update(
    tenantId: string,
    id: string,
    patch: TrunkPatch,
  ): Promise<{ before: Trunk; after: Trunk } | undefined>;
  /** Deletes the tenant's trunk (its places in routes go with it); the deleted trunk, or undefined. */
  delete(tenantId: string, id: string): Promise<Trunk | undefined>;
  /** A page of a tenant's trunks ordered by name, after the cursor (the last name of the previous page). */
  list(tenantId: string, options: { limit: number; after?: string }): Promise<Trunk[]>;
  /** The enabled trunk of an active tenant with an inbound CIDR containing `address`, most specific first. */
  findBySource(address: string): Promise<TrunkWithSecret | undefined>;
  /**
   * The enabled trunk of an active tenant whose credentials have `username`, with its password, for calls a
   * trunk authenticates with digest; undefined when none or several have it (the username cannot tell them
   * apart).
   */
  findByUsername(username: string): Promise<TrunkWithSecret | undefined>;
  /** Every enabled trunk of every active tenant (the gateway's health checks). */
  listAllEnabled(): Promise<Trunk[]>;
  /** Every enabled trunk of an active tenant with `register` set and credentials, with its password. */
  listRegistering(): Promise<TrunkWithSecret[]>;
  /** The tenant's trunks by id, without passwords, in the order given (unknown and foreign ids left out). */
  byIds(tenantId: string, ids: readonly string[]): Promise<Trunk[]>;
  /** The tenant's trunks by id, with passwords, in the order given (unknown and foreign ids left out). */
  withSecrets(tenantId: string, ids: readonly string[]): Promise<TrunkWithSecret[]>;
}

interface Row {
  id: string;
  tenant_id: string;
  name: string;
  host: string;
  port: number;
  transport: Trunk['transport'];
  username: string | null;
  password?: string | null;
  inbound_cidrs: string[] | string;
  register: boolean;
  enabled: boolean;
  max_concurrent_calls: number | null;
  nat: NatMode;
  media_encryption: MediaEncryption;
}

/** The selected columns, qualified by a table alias when the query joins. */
const columns = (t = '') =>
  `${t}id, ${t}tenant_id, ${t}name, ${t}host, ${t}port, ${t}transport, ${t}username,
   ${t}inbound_cidrs::text[] AS inbound_cidrs, ${t}register, ${t}enabled, ${t}max_concurrent_calls, ${t}nat,
   ${t}media_encryption`;
const COLUMNS = columns();

/** node-postgres returns text[] as an array, PGlite too; a `{a,b}` literal is parsed for safety. */
function cidrs(value: string[] | string): string[] {
  if (Array.isArray(value)) return value;
  return value
    .replace(/^\{|\}$/g, '')
    .split(',')
    .filter(Boolean);
}

function toTrunk(r: Row): Trunk {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    host: r.host,
    port: r.port,
    transport: r.transport,
    username: r.username,
    inboundCidrs: cidrs(r.inbound_cidrs),
    register: r.register,
    enabled: r.enabled,
    maxConcurrentCalls: r.max_concurrent_calls,
    nat: r.nat,
    mediaEncryption: r.media_encryption,
  };
}

export function createTrunkRepository(db: Queryable): TrunkRepository {
  return {
    async create(input) {
      const { rows } = await db.query<Row>(
        `INSERT INTO trunks (tenant_id, name, host, port, transport, username, password, inbound_cidrs, register,
                             enabled, max_concurrent_calls, nat, media_encryption)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::cidr[], $9, $10, $11, $12, $13) RETURNING ${COLUMNS}`,
        [
          input.tenantId,
          input.name,
          input.host,
          input.port ?? 5060,
          input.transport ?? 'udp',
          input.credentials?.username ?? null,
          input.credentials?.password ?? null,
          input.inboundCidrs ?? [],
          input.register ?? false,
          input.enabled ?? true,
          input.maxConcurrentCalls ?? null,
          input.nat ?? 'auto',
          input.mediaEncryption ?? 'auto',
        ],
      );
      return toTrunk(rows[0]!);
    },
    async get(tenantId, id) {
      const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM trunks WHERE tenant_id = $1 AND id = $2`, [
        tenantId,
        id,
      ]);
      return rows[0] && toTrunk(rows[0]);
    },
    async update(tenantId, id, patch) {
      const { rows: current } = await db.query<Row>(
        `SELECT ${COLUMNS} FROM trunks WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
        [tenantId, id],
      );
      if (!current[0]) return undefined;
      const before = toTrunk(current[0]);
      const keepCredentials = patch.credentials === undefined;
      const { rows } = await db.query<Row>(
        `UPDATE trunks SET name = $3, host = $4, port = $5, transport = $6,
                username = CASE WHEN $7 THEN username ELSE $8 END,
                password = CASE WHEN $7 THEN password ELSE $9 END,
                inbound_cidrs = $10::cidr[], register = $11, enabled = $12, max_concurrent_calls = $13,
                nat = $14, media_encryption = $15, updated_at = now()
          WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [
          tenantId,
          id,
          patch.name ?? before.name,
          patch.host ?? before.host,
          patch.port ?? before.port,
          patch.transport ?? before.transport,
          keepCredentials,
          patch.credentials?.username ?? null,
          patch.credentials?.password ?? null,
          patch.inboundCidrs ?? before.inboundCidrs,
          patch.register ?? before.register,
          patch.enabled ?? before.enabled,
          patch.maxConcurrentCalls === undefined ? before.maxConcurrentCalls : patch.maxConcurrentCalls,
          patch.nat ?? before.nat,
          patch.mediaEncryption ?? before.mediaEncryption,
        ],
      );
      return { before, after: toTrunk(rows[0]!) };
    },
    async delete(tenantId, id) {
      const { rows } = await db.query<Row>(
        `DELETE FROM trunks WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [tenantId, id],
      );
      return rows[0] && toTrunk(rows[0]);
    },
    async list(tenantId, { limit, after }) {
      const { rows } = await db.query<Row>(
        `SELECT ${COLUMNS} FROM trunks WHERE tenant_id = $1 AND ($2::text IS NULL OR name > $2)
          ORDER BY name LIMIT $3`,
        [tenantId, after ?? null, limit],
      );
      return rows.map(toTrunk);
    },
    async findBySource(address) {
      const { rows } = await db.query<Row & { prefix: number }>(
        `SELECT ${columns('tr.')}, tr.password, max(masklen(c)) AS prefix
           FROM trunks tr JOIN tenants t ON t.id = tr.tenant_id, unnest(tr.inbound_cidrs) AS c
          WHERE tr.enabled AND t.status = 'active' AND $1::inet <<= c
          GROUP BY tr.id ORDER BY prefix DESC, tr.name LIMIT 1`,
        [address],
      );
      const r = rows[0];
      return r && { ...toTrunk(r), password: r.password ?? null };
    },
    async findByUsername(username) {
      const { rows } = await db.query<Row>(
        `SELECT ${columns('tr.')}, tr.password FROM trunks tr JOIN tenants t ON t.id = tr.tenant_id
          WHERE tr.enabled AND t.status = 'active' AND tr.username = $1 AND tr.password IS NOT NULL
          LIMIT 2`,
        [username],
      );
      const r = rows.length === 1 ? rows[0] : undefined;
      return r && { ...toTrunk(r), password: r.password ?? null };
    },
    async listAllEnabled() {
      const { rows } = await db.query<Row>(
        `SELECT ${columns('tr.')} FROM trunks tr JOIN tenants t ON t.id = tr.tenant_id
          WHERE tr.enabled AND t.status = 'active' ORDER BY tr.id`,
      );
      return rows.map(toTrunk);
    },
    async listRegistering() {
      const { rows } = await db.query<Row>(
        `SELECT ${columns('tr.')}, tr.password FROM trunks tr JOIN tenants t ON t.id = tr.tenant_id
          WHERE tr.enabled AND tr.register AND t.status = 'active'
            AND tr.username IS NOT NULL AND tr.password IS NOT NULL ORDER BY tr.id`,
      );
      return rows.map((r) => ({ ...toTrunk(r), password: r.password ?? null }));
    },
    async byIds(tenantId, ids) {
      if (ids.length === 0) return [];
      const { rows } = await db.query<Row>(
        `SELECT ${COLUMNS} FROM trunks WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
        [tenantId, ids],
      );
      const byId = new Map(rows.map((r) => [r.id, toTrunk(r)]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    },
    async withSecrets(tenantId, ids) {
      if (ids.length === 0) return [];
      const { rows } = await db.query<Row>(
        `SELECT ${COLUMNS}, password FROM trunks WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
        [tenantId, ids],
      );
      const byId = new Map(rows.map((r) => [r.id, { ...toTrunk(r), password: r.password ?? null }]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    },
  };
}
