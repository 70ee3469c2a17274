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

import { sipChannels } from '../diagnostics.js';

/**
 * A transaction's named timers (A–M as in the RFC); all are unref'd and cleared on termination. A timer whose
 * work throws (the TU's handling of a timeout) is reported on `voxgate:sip:handler-error`, never thrown into the
 * event loop, where it would stop the process.
 */
export class TransactionTimers<Name extends string> {
  private readonly running = new Map<Name, NodeJS.Timeout>();

  start(name: Name, ms: number, fire: () => void): void {
    this.stop(name);
    const timer = setTimeout(() => {
      this.running.delete(name);
      try {
        fire();
      } catch (error) {
        if (sipChannels.handlerError.hasSubscribers) sipChannels.handlerError.publish({ timer: name, error });
      }
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
