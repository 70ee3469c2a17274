import type { Queryable } from '../database/database.js';

export interface Route {
  id: string;
  tenantId: string;
  name: string;
  /** A regular expression the whole dialled number must match. */
  pattern: string;
  /** Lower first. */
  priority: number;
  stripDigits: number;
  prefix: string;
  /** The trunks in the order they are tried. */
  trunkIds: string[];
}

export interface RouteRepository {
  /** Creates a route over the tenant's trunks; trunk ids of another tenant are refused. */
  create(input: Omit<Route, 'id' | 'priority' | 'stripDigits' | 'prefix'> & Partial<Route>): Promise<Route>;
  /** The tenant's routes, lowest priority number first (ties by name). */
  listForTenant(tenantId: string): Promise<Route[]>;
}

interface Row {
  id: string;
  tenant_id: string;
  name: string;
  pattern: string;
  priority: number;
  strip_digits: number;
  prefix: string;
  trunk_ids: string[] | null;
}

const toRoute = (r: Row): Route => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  pattern: r.pattern,
  priority: r.priority,
  stripDigits: r.strip_digits,
  prefix: r.prefix,
  trunkIds: (r.trunk_ids ?? []).filter(Boolean),
});

export function createRouteRepository(db: Queryable): RouteRepository {
  return {
    async create(input) {
      const trunkIds = input.trunkIds;
      // One statement, so the route and its trunks are written together or not at all; the trunks must
      // belong to the tenant (a foreign id makes the count check fail the statement).
      const { rows } = await db.query<Row>(
        `WITH checked AS (
           SELECT count(*) AS n FROM trunks WHERE tenant_id = $1 AND id = ANY($7::uuid[])
         ), r AS (
           INSERT INTO routes (tenant_id, name, pattern, priority, strip_digits, prefix)
           SELECT $1, $2, $3, $4, $5, $6 FROM checked WHERE checked.n = cardinality($7::uuid[])
           RETURNING id, tenant_id, name, pattern, priority, strip_digits, prefix
         ), rt AS (
           INSERT INTO route_trunks (route_id, trunk_id, position)
           SELECT r.id, u.trunk_id, u.ord - 1 FROM r, unnest($7::uuid[]) WITH ORDINALITY AS u(trunk_id, ord)
         )
         SELECT r.*, $7::uuid[]::text[] AS trunk_ids FROM r`,
        [
          input.tenantId,
          input.name,
          input.pattern,
          input.priority ?? 100,
          input.stripDigits ?? 0,
          input.prefix ?? '',
          trunkIds,
        ],
      );
      if (!rows[0])
        throw new RangeError(`a trunk of route ${input.name} is not a trunk of tenant ${input.tenantId}`);
      return toRoute(rows[0]);
    },
    async listForTenant(tenantId) {
      const { rows } = await db.query<Row>(
        `SELECT r.id, r.tenant_id, r.name, r.pattern, r.priority, r.strip_digits, r.prefix,
                array_agg(rt.trunk_id::text ORDER BY rt.position) AS trunk_ids
           FROM routes r LEFT JOIN route_trunks rt ON rt.route_id = r.id
          WHERE r.tenant_id = $1
          GROUP BY r.id ORDER BY r.priority, r.name`,
        [tenantId],
      );
      return rows.map(toRoute);
    },
  };
}
