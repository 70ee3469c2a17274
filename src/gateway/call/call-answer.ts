/**
 * The call's answer: the first callee 2xx wins (the others are acknowledged and ended), the answer is anchored
 * on the relay and relayed to the caller, and the answered state's timers start (2xx retransmission until the
 * caller's ACK, maximum duration, media watchdog); with a late offer the callee's ACK waits for the caller's,
 * which carries the answer.
 */
import { retransmit2xxUntilAck, type SipRequest, type SipResponse } from '../../sip/index.js';
import type { HangupParty } from '../../store/index.js';
import type { CallerLeg } from './caller-leg.js';
import type { CalleeLeg } from './callee-leg.js';
import { ANSWERED, type CallStateMachine } from './call-state.js';
import type { CallSettings } from './call-types.js';
import type { LiveRecord } from './live-record.js';
import type { MediaLeg } from './media-leg.js';
import type { ProvisionalRelay } from './provisional-relay.js';
import type { TargetSet } from './target-set.js';

export class CallAnswer {
  /** A late offer answered in the 2xx: the callee's ACK waits for the caller's, which carries the answer. */
  private ackPendingForLateOffer = false;

  constructor(
    private readonly machine: CallStateMachine,
    private readonly caller: CallerLeg,
    private readonly targets: TargetSet,
    private readonly provisionals: ProvisionalRelay,
    private readonly media: MediaLeg,
    private readonly record: LiveRecord,
    private readonly settings: CallSettings,
    private readonly hangup: (by: HangupParty, reason: string) => void,
  ) {}

  /** A callee leg's 2xx: the first one answers the call, any other is acknowledged and ended. */
  async answer(leg: CalleeLeg, response: SipResponse): Promise<void> {
    if (this.targets.winner === leg) {
      leg.reacknowledge();
      return;
    }
    const { early } = leg.confirm(response);
    if (this.targets.winner || this.machine.over || leg.cancelled) {
      // A leg answered after another won, or after the call was cancelled: a dialog of its own that must be
      // acknowledged and then ended (§13.2.2.4, §15).
      leg.discard();
      return;
    }
    this.targets.winner = leg;
    this.machine.stop('ring timeout');
    this.targets.cancelAll();

    let body = response.body;
    const lateOffer = this.caller.lateOffer;
    // RFC 3262 §5: a late offer answered in a reliable provisional response and the caller's PRACK is
    // negotiated already; the 2xx repeats that session (RFC 6337 §3.1.1) and the ACKs carry no answer.
    const earlyOffer = lateOffer ? early?.offer : undefined;
    if (earlyOffer) {
      if (body.length > 0) body = earlyOffer;
    } else if (body.length > 0 && this.media.anchored) {
      try {
        body = lateOffer ? await this.media.offer('callee', body) : await this.media.answer('callee', body);
      } catch (err) {
        leg.discard();
        this.media.failed(err, 'media relay refused the answer');
        return;
      }
    }
    if (this.machine.over) {
      // Cancelled or timed out while the relay answered.
      leg.discard();
      return;
    }
    // With an offer in the INVITE the answer is already here: the callee gets its ACK now. With a late offer
    // the caller's ACK carries the answer and the callee's ACK waits for it.
    if (lateOffer && body.length > 0 && !earlyOffer) this.ackPendingForLateOffer = true;
    else leg.acknowledge(Buffer.alloc(0));

    this.machine.transition('answered');
    this.record.current.answeredAt = Date.now();
    this.caller.confirm();
    this.provisionals.finalSent();
    const headers = this.caller.relayedHeaders(response, body);
    this.caller.respond(response.status, response.reason, headers, body);
    // A placed caller was sent no 2xx (its dialog is confirmed and acknowledged already): nothing to resend.
    if (!this.caller.placed) {
      this.machine.own(
        '2xx retransmission',
        ANSWERED,
        retransmit2xxUntilAck({
          t1: this.settings.t1,
          t2: this.settings.t2,
          unreliable: this.caller.target.transport === 'udp',
          resend: () => this.caller.respond(response.status, response.reason, headers, body),
          noAck: () => this.hangup('system', 'no ACK for the 2xx'),
        }),
      );
    }
    this.record.current.emit('answered');
    this.machine.after('max duration', ANSWERED, this.settings.maxDurationMs, () =>
      this.hangup('system', 'maximum call duration reached'),
    );
    this.media.watch(this.settings.mediaTimeoutMs);
  }

  /** The caller's ACK for our 2xx: the retransmission stops, and a late offer's answer goes to the callee. */
  async callerAck(ack: SipRequest): Promise<void> {
    this.machine.stop('2xx retransmission');
    this.caller.acknowledged();
    const leg = this.targets.winner;
    if (!this.ackPendingForLateOffer || !leg) return;
    this.ackPendingForLateOffer = false;
    let body = ack.body;
    if (body.length > 0 && this.media.anchored) {
      try {
        body = await this.media.answer('caller', body);
      } catch (err) {
        // The caller's raw answer must not reach the callee: its 2xx is acknowledged without one and the call,
        // which cannot have media through the relay, is ended.
        leg.acknowledge(Buffer.alloc(0));
        this.media.failed(err, 'media relay refused the late answer');
        return;
      }
    }
    leg.acknowledge(body);
  }
}
