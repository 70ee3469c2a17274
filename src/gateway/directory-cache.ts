import { detachString } from '../sip/index.js';
import type { SipUserRepository, TenantRepository } from '../store/index.js';
import { createBatchedLookup } from './batched-lookup.js';
import type { RoutingDirectory } from './call-routing.js';

type Tenants = Pick<TenantRepository, 'findByDomain'>;
type Users = Pick<SipUserRepository, 'findCredentialsOf' | 'digestAlgorithms'>;

export interface DirectoryCache {
  readonly routing: RoutingDirectory;
  readonly tenants: Tenants;
  readonly users: Pick<SipUserRepository, 'findCredentials' | 'digestAlgorithms'>;
  /** Forgets everything (a provisioning change was announced). */
  invalidate(): void;
  readonly stats: { readonly hits: number; readonly misses: number; readonly size: number };
}

interface Slot {
  readonly value: Promise<unknown>;
  readonly expiresAt: number;
  /** The table the slot is in, under `key`; for a user, `domain` names the realm's table in `userTables`. */
  readonly table: Map<string, Slot>;
  readonly key: string;
  readonly domain: string | undefined;
}

/**
 * What the gateway reads from the store per call and per REGISTER — the tenant of a domain, a user's
 * credentials, a realm's digest algorithms, the trunk of a source address, the owner of a DID, a tenant's
 * routes — kept in memory for
 * `ttlMs`, answers "not found" included (a scanner trying extensions must not become one query per try).
 * A change made through the API is announced on the provisioning change stream and `invalidate` drops
 * everything at once; `ttlMs` bounds how stale an entry can be if an announcement is lost. Concurrent
 * lookups of one key share one query, and a realm's users missing at once are looked up together, in queries of
 * many (`batched-lookup.ts`: a registration storm, or a burst of entries expiring together); a failed query is
 * not kept. At most `maxEntries` are held (the oldest
 * go first), and none past its `ttlMs`: expired entries at the head are dropped at each insertion, so a scan of
 * names that come once does not keep them until the cap. The periodic trunk lists (health checks,
 * registration) are not cached.
 *
 * Each kind of lookup has a table of its own, and a user's credentials a table per realm, so a lookup finds its
 * entry by the strings it was given, without making a key string of them.
 */
export function createDirectoryCache(
  source: { routing: RoutingDirectory; tenants: Tenants; users: Users },
  options: { ttlMs: number; maxEntries: number; now?: () => number },
): DirectoryCache {
  const clock = options.now ?? Date.now;
  // Insertion order is expiry order (one TTL for all, a key re-inserted on reload): the first slot expires first.
  const order = new Set<Slot>();
  const tables = {
    trunkBySource: new Map<string, Slot>(),
    trunkByUsername: new Map<string, Slot>(),
    numberOwner: new Map<string, Slot>(),
    routes: new Map<string, Slot>(),
    tenantByDomain: new Map<string, Slot>(),
    digestAlgorithms: new Map<string, Slot>(),
  };
  /** Credentials by realm (lower-cased), then username; a realm's table goes with its last entry. */
  const userTables = new Map<string, Map<string, Slot>>();
  let generation = 0;
  let hits = 0;
  let misses = 0;

  const drop = (slot: Slot) => {
    order.delete(slot);
    if (slot.table.get(slot.key) !== slot) return;
    slot.table.delete(slot.key);
    if (slot.domain !== undefined && slot.table.size === 0 && userTables.get(slot.domain) === slot.table)
      userTables.delete(slot.domain);
  };

  /** The entry of `key` in `table` (made by `tableFor` when there is none yet), loaded by `load` when missing. */
  const cached = <T>(
    table: Map<string, Slot> | undefined,
    key: string,
    load: () => Promise<T>,
    tableFor: () => Map<string, Slot>,
    domain?: string,
  ): Promise<T> => {
    if (options.ttlMs <= 0) return load();
    const now = clock();
    const slot = table?.get(key);
    if (slot && slot.expiresAt > now) {
      hits += 1;
      return slot.value as Promise<T>;
    }
    misses += 1;
    const started = generation;
    const value = load();
    if (slot) drop(slot);
    for (const oldest of order) {
      if (oldest.expiresAt > now && order.size < options.maxEntries) break;
      drop(oldest);
    }
    // Read after the drops: a realm's table dropped with its last entry is made again.
    const home = tableFor();
    // Keys of their own: a username cut from a request's header would keep the header's text alive with the entry.
    const kept: Slot = {
      value,
      expiresAt: now + options.ttlMs,
      table: home,
      key: detachString(key),
      domain: domain === undefined ? undefined : detachString(domain),
    };
    home.set(kept.key, kept);
    order.add(kept);
    value.catch(() => {
      if (order.has(kept)) drop(kept);
    });
    void value.then(
      () => {
        // Loaded across an invalidation: it may hold the state from before the change.
        if (started !== generation && order.has(kept)) drop(kept);
      },
      () => undefined,
    );
    return value;
  };
  /** A table of `tables`, with its key as given. */
  const inTable = <T>(table: Map<string, Slot>, key: string, load: () => Promise<T>): Promise<T> =>
    cached(table, key, load, () => table);
  const userTableOf = (domain: string) => {
    let table = userTables.get(domain);
    if (!table) userTables.set(detachString(domain), (table = new Map()));
    return table;
  };

  const { routing, tenants, users } = source;
  // A realm's missing users looked up together (`batched-lookup.ts`): entries loaded in one burst expire in one.
  const credentialsOf = createBatchedLookup((realm, usernames) => users.findCredentialsOf(realm, usernames));
  return {
    routing: {
      trunkBySource: (address) =>
        inTable(tables.trunkBySource, address, () => routing.trunkBySource(address)),
      trunkByUsername: (username) =>
        inTable(tables.trunkByUsername, username, () => routing.trunkByUsername(username)),
      numberOwner: (e164) => inTable(tables.numberOwner, e164, () => routing.numberOwner(e164)),
      routes: (tenantId) => inTable(tables.routes, tenantId, () => routing.routes(tenantId)),
      allTrunks: () => routing.allTrunks(),
      registeringTrunks: () => routing.registeringTrunks(),
    },
    tenants: {
      findByDomain: (domain) =>
        inTable(tables.tenantByDomain, domain.toLowerCase(), () => tenants.findByDomain(domain)),
    },
    users: {
      findCredentials: (domain, username) => {
        const realm = domain.toLowerCase();
        return cached(
          userTables.get(realm),
          username,
          () => credentialsOf(realm, username),
          () => userTableOf(realm),
          realm,
        );
      },
      digestAlgorithms: (domain) =>
        inTable(tables.digestAlgorithms, domain.toLowerCase(), () => users.digestAlgorithms(domain)),
    },
    invalidate() {
      generation += 1;
      order.clear();
      for (const table of Object.values(tables)) table.clear();
      userTables.clear();
    },
    get stats() {
      return { hits, misses, size: order.size };
    },
  };
}
