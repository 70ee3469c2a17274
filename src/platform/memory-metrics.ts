import { metricsIn, type Registry } from '../observability/index.js';

/** The entries of one long-lived structure now; undefined while it does not exist (a module not started). */
export type StructureSize = () => number | undefined;

/** Reads the sizes of several structures at once (names may come and go: one per event stream). */
export type StructureSizes = () => Readonly<Record<string, number>> | undefined;

const gauges = new WeakMap<Registry, Set<StructureSizes>>();

/**
 * `voxgate_memory_structure_entries{structure}`: the entries each long-lived in-memory structure holds (caches,
 * tables, the embedded event streams), read at scrape time. Each module adds its own structures to the one gauge
 * family of the registry — named one by one, or read together by a function — and every structure has a cap in
 * entries and a maximum age (docs/reliability.md, Memory bounds), so a value pinned at its cap is the sign to
 * look at. Returns the function that removes them.
 */
export function exportStructureSizes(
  registry: Registry,
  structures: Readonly<Record<string, StructureSize>> | StructureSizes,
): () => void {
  let readers = gauges.get(registry);
  if (!readers) {
    const all = new Set<StructureSizes>();
    readers = all;
    gauges.set(registry, all);
    metricsIn(registry).gauge(
      'voxgate_memory_structure_entries',
      'Entries held by a long-lived in-memory structure (cache, table, embedded stream), by structure; each has a cap and a maximum age (docs/reliability.md).',
      {
        labelNames: ['structure'],
        collect(g) {
          g.reset();
          for (const read of all)
            for (const [structure, n] of Object.entries(read() ?? {})) g.set({ structure }, n);
        },
      },
    );
  }
  const reader: StructureSizes =
    typeof structures === 'function'
      ? structures
      : () => {
          const out: Record<string, number> = {};
          for (const [name, size] of Object.entries(structures)) {
            const n = size();
            if (n !== undefined) out[name] = n;
          }
          return out;
        };
  readers.add(reader);
  const set = readers;
  return () => {
    set.delete(reader);
  };
}
