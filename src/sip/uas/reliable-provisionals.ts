import { randomInt } from 'node:crypto';
import type { ExtraHeaders } from '../message/build-response.js';
import type { RAck } from '../headers/rack.js';

/** A provisional response (101-199) as the UAS core hands it to the INVITE server transaction. */
export interface Provisional {
  readonly status: number;
  readonly reason: string;
  readonly headers: ExtraHeaders;
  readonly body: Buffer;
}

export interface ReliableProvisionalsOptions {
  /** RFC 3261 T1, ms. */
  readonly t1: number;
  /** Whether the INVITE came over an unreliable transport (UDP): only there is a response retransmitted. */
  readonly unreliable: boolean;
  /** Passes a response (or a retransmission of it) to the INVITE server transaction. */
  send(response: Provisional): void;
  /** A reliable provisional response went unacknowledged for 64*T1. */
  expired(): void;
}

interface Pending<T> {
  readonly rseq: number;
  readonly response: Provisional;
  readonly context: T;
}

/**
 * The UAS core's half of RFC 3262 §3 for one INVITE: numbers reliable provisional responses (RSeq), sends
 * them one at a time, retransmits the unacknowledged one, and matches PRACKs to them. `T` is what the caller
 * of `send` wants back when the response is acknowledged (a B2BUA: which callee response it relayed).
 */
export class ReliableProvisionals<T> {
  /**
   * §3: "The value of the header field for the first reliable provisional response in a transaction MUST be
   * between 1 and 2**31 - 1. … The RSeq numbering space is within a single transaction."
   */
  private nextRseq = randomInt(1, 2 ** 31);
  private outstanding: Pending<T> | undefined;
  private readonly queue: { response: Provisional; context: T }[] = [];
  private retransmitTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private finalSent = false;

  constructor(private readonly options: ReliableProvisionalsOptions) {}

  /** Whether a reliable provisional response awaits its PRACK. */
  get unacknowledged(): boolean {
    return this.outstanding !== undefined;
  }

  /**
   * §3: "The UAS MUST NOT send a second reliable provisional response until the first is acknowledged." A
   * response sent while another is outstanding waits for that one's PRACK.
   */
  send(response: Provisional, context: T): void {
    if (this.finalSent) return;
    if (this.outstanding) {
      this.queue.push({ response, context });
      return;
    }
    this.transmit(response, context);
  }

  /**
   * §3: "If a PRACK request is received by the UA core that does not match any unacknowledged reliable
   * provisional response, the UAS MUST respond to the PRACK with a 481 response. If the PRACK does match an
   * unacknowledged reliable provisional response, it MUST be responded to with a 2xx response." A matching
   * PRACK is one "whose method, CSeq-num, and response-num in the RAck header field match, respectively, the
   * method from the CSeq, the sequence number from the CSeq, and the sequence number from the RSeq of the
   * reliable provisional response" (same dialog: the caller checks that). Returns the matched response's
   * context, or undefined for a 481.
   */
  prack(rack: RAck, request: { seq: number; method: string }): T | undefined {
    const pending = this.outstanding;
    if (
      !pending ||
      rack.rseq !== pending.rseq ||
      rack.cseq !== request.seq ||
      rack.method.toUpperCase() !== request.method
    ) {
      return undefined;
    }
    // "The retransmissions of the reliable provisional response cease when a matching PRACK is received."
    this.clearTimers();
    this.outstanding = undefined;
    const next = this.queue.shift();
    if (next && !this.finalSent) this.transmit(next.response, next.context);
    return pending.context;
  }

  /**
   * A final response went out. §3: "If the UAS does send a final response when reliable responses are still
   * unacknowledged, it SHOULD NOT continue to retransmit the unacknowledged reliable provisional responses,
   * but it MUST be prepared to process PRACK requests for those outstanding responses."
   */
  finalResponseSent(): void {
    this.finalSent = true;
    this.queue.length = 0;
    this.clearTimers();
  }

  private transmit(response: Provisional, context: T): void {
    const rseq = this.nextRseq;
    this.nextRseq += 1;
    // §3: the response "MUST contain a Require header field containing the option tag 100rel, and MUST include
    // an RSeq header field".
    const require = response.headers['Require'];
    const tags = require === undefined ? [] : typeof require === 'string' ? [require] : [...require];
    const reliable: Provisional = {
      ...response,
      headers: {
        ...response.headers,
        Require: tags.some((t) => /(^|,)\s*100rel\s*(,|$)/i.test(t)) ? tags : [...tags, '100rel'],
        RSeq: String(rseq),
      },
    };
    this.outstanding = { rseq, response: reliable, context };
    this.options.send(reliable);
    const { t1 } = this.options;
    // §3: "The reliable provisional response is passed to the transaction layer periodically with an interval
    // that starts at T1 seconds and doubles for each retransmission … This differs from retransmissions of
    // 2xx responses, whose intervals cap off at T2 seconds". A reliable transport carries it once.
    if (this.options.unreliable) {
      let interval = t1;
      const retransmit = () => {
        this.options.send(reliable);
        interval *= 2;
        this.retransmitTimer = setTimeout(retransmit, interval).unref();
      };
      this.retransmitTimer = setTimeout(retransmit, interval).unref();
    }
    // §3: "If a reliable provisional response is retransmitted for 64*T1 seconds without reception of a
    // corresponding PRACK, the UAS SHOULD reject the original request with a 5xx response."
    this.expiryTimer = setTimeout(() => {
      this.clearTimers();
      this.options.expired();
    }, 64 * t1).unref();
  }

  private clearTimers(): void {
    if (this.retransmitTimer) clearTimeout(this.retransmitTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.retransmitTimer = undefined;
    this.expiryTimer = undefined;
  }
}
