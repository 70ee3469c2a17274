/**
 * The UAS core's retransmission of a 2xx to an INVITE until its ACK arrives (RFC 3261 §13.3.1.4): the INVITE
 * server transaction is gone once the 2xx is sent, so the core itself resends it and gives up after 64*T1.
 */

export interface Retransmit2xxOptions {
  /** RFC 3261 T1 and T2, ms. */
  readonly t1: number;
  readonly t2: number;
  /** Whether the INVITE came over an unreliable transport (UDP): only there is the 2xx retransmitted. */
  readonly unreliable: boolean;
  /** Passes the 2xx to the transport again. */
  resend(): void;
  /** 64*T1 passed without the ACK: the session SHOULD be terminated with a BYE. */
  noAck(): void;
}

/** A 2xx being retransmitted; `stop` when its ACK arrives (or the call ends first). */
export interface Retransmit2xx {
  stop(): void;
}

/**
 * §13.3.1.4: "The 2xx response is passed to the transport with an interval that starts at T1 seconds and
 * doubles for each retransmission until it reaches T2 seconds … If the server retransmits the 2xx response
 * for 64*T1 seconds without receiving an ACK, the dialog is confirmed, but the session SHOULD be terminated.
 * This is accomplished with a BYE". Reliable transports carry the 2xx once, but the ACK deadline stays.
 * Call it right after the 2xx was sent the first time.
 */
export function retransmit2xxUntilAck(options: Retransmit2xxOptions): Retransmit2xx {
  const { t1, t2, unreliable } = options;
  const deadline = 64 * t1;
  // Time is counted by the waits scheduled, not read from a clock: a timer never fires early, and a clock read
  // a millisecond short of 64*T1 would otherwise add one more full wait (another 64*T1 on a reliable transport)
  // before the BYE. The last wait is cut to end at the deadline.
  let waited = 0;
  let interval = t1;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    const wait = Math.min(unreliable ? interval : deadline, deadline - waited);
    waited += wait;
    timer = setTimeout(tick, wait);
  };
  const tick = () => {
    if (waited >= deadline) {
      timer = undefined;
      options.noAck();
      return;
    }
    if (unreliable) options.resend();
    interval = Math.min(2 * interval, t2);
    schedule();
  };
  schedule();
  return {
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
