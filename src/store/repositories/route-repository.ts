import type { Queryable } from '../database/database.js';
import type { MediaEncryption } from './sip-user-repository.js';
import type { RecordingPolicy } from './tenant-repository.js';
import { createTrunkRepository, type Trunk } from './trunk-repository.js';

export interface Route {
  id: string;
  tenantId: string;
  name: string;
  /** A regular expression the whole dialled number must match. */
  pattern: string;
  /** Lower first. */
  priority: number;
  /** Digits removed from the front of the dialled number before `prefix` is prepended. */
  stripDigits: number;
  prefix: string;
  /** Calls on this route keep their media off the relays (SDP passed through unchanged). */
  mediaBypass: boolean;
  /**
   * The media on the trunk leg of calls on this route: `sdes` SRTP (RTP/SAVP) whatever the trunk says, `none`
   * plain RTP whatever the trunk says, `auto` as the trunk says.
   */
  mediaEncryption: MediaEncryption;
  /** The recording policy of calls on this route; null = the tenant's. */
  recording: RecordingPolicy | null;
  /** The trunks in the order they are tried. */
  trunkIds: string[];
  /** The same trunks, in the same order (without their passwords). */
  trunks: Trunk[];
}

export interface RouteInput {
  tenantId: string;
  name: string;
  pattern: string;
  priority?: number;
  stripDigits?: number;
  prefix?: string;
  mediaBypass?: boolean;
  mediaEncryption?: MediaEncryption;
  recording?: RecordingPolicy | null;
  trunkIds: string[];
}

export type RoutePatch = Partial<Omit<RouteInput, 'tenantId'>>;

/** Where a page of routes ends: routes are ordered by priority, then name. */
export interface RouteCursor {
  priority: number;
  name: string;
}

export interface RouteRepository {
  /**
   * Creates a route over the tenant's trunks; a trunk id of another tenant is a RangeError (checked before
   * anything is written). Call it in a transaction: the route and its trunks are separate statements.
   */
  create(input: RouteInput): Promise<Route>;
  get(tenantId: string, id: string): Promise<Route | undefined>;
  /** A page of the tenant's routes, lowest priority number first (ties by name), after the cursor. */
  list(tenantId: string, options: { limit: number; after?: RouteCursor }): Promise<Route[]>;
  /** Every route of the tenant, lowest priority number first (ties by name), each with its ordered trunks. */
  listForTenant(tenantId: string): Promise<Route[]>;
  /** Applies `patch` (a new `trunkIds` replaces the list); call it in a transaction. */
  update(
    tenantId: string,
    id: string,
    patch: RoutePatch,
  ): Promise<{ before: Route; after: Route } | undefined>;
  delete(tenantId: string, id: string): Promise<Route | undefined>;
}

interface Row {
  id: string;
  tenant_id: string;
  name: string;
  pattern: string;
  priority: number;
  strip_digits: number;
  prefix: string;
  media_bypass: boolean;
  media_encryption: MediaEncryption;
  recording: RecordingPolicy | null;
  trunk_ids: string[] | null;
}

const SELECT = `SELECT r.id, r.tenant_id, r.name, r.pattern, r.priority, r.strip_digits, r.prefix, r.media_bypass,
                       r.media_encryption, r.recording, array_agg(rt.trunk_id::text ORDER BY rt.position) AS trunk_ids
                  FROM routes r LEFT JOIN route_trunks rt ON rt.route_id = r.id`;

