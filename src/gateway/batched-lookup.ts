/** Lookups a group may have in the store at once; what comes meanwhile waits and goes in the next one. */
const DEFAULT_IN_FLIGHT = 2;
/** Keys in one query at most (an array parameter; PostgreSQL plans `= ANY` over it as an index scan). */
const DEFAULT_MAX_BATCH = 500;

interface Waiter<V> {
  readonly key: string;
  resolve(value: V | undefined): void;
  reject(err: unknown): void;
}

interface Group<V> {
  waiting: Waiter<V>[];
  inFlight: number;
  scheduled: boolean;
}

/**
 * Single-key lookups of one group (a realm's users) gathered into queries of many keys, as a registration storm
 * needs: phones re-registering after a restart, or a directory cache's entries loaded together and expiring
 * together, ask for thousands of users within a second, and one query per user costs the gateway's event loop
 * a round trip each (write, read, parse: ~0.1–0.4 ms of its CPU under the burst, measured with
 * `bench:register`), the store a statement each. Keys asked for in the same turn of the event loop go in one
 * query (sent once the turn's synchronous work is done); at most `maxInFlight` queries of a group are out at once,
 * and keys asked for meanwhile wait for one to come back and go together in the next — so a lone lookup goes
 * at once, and the batches grow with the load. A failed query fails the lookups it carried, not the others.
 */
export function createBatchedLookup<V>(
  loadMany: (group: string, keys: readonly string[]) => Promise<ReadonlyMap<string, V>>,
  options: { maxInFlight?: number; maxBatch?: number } = {},
): (group: string, key: string) => Promise<V | undefined> {
  const maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_IN_FLIGHT);
  const maxBatch = Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH);
  const groups = new Map<string, Group<V>>();

  const dispatch = (name: string, group: Group<V>) => {
    group.scheduled = false;
    while (group.inFlight < maxInFlight && group.waiting.length > 0) {
      const batch = group.waiting.splice(0, maxBatch);
      const keys = [...new Set(batch.map((w) => w.key))];
      group.inFlight += 1;
      let query: Promise<ReadonlyMap<string, V>>;
      try {
        query = loadMany(name, keys);
      } catch (err) {
        query = Promise.reject(err);
      }
      query
        .then(
          (found) => {
            for (const w of batch) w.resolve(found.get(w.key));
          },
          (err: unknown) => {
            for (const w of batch) w.reject(err);
          },
        )
        .finally(() => {
          group.inFlight -= 1;
          if (group.waiting.length > 0) dispatch(name, group);
          else if (group.inFlight === 0 && groups.get(name) === group) groups.delete(name);
        });
    }
  };

  const groupOf = (name: string): Group<V> => {
    let group = groups.get(name);
    if (group === undefined) groups.set(name, (group = { waiting: [], inFlight: 0, scheduled: false }));
    return group;
  };

  return (name, key) =>
    new Promise<V | undefined>((resolve, reject) => {
      const group = groupOf(name);
      group.waiting.push({ key, resolve, reject });
      if (!group.scheduled && group.inFlight < maxInFlight) {
        group.scheduled = true;
        queueMicrotask(() => dispatch(name, group));
      }
    });
}
