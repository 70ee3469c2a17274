/**
 * The ends of a call: the caller's CANCEL, the ring timeout, a failed setup (the callee's best final, or the
 * gateway's own refusal), a hangup by a party, the gateway or the API, a step that threw; and the end itself,
 * which releases the transactions and limits and records the call once the relay gave its stats.
 */
import type { ExtraHeaders } from '../../sip/index.js';
import type { CallDisposition, HangupParty } from '../../store/index.js';
import type { MediaTotals } from '../media-anchor.js';
import type { CallerLeg } from './caller-leg.js';
import type { CallParties } from './call-parties.js';
import type { CallStateMachine } from './call-state.js';
import type { CallTransfers } from './call-transfers.js';
import type { CallHooks } from './call-types.js';
import { dispositionOf } from './final-responses.js';
import type { LiveRecord } from './live-record.js';
import type { MediaLeg } from './media-leg.js';
import type { ProvisionalRelay } from './provisional-relay.js';
import type { TargetSet } from './target-set.js';

/** The parts of the call its ends act on. */
export interface EndingParts {
  readonly callId: string;
  readonly machine: CallStateMachine;
  readonly hooks: CallHooks;
  readonly caller: CallerLeg;
  readonly targets: TargetSet;
  readonly provisionals: ProvisionalRelay;
  readonly media: MediaLeg;
  readonly parties: CallParties;
  readonly transfers: CallTransfers;
  readonly record: LiveRecord;
}

export class CallEnding {
  constructor(private readonly call: EndingParts) {}

  /** The caller's CANCEL (§9.2): the forks are cancelled and the INVITE gets 487. */
  cancel(): void {
    if (!this.call.machine.settingUp) return;
    this.call.targets.cancelAll();
    this.call.caller.respond(487, 'Request Terminated');
    this.finish('cancelled', 487, 'caller');
  }

  ringTimeout(): void {
    if (!this.call.machine.settingUp) return;
    this.call.targets.cancelAll();
    this.call.caller.respond(480, 'Temporarily Unavailable', { Reason: 'SIP;cause=480;text="No answer"' });
    this.finish('no-answer', 480, 'system', 'ring timeout');
  }

  /**
   * Ends the call before the answer with `status` to the caller. By default the callee's answer (the best of
   * its forks' finals, §16.7); `ended` says otherwise (the gateway itself, and why).
   */
  failSetup(
    status: number,
    reason: string,
    headers: ExtraHeaders = {},
    ended?: { by: HangupParty; why: string },
  ): void {
    if (!this.call.machine.settingUp) return;
    this.call.targets.cancelAll();
    this.call.caller.respond(status, reason, headers);
    this.finish(
      dispositionOf(status),
      status,
      ended?.by ?? (status === 487 ? 'caller' : 'callee'),
      ended?.why,
    );
  }

  /**
   * Ends the call. Answered: BYE to whichever side did not hang up. Before the answer: the forks are
   * cancelled and the caller gets 487 — recorded as the caller's CANCEL when a party ended it, else (the
   * gateway, the API) with who ended it and why.
   */
  hangup(by: HangupParty, reason: string | undefined): void {
    const { machine, transfers, parties } = this.call;
    if (machine.over) return;
    if (machine.state !== 'answered') {
      if (by === 'caller' || by === 'callee' || reason === undefined) this.cancel();
      else
        this.failSetup(
          487,
          'Request Terminated',
          { Reason: `SIP;cause=487;text="${reason}"` },
          { by, why: reason },
        );
      return;
    }
    transfers.pending()?.abort(by, reason);
    for (const side of ['caller', 'callee'] as const) if (by !== side) parties.bye(side, reason);
    this.finish('answered', 200, by, reason);
  }

  /**
   * Runs an asynchronous step of the call (a response, a poll, a lookup). A step that throws ends the call —
   * 500 to the caller before the answer, BYE on both legs after — instead of becoming an unhandled rejection
   * that would stop the process.
   */
  run(step: Promise<void>): void {
    step.catch((err: unknown) => {
      this.call.hooks.warn({ err, callId: this.call.callId }, 'call step failed: the call is ended');
      if (this.call.machine.state === 'answered') this.hangup('system', 'internal error');
      else this.failSetup(500, 'Server Internal Error', {}, { by: 'system', why: 'internal error' });
    });
  }

  finish(disposition: CallDisposition, sipCode: number, hangupBy: HangupParty, reason?: string): void {
    const { machine, provisionals, targets, transfers, parties, media, hooks } = this.call;
    if (!machine.transition('ending')) return;
    provisionals.finalSent();
    // The legs' transactions must not hold the whole call in memory for their last 32 s (`CalleeLeg.release`):
    // answered ones go now, pending ones answer their late responses without the call.
    for (const leg of targets.legs) leg.release();
    for (const leg of transfers.legs) leg.release();
    // Nor is the caller's 2xx retransmitted once the call is over (its transaction stays until Timer L to absorb
    // a retransmitted INVITE, without the 2xx).
    this.call.caller.acknowledged();
    parties.releaseTransferredLimits();
    const ended = this.call.record.ending(disposition, sipCode, hangupBy, reason);
    const publish = (totals: MediaTotals | undefined) => {
      machine.transition('ended');
      ended(totals);
      hooks.ended();
    };
    // The call is recorded and released whatever the relay answers (its stats are then missing).
    if (media.anchored) this.run(media.close().then(publish));
    else publish(undefined);
  }
}
