import type { metricsIn } from '../observability/index.js';

/**
 * A counter with two labels incremented on the hot path (every SIP message): increments are tallied in a map
 * keyed by the label values and added to the prom-client counter at scrape time, which costs one map lookup
 * per message instead of prom-client's label hashing. Scrapes see every increment made before them.
 */
export function pairCounter<A extends string, B extends string>(
  metric: ReturnType<typeof metricsIn>,
  name: string,
  help: string,
  labelNames: [A, B],
): (a: string, b: string) => void {
  const [nameA, nameB] = labelNames;
  const tallies = new Map<string, { a: string; b: string; n: number }>();
  metric.counter(name, help, {
    labelNames,
    collect(counter) {
      for (const t of tallies.values()) {
        if (t.n === 0) continue;
        counter.inc({ [nameA]: t.a, [nameB]: t.b } as Record<A | B, string>, t.n);
        t.n = 0;
      }
    },
  });
  return (a, b) => {
    const key = `${a}\u0000${b}`;
    const tally = tallies.get(key);
    if (tally) tally.n += 1;
    else tallies.set(key, { a, b, n: 1 });
  };
}
