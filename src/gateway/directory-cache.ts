import type { SipUserRepository, TenantRepository } from '../store/index.js';
import type { RoutingDirectory } from './call-routing.js';

type Tenants = Pick<TenantRepository, 'findByDomain'>;
type Users = Pick<SipUserRepository, 'findCredentials' | 'digestAlgorithms'>;

export interface DirectoryCache {
  readonly routing: RoutingDirectory;
  readonly tenants: Tenants;
  readonly users: Users;
  /** Forgets everything (a provisioning change was announced). */
  invalidate(): void;
  readonly stats: { readonly hits: number; readonly misses: number; readonly size: number };
}

interface Slot {
  readonly value: Promise<unknown>;
  readonly expiresAt: number;
}

/**
 * What the gateway reads from the store per call and per REGISTER — the tenant of a domain, a user's
 * credentials, a realm's digest algorithms, the trunk of a source address, the owner of a DID, a tenant's
 * routes — kept in memory for
 * `ttlMs`, answers "not found" included (a scanner trying extensions must not become one query per try).
 * A change made through the API is announced on the provisioning change stream and `invalidate` drops
 * everything at once; `ttlMs` bounds how stale an entry can be if an announcement is lost. Concurrent
 * lookups of one key share one query; a failed query is not kept. At most `maxEntries` are held (the oldest
 * go first), and none past its `ttlMs`: expired entries at the head are dropped at each insertion, so a scan of
 * names that come once does not keep them until the cap. The periodic trunk lists (health checks,
 * registration) are not cached.
 */
export function createDirectoryCache(
  source: { routing: RoutingDirectory; tenants: Tenants; users: Users },
  options: { ttlMs: number; maxEntries: number; now?: () => number },
): DirectoryCache {
  const clock = options.now ?? Date.now;
  // Insertion order is expiry order (one TTL for all, a key re-inserted on reload): the first slot expires first.
  const slots = new Map<string, Slot>();
  let generation = 0;
  let hits = 0;
  let misses = 0;

  const cached = <T>(key: string, load: () => Promise<T>): Promise<T> => {
    if (options.ttlMs <= 0) return load();
    const now = clock();
    const slot = slots.get(key);
    if (slot && slot.expiresAt > now) {
      hits += 1;
      return slot.value as Promise<T>;
    }
    misses += 1;
    const started = generation;
    const value = load();
    slots.delete(key);
    for (const [oldest, s] of slots) {
      if (s.expiresAt > now && slots.size < options.maxEntries) break;
      slots.delete(oldest);
    }
    slots.set(key, { value, expiresAt: now + options.ttlMs });
    value.catch(() => {
      if (slots.get(key)?.value === value) slots.delete(key);
    });
    void value.then(
      () => {
        // Loaded across an invalidation: it may hold the state from before the change.
        if (started !== generation && slots.get(key)?.value === value) slots.delete(key);
      },
      () => undefined,
    );
    return value;
  };

  const { routing, tenants, users } = source;
  return {
    routing: {
      trunkBySource: (address) => cached(`trunk-source\0${address}`, () => routing.trunkBySource(address)),
      trunkByUsername: (username) =>
        cached(`trunk-user\0${username}`, () => routing.trunkByUsername(username)),
      numberOwner: (e164) => cached(`number\0${e164}`, () => routing.numberOwner(e164)),
      routes: (tenantId) => cached(`routes\0${tenantId}`, () => routing.routes(tenantId)),
      allTrunks: () => routing.allTrunks(),
      registeringTrunks: () => routing.registeringTrunks(),
    },
    tenants: {
      findByDomain: (domain) => cached(`tenant\0${domain.toLowerCase()}`, () => tenants.findByDomain(domain)),
    },
    users: {
      findCredentials: (domain, username) =>
        cached(`user\0${domain.toLowerCase()}\0${username}`, () => users.findCredentials(domain, username)),
      digestAlgorithms: (domain) =>
        cached(`digest\0${domain.toLowerCase()}`, () => users.digestAlgorithms(domain)),
    },
    invalidate() {
      generation += 1;
      slots.clear();
    },
    get stats() {
      return { hits, misses, size: slots.size };
    },
  };
}
