/**
 * What a process did while bench:media measured a step, to tell where the latency tail comes from: its
 * event-loop delay (perf_hooks.monitorEventLoopDelay), its garbage collections (PerformanceObserver 'gc', with
 * start and end on the epoch clock the packets' send times use), its timers, and how long its threads waited
 * for a CPU (the kernel's run-queue wait, /proc/<pid>/task/<tid>/schedstat) — for any process, RTPengine too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

/** A garbage collection: when it ran (epoch ms) and what kind (scavenge, mark-compact, …). */
export interface GcEvent {
  start: number;
  end: number;
  kind: string;
}

/** What one Node.js process observed of itself over a step. */
export interface SelfObservation {
  /** Event-loop delay over the step, ms: p50, p99, max (when watched: `observeSelf({ loopDelay: true })`). */
  loopDelay?: { p50: number; p99: number; max: number };
  gc: GcEvent[];
  /** Timers alive at the end of the step (process.getActiveResourcesInfo). */
  timers: number;
  /** The young generation's size at the end of the step, MiB (how much is allocated between scavenges). */
  newSpaceMiB: number;
}

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};

/**
 * Starts watching this process's collections, and its event loop's delay when `loopDelay` is set; `take()`
 * returns what was seen since the last `take()` (or the start) and begins a new window.
 *
 * The delay is sampled by a libuv timer every millisecond (the stalls that matter for a sub-millisecond tail are a
 * few ms long), which is CPU of the watched process: an idle relay used 19 ms of CPU a second with it and none
 * without it (2026-12-06), 1.9 µs a packet at 100 calls — CPU bench:media would count against voxgate's relay
 * and not against RTPengine. So the relay's is opt-in (`bench:media --relay-loop-delay`).
 */
export function observeSelf(options: { loopDelay: boolean }): { take(): SelfObservation; stop(): void } {
  const delay = options.loopDelay ? monitorEventLoopDelay({ resolution: 1 }) : undefined;
  delay?.enable();
  let gc: GcEvent[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const start = performance.timeOrigin + e.startTime;
      const detail = (e as { detail?: unknown }).detail as { kind?: number } | undefined;
      gc.push({ start, end: start + e.duration, kind: KINDS[detail?.kind ?? -1] ?? 'other' });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    take() {
      const ms = (ns: number) => ns / 1e6;
      const seen: SelfObservation = {
        ...(delay && {
          loopDelay: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
        }),
        gc,
        timers: process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length,
        newSpaceMiB:
          (getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0) / 2 ** 20,
      };
      gc = [];
      delay?.reset();
      return seen;
    },
    stop() {
      delay?.disable();
      observer.disconnect();
    },
  };
}

/** CPU time and run-queue wait of every thread of a process, ms (the kernel's schedstat). */
export function schedstat(pid: number): { runMs: number; waitMs: number } {
  let run = 0;
  let wait = 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { runMs: 0, waitMs: 0 };
  }
  for (const tid of tids) {
    try {
      const [onCpu, queued] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      run += Number(onCpu);
      wait += Number(queued);
    } catch {
      // the thread ended
    }
  }
  return { runMs: run / 1e6, waitMs: wait / 1e6 };
}

/** A packet slower than the step's p99: when it was sent (epoch ms) and how long it took. */
export interface SlowPacket {
  sentAt: number;
  ms: number;
}

/** Which of the slow packets were in flight while a collection ran (in either process), and how they bunch. */
export function attribute(
  slow: readonly SlowPacket[],
  relayGc: readonly GcEvent[],
  generatorGc: readonly GcEvent[],
): { relayGcPct: number; generatorGcPct: number; bursts: number; widestBurstMs: number } {
  const during = (p: SlowPacket, events: readonly GcEvent[]) =>
    events.some((g) => g.start <= p.sentAt + p.ms && g.end >= p.sentAt);
  let relay = 0;
  let generator = 0;
  for (const p of slow) {
    if (during(p, relayGc)) relay++;
    else if (during(p, generatorGc)) generator++;
  }
  // Bursts: slow packets sent within 2 ms of each other belong to one stall of something.
  const times = slow.map((p) => p.sentAt).sort((x, y) => x - y);
  let bursts = 0;
  let widest = 0;
  let first = -Infinity;
  let last = -Infinity;
  for (const t of times) {
    if (t - last > 2) {
      bursts++;
      first = t;
    }
    last = t;
    widest = Math.max(widest, last - first);
  }
  const pct = (n: number) => (slow.length ? (n / slow.length) * 100 : 0);
  return { relayGcPct: pct(relay), generatorGcPct: pct(generator), bursts, widestBurstMs: widest };
}
