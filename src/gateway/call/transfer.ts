/**
 * A blind transfer the B2BUA carries out for one of the call's parties — a REFER (RFC 3515) from the
 * transferor, or the API — instead of relaying it: the target is called on a leg of its own, authorized as a
 * call from the transferor, the transferor is told how it goes (NOTIFY with message/sipfrag), and when the
 * target answers it takes the transferor's place in the call (`B2buaCall.transferred`).
 *
 * Media: the relay is re-offered the SDP of the party that stays, from that party's side; the relay keeps the
 * ports facing that party (a re-offer from a known tag keeps them, on voxgate's relay and on RTPengine), gives
 * the target an offer on the ports of the transferor's side, and the target's answer re-points that side at
 * the target. The party that stays is sent nothing: no re-INVITE that a phone or carrier might refuse or get
 * wrong, no gap in its media — it keeps sending to the same relay port and hears the target from the moment of
 * the answer. Until then the relay still connects it to the transferor (an offer without an answer changes
 * nothing on the side it goes to), so a failed transfer leaves the call as it was.
 */
import { buildDialogRequest, newTag, type Dialog, type SipResponse } from '../../sip/index.js';
import type { HangupParty } from '../../store/index.js';
import type { LegTarget, SipOutbound } from '../sip-outbound.js';
import type { LegOrigin } from './caller-leg.js';
import type { CalleeLeg } from './callee-leg.js';
import type { CallRecord } from './call-record.js';
import { ANSWERED } from './call-state.js';
import {
  other,
  type CallHooks,
  type CallPart,
  type ForkTarget,
  type Side,
  type TransferPlan,
} from './call-types.js';
import { dispositionOf } from './final-responses.js';
import type { MediaLeg } from './media-leg.js';
import { TargetSet } from './target-set.js';

/** RFC 3515 §2.4.4 / RFC 6665: how long the implicit subscription of a REFER lasts, seconds. */
export const REFER_SUBSCRIPTION_SECONDS = 60;

/** What a transfer needs of its call. */
export interface TransferCall extends CallPart {
  readonly outbound: SipOutbound;
  readonly media: MediaLeg;
  readonly hooks: Pick<CallHooks, 'registerLeg' | 'warn'>;
  /** The INVITE the new leg's headers are copied from (Max-Forwards, passthrough headers). */
  readonly origin: LegOrigin;
  readonly ringTimeoutMs: number;
  run(step: Promise<void>): void;
  /** The target answered on `leg` (acknowledged, its media anchored): it takes the transferor's place. */
  transferred(transfer: BlindTransfer, leg: CalleeLeg): void;
  /** The transfer failed after the transferor had left: nobody is left for the party that stayed. */
  abandoned(transfer: BlindTransfer): void;
}

/** RFC 3515 §2.4.4: the implicit subscription of a REFER, in the transferor's dialog. */
export interface ReferSubscription {
  readonly dialog: Dialog;
  readonly target: LegTarget;
  /** §2.4.6: the `id` parameter of the NOTIFYs' Event header is the REFER's CSeq sequence number. */
  readonly id: number;
}

export class BlindTransfer {
  private readonly targets: TargetSet;
  private status: 'pending' | 'done' | 'failed' = 'pending';
  private winner: CalleeLeg | undefined;
  private ringing = false;
  /** The transferor hung up while the target was called: no NOTIFY, and on failure the call ends. */
  private left = false;

  constructor(
    private readonly call: TransferCall,
    /** The transferor's side: the party there leaves, and the target takes its place. */
    readonly side: Side,
    readonly plan: TransferPlan,
    /** The new call's record (a new call id, `transferredFrom` the original). */
    readonly record: CallRecord,
    /** From of the new leg: the party that stays, as its own leg names it. */
    private readonly from: string,
    private subscription: ReferSubscription | undefined,
  ) {
    this.targets = new TargetSet(call.origin, newTag(), call.outbound, call.hooks, {
      response: (leg, response) => this.onResponse(leg, response),
      offered: () => undefined,
      settled: (best) => this.fail(best.status, best.reason, this.side),
      settingUp: () => this.pending,
      over: () => call.machine.over || !this.pending,
      run: (step) => call.run(step),
    });
  }

  get pending(): boolean {
    return this.status === 'pending';
  }

  /** The new leg's Call-IDs (for the call table). */
  get callIds(): string[] {
    return this.targets.callIds;
  }

  /** The leg of a Call-ID, if it is one of this transfer's. */
  byCallId(callId: string): CalleeLeg | undefined {
    return this.targets.byCallId(callId);
  }

  get legs(): readonly CalleeLeg[] {
    return this.targets.legs;
  }

  /** The target's leg whose 2xx won, once one did. */
  get answeredBy(): CalleeLeg | undefined {
    return this.winner;
  }