export function createRouteRepository(db: Queryable): RouteRepository {
  const trunkRepository = createTrunkRepository(db);

  /** Rows to routes with their trunks, loaded in one query per tenant. */
  const hydrate = async (rows: readonly Row[]): Promise<Route[]> => {
    const tenantId = rows[0]?.tenant_id;
    if (tenantId === undefined) return [];
    const ids = [...new Set(rows.flatMap((r) => (r.trunk_ids ?? []).filter(Boolean)))];
    const trunks = new Map((await trunkRepository.byIds(tenantId, ids)).map((t) => [t.id, t]));
    return rows.map((r) => {
      const trunkIds = (r.trunk_ids ?? []).filter(Boolean);
      return {
        id: r.id,
        tenantId: r.tenant_id,
        name: r.name,
        pattern: r.pattern,
        priority: r.priority,
        stripDigits: r.strip_digits,
        prefix: r.prefix,
        mediaBypass: r.media_bypass,
        mediaEncryption: r.media_encryption,
        recording: r.recording,
        trunkIds,
        trunks: trunkIds.flatMap((id) => trunks.get(id) ?? []),
      };
    });
  };

  /** A RangeError unless every id is a distinct trunk of the tenant. */
  const checkTrunks = async (tenantId: string, trunkIds: readonly string[]): Promise<void> => {
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM trunks WHERE tenant_id = $1 AND id = ANY($2::uuid[])',
      [tenantId, trunkIds],
    );
    if (rows[0]?.n !== trunkIds.length || trunkIds.length !== new Set(trunkIds).size) {
      throw new RangeError(`a trunk of the route is not a trunk of tenant ${tenantId}`);
    }
  };

  const setTrunks = async (routeId: string, trunkIds: readonly string[]): Promise<void> => {
    await db.query('DELETE FROM route_trunks WHERE route_id = $1', [routeId]);
    await db.query(
      `INSERT INTO route_trunks (route_id, trunk_id, position)
       SELECT $1, u.trunk_id, u.ord - 1 FROM unnest($2::uuid[]) WITH ORDINALITY AS u(trunk_id, ord)`,
      [routeId, trunkIds],
    );
  };

  const get = async (tenantId: string, id: string, lock = false): Promise<Route | undefined> => {
    if (lock)
      await db.query('SELECT 1 FROM routes WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantId, id]);
    const { rows } = await db.query<Row>(`${SELECT} WHERE r.tenant_id = $1 AND r.id = $2 GROUP BY r.id`, [
      tenantId,
      id,
    ]);
    return (await hydrate(rows))[0];
  };

  return {
    async create(input) {
      await checkTrunks(input.tenantId, input.trunkIds);
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO routes (tenant_id, name, pattern, priority, strip_digits, prefix, media_bypass, media_encryption,
                             recording)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
        [
          input.tenantId,
          input.name,
          input.pattern,
          input.priority ?? 100,
          input.stripDigits ?? 0,
          input.prefix ?? '',
          input.mediaBypass ?? false,
          input.mediaEncryption ?? 'auto',
          input.recording ?? null,
        ],
      );
      const id = rows[0]!.id;
      await setTrunks(id, input.trunkIds);
      return (await get(input.tenantId, id))!;
    },
    get: (tenantId, id) => get(tenantId, id),
    async list(tenantId, { limit, after }) {
      const { rows } = await db.query<Row>(
        `${SELECT} WHERE r.tenant_id = $1
            AND ($2::integer IS NULL OR (r.priority, r.name) > ($2::integer, $3::text))
          GROUP BY r.id ORDER BY r.priority, r.name LIMIT $4`,
        [tenantId, after?.priority ?? null, after?.name ?? null, limit],
      );
      return hydrate(rows);
    },
    async listForTenant(tenantId) {
      const { rows } = await db.query<Row>(
        `${SELECT} WHERE r.tenant_id = $1 GROUP BY r.id ORDER BY r.priority, r.name`,
        [tenantId],
      );
      return hydrate(rows);
    },
    async update(tenantId, id, patch) {
      const before = await get(tenantId, id, true);
      if (!before) return undefined;
      if (patch.trunkIds) await checkTrunks(tenantId, patch.trunkIds);
      await db.query(
        `UPDATE routes SET name = $3, pattern = $4, priority = $5, strip_digits = $6, prefix = $7,
                media_bypass = $8, media_encryption = $9, recording = $10, updated_at = now()
          WHERE tenant_id = $1 AND id = $2`,
        [
          tenantId,
          id,
          patch.name ?? before.name,
          patch.pattern ?? before.pattern,
          patch.priority ?? before.priority,
          patch.stripDigits ?? before.stripDigits,
          patch.prefix ?? before.prefix,
          patch.mediaBypass ?? before.mediaBypass,
          patch.mediaEncryption ?? before.mediaEncryption,
          patch.recording === undefined ? before.recording : patch.recording,
        ],
      );
      if (patch.trunkIds) await setTrunks(id, patch.trunkIds);
      return { before, after: (await get(tenantId, id))! };
    },
    async delete(tenantId, id) {
      const before = await get(tenantId, id, true);
      if (!before) return undefined;
      await db.query('DELETE FROM routes WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      return before;
    },
  };
}
