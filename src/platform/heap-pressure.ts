/**
 * Heap pressure: whether what a full garbage collection leaves alive in V8's old generation is near the cap the
 * process runs under (`--max-old-space-size`, config/memory-budgets.yml). Past that cap V8 does not slow down, it
 * aborts the process ("Ineffective mark-compacts near heap limit"): a sip-gateway offered 5,200 calls/s on two
 * cores kept its unanswered INVITEs' transactions for Timer B and did exactly that (docs/reliability.md,
 * "Overload"). The sip-gateway refuses new requests with 503 while the pressure is high, so that what is in
 * progress can end and free the heap.
 *
 * Read after each full collection (a `gc` performance entry of kind major), when the old generation holds
 * little garbage; while high, also once a second from the heap's current size, which can only overstate what is
 * alive, so that a process no longer allocating (and so no longer collecting) is let out of the state.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/** The old generation's bytes in use and the most it can hold alive (`readOldGeneration`). */
export interface HeapReading {
  readonly usedBytes: number;
  readonly limitBytes: number;
}

export interface HeapPressure {
  /** True from a reading at or over `highRatio` of the limit until one under `lowRatio`. */
  readonly high: boolean;
  /** The last reading taken. */
  readonly last: HeapReading;
  close(): void;
}

/** Of the old generation's limit: past this after a full collection, new requests are refused. */
export const DEFAULT_HIGH_RATIO = 0.8;
/** Under this, they are taken again. */
export const DEFAULT_LOW_RATIO = 0.65;

/** V8's semi-space size when no flag sets it (Node.js 20 on 64 bits: 16 MiB, the young generation three times). */
const DEFAULT_SEMI_SPACE_MIB = 16;

/**
 * The largest semi-space the process runs with, MiB: the last `--max-semi-space-size` of its command line or of
 * NODE_OPTIONS, else V8's default. V8's heap limit is the old generation's cap plus three semi-spaces.
 */
export function maxSemiSpaceMiB(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions = process.env.NODE_OPTIONS ?? '',
): number {
  let mib = DEFAULT_SEMI_SPACE_MIB;
  const flag = /^--max[-_]semi[-_]space[-_]size=(\d+)$/;
  // NODE_OPTIONS first: Node applies the command line's flags after them.
  for (const arg of [...nodeOptions.split(/\s+/), ...execArgv]) {
    const m = flag.exec(arg);
    if (m) mib = Number(m[1]);
  }
  return mib;
}

/**
 * The old generation now: every space but the young generation's; and what it can hold alive, its cap less one
 * semi-space — a scavenge may promote a whole semi-space into it at once, and V8 gives up on a heap that cannot
 * take that: the sip-gateway under a 384 MiB cap with 64 MiB semi-spaces aborted with 309 MiB alive.
 */
export function readOldGeneration(semiSpaceMiB = maxSemiSpaceMiB()): HeapReading {
  let young = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'new_space' || space.space_name === 'new_large_object_space')
      young += space.space_used_size;
  }
  const heap = getHeapStatistics();
  return {
    usedBytes: heap.used_heap_size - young,
    limitBytes: heap.heap_size_limit - 4 * semiSpaceMiB * 1024 * 1024,
  };
}

export function watchHeapPressure(
  options: {
    highRatio?: number;
    lowRatio?: number;
    /** Called when the state changes, with the reading that changed it. */
    onChange?: (high: boolean, reading: HeapReading) => void;
    /** The reading (default: `readOldGeneration`). */
    read?: () => HeapReading;
    /** Subscribes `onMajor` to full collections; returns the unsubscribe (default: a `gc` PerformanceObserver). */
    majorCollections?: (onMajor: () => void) => () => void;
    /** Milliseconds between the readings taken while high (default 1,000). */
    recheckMs?: number;
  } = {},
): HeapPressure {
  const high = options.highRatio ?? DEFAULT_HIGH_RATIO;
  const low = options.lowRatio ?? DEFAULT_LOW_RATIO;
  // The flags are the process's for its life: read once, not at each reading.
  const semiSpaceMiB = maxSemiSpaceMiB();
  const read = options.read ?? (() => readOldGeneration(semiSpaceMiB));
  let state = false;
  let last: HeapReading = read();
  let recheck: NodeJS.Timeout | undefined;
  const take = () => {
    last = read();
    const ratio = last.usedBytes / last.limitBytes;
    const next = state ? ratio >= low : ratio >= high;
    if (next === state) return;
    state = next;
    if (state) {
      recheck = setInterval(take, options.recheckMs ?? 1000);
      recheck.unref();
    } else {
      clearInterval(recheck);
      recheck = undefined;
    }
    options.onChange?.(state, last);
  };
  const unsubscribe = (options.majorCollections ?? observeMajorCollections)(take);
  return {
    get high() {
      return state;
    },
    get last() {
      return last;
    },
    close() {
      unsubscribe();
      clearInterval(recheck);
    },
  };
}

/** `onMajor` after each mark-compact of this isolate. */
function observeMajorCollections(onMajor: () => void): () => void {
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // A `gc` entry's detail says which collector ran (Node.js ≥ 16; not in this version's types).
      const { detail } = entry as { detail?: { kind?: number } };
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        onMajor();
        return;
      }
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