  /** Tells the transferor the transfer is under way, anchors the offer for the target and calls it. */
  async start(): Promise<void> {
    this.record.emit('started');
    this.notify(100, 'Trying');
    const stays = other(this.side);
    let offer: Buffer;
    try {
      offer = await this.call.media.offer(stays, this.call.media.lastSdp(stays) ?? Buffer.alloc(0));
    } catch (err) {
      this.call.warn({ err, callId: this.call.callId }, 'media relay refused the transfer offer');
      this.fail(503, 'Service Unavailable', 'system', 'media relay failed');
      return;
    }
    if (!this.pending || this.call.machine.over) return;
    this.call.machine.after('transfer ring timeout', ANSWERED, this.call.ringTimeoutMs, () => {
      this.fail(480, 'Temporarily Unavailable', 'system', 'ring timeout');
    });
    const forks: ForkTarget[] = this.plan.forks.map((f) => ({ ...f, from: f.from ?? this.from }));
    this.targets.start(forks, this.plan.mode, offer);
  }

  /** The transferor hung up while the target is called: the transfer goes on, and nobody is told. */
  transferorLeft(): void {
    this.left = true;
    this.subscription = undefined;
  }

  /** The party that stays hung up, or the call ended otherwise: the target's legs are cancelled. */
  abort(by: HangupParty, reason?: string): void {
    this.left = false; // the call is ending already
    this.fail(487, 'Request Terminated', by, reason);
  }

  private async onResponse(leg: CalleeLeg, response: SipResponse): Promise<void> {
    if (response.status < 200) {
      // §9.1: a CANCEL of the target waits for a provisional response (sent now if the transfer ended meanwhile).
      if (!leg.provisionalArrived()) return;
      if (!this.ringing && response.status > 100 && this.pending) {
        this.ringing = true;
        this.record.progress();
      }
      return;
    }
    if (this.winner) {
      if (leg === this.winner) leg.reacknowledge();
      else leg.discard();
      return;
    }
    leg.confirm(response);
    if (!this.pending || this.call.machine.over || leg.cancelled) {
      leg.discard();
      return;
    }
    this.winner = leg;
    this.targets.winner = leg;
    this.call.machine.stop('transfer ring timeout');
    this.targets.cancelAll();
    if (response.body.length === 0) {
      // Our INVITE carried the offer: a 2xx without the answer leaves the target without media.
      leg.discard();
      this.fail(488, 'Not Acceptable Here', 'system', 'no SDP answer from the transfer target');
      return;
    }
    try {
      // The relay's SDP for the party that stays has the ports it already sends to: it is not sent again.
      await this.call.media.answer(this.side, response.body);
    } catch (err) {
      leg.discard();
      this.call.warn({ err, callId: this.call.callId }, 'media relay refused the transfer answer');
      this.fail(503, 'Service Unavailable', 'system', 'media relay failed');
      return;
    }
    if (!this.pending || this.call.machine.over) {
      leg.discard();
      return;
    }
    leg.acknowledge(Buffer.alloc(0));
    this.status = 'done';
    this.notify(response.status, response.reason);
    this.call.transferred(this, leg);
  }

  /**
   * The transfer failed: the transferor is told (a failure sipfrag), the target's legs are cancelled, the new
   * call's record ends with the target's answer, and the call goes on as it was — unless the transferor has
   * left meanwhile.
   */
  private fail(status: number, reason: string, by: HangupParty, why?: string): void {
    if (!this.pending) return;
    this.status = 'failed';
    this.call.machine.stop('transfer ring timeout');
    this.targets.cancelAll();
    this.notify(status, reason);
    const now = Date.now();
    this.record.emit('ended', {
      endedAt: now,
      disposition: dispositionOf(status),
      sipCode: status,
      hangupBy: by,
      ...(why ? { reason: why } : {}),
    });
    this.plan.release();
    if (this.left) this.call.abandoned(this);
  }

  private notify(status: number, reason: string): void {
    if (!this.subscription) return;
    notifySipfrag(this.call.outbound, this.subscription, status, reason);
    if (status >= 200) this.subscription = undefined;
  }
}

/**
 * RFC 3515 §2.4.5: "The body of a NOTIFY MUST begin with a SIP Response Status-Line"; §2.4.4: the first one
 * (100 Trying) keeps the subscription active, the final one terminates it (RFC 6665 §4.1.3: `noresource`,
 * nothing more will be reported).
 */
export function notifySipfrag(
  outbound: SipOutbound,
  sub: ReferSubscription,
  status: number,
  reason: string,
): void {
  const final = status >= 200;
  const bytes = buildDialogRequest(sub.dialog, 'NOTIFY', {
    via: outbound.via(sub.target),
    contact: outbound.contact(sub.target, sub.dialog.secure),
    headers: [
      { name: 'Event', value: `refer;id=${sub.id}` },
      {
        name: 'Subscription-State',
        value: final ? 'terminated;reason=noresource' : `active;expires=${REFER_SUBSCRIPTION_SECONDS}`,
      },
      { name: 'Content-Type', value: 'message/sipfrag' },
    ],
    body: Buffer.from(`SIP/2.0 ${status} ${reason}\r\n`),
  });
  outbound.request(bytes, sub.target, { response: () => undefined, timeout: () => undefined });
}
