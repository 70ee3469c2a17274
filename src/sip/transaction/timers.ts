/**
 * RFC 3261 §17.1.1.1 and Table 4: "T1 … estimate of the round-trip time (RTT), and it defaults to 500 ms";
 * T2 = 4 s, the maximum retransmit interval for non-INVITE requests and INVITE responses; T4 = 5 s, the
 * maximum duration a message will remain in the network.
 */
export interface TimerSettings {
  readonly t1: number;
  readonly t2: number;
  readonly t4: number;
}

export const DEFAULT_TIMERS: TimerSettings = { t1: 500, t2: 4000, t4: 5000 };

/** A transaction's named timers (A–M as in the RFC); all are unref'd and cleared on termination. */
export class TransactionTimers<Name extends string> {
  private readonly running = new Map<Name, NodeJS.Timeout>();

  start(name: Name, ms: number, fire: () => void): void {
    this.stop(name);
    const timer = setTimeout(() => {
      this.running.delete(name);
      fire();
    }, ms);
    timer.unref();
    this.running.set(name, timer);
  }

  stop(name: Name): void {
    const timer = this.running.get(name);
    if (timer) clearTimeout(timer);
    this.running.delete(name);
  }

  stopAll(): void {
    for (const timer of this.running.values()) clearTimeout(timer);
    this.running.clear();
  }

  isRunning(name: Name): boolean {
    return this.running.has(name);
  }
}
