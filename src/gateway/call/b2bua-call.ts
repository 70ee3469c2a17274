/**
 * One call through the B2BUA, as drachtio-srf's B2BUA sees it: two legs linked to each other — the caller's
 * INVITE server transaction (A) and one client INVITE per target (B), each with its own Call-ID, tags, Via
 * and Contact. This class wires the concerns together and owns the answer (first 2xx wins, the others are
 * cancelled), the ends of the call, and the public surface the B2BUA uses; the state lives in `call-state.ts`.
 */
import {
  newTag,
  retransmit2xxUntilAck,
  type ExtraHeaders,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
} from '../../sip/index.js';
import type { CallDisposition, HangupParty } from '../../store/index.js';
import type { MediaSession, MediaTotals } from '../media-anchor.js';
import type { LegTarget, SipOutbound } from '../sip-outbound.js';
import { CallerLeg } from './caller-leg.js';
import { sendBye, type CalleeLeg } from './callee-leg.js';
import { CallRecord } from './call-record.js';
import { ANSWERED, CallStateMachine, SETTING_UP, type CallState } from './call-state.js';
import type { CallHooks, CallIdentity, CallSettings, ForkMode, ForkTarget, Side } from './call-types.js';
import { dispositionOf } from './final-responses.js';
import { InDialogRelay, type InDialogCall } from './in-dialog-relay.js';
import { MediaLeg, type MediaLegCall } from './media-leg.js';
import { ProvisionalRelay, type ProvisionalRelayCall } from './provisional-relay.js';
import { TargetSet } from './target-set.js';

export class B2buaCall {
  private readonly machine = new CallStateMachine();
  private readonly record: CallRecord;
  private readonly caller: CallerLeg;
  private readonly media: MediaLeg;
  private readonly targets: TargetSet;
  private readonly provisionals: ProvisionalRelay;
  private readonly dialogs: InDialogRelay;
  /** A late offer answered in the 2xx: the callee's ACK waits for the caller's, which carries the answer. */
  private ackPendingForLateOffer = false;

  constructor(
    invite: SipRequest,
    inviteTx: ServerTransaction,
    callerTarget: LegTarget,
    readonly identity: CallIdentity,
    private readonly outbound: SipOutbound,
    media: MediaSession | undefined,
    private readonly settings: CallSettings,
    private readonly hooks: CallHooks,
  ) {
    this.caller = new CallerLeg(invite, inviteTx, callerTarget, outbound);
    this.record = new CallRecord(invite.callId, identity, hooks);
    // What the concerns may ask of the call: its state, and the ends they can bring about.
    const call: MediaLegCall & ProvisionalRelayCall & InDialogCall = {
      callId: invite.callId,
      machine: this.machine,
      t1: settings.t1,
      warn: (detail, message) => hooks.warn(detail, message),
      hangup: (by, reason) => this.hangup(by, reason),
      failSetup: (status, reason, headers, ended) => this.failSetup(status, reason, headers, ended),
      cancel: () => this.cancel(),
      run: (step) => this.run(step),
      winner: () => this.targets.winner,
      ringing: () => this.ringing(),
    };
    this.media = new MediaLeg(media, call);
    this.targets = new TargetSet(this.caller, newTag(), outbound, hooks, {
      response: (leg, response) => this.onResponse(leg, response),
      offered: (spec) => {
        if (spec.trunkId) this.record.trunkId = spec.trunkId; // a failover: the next trunk carries the call
      },
      settled: (best) => this.failSetup(best.status, best.reason, best.headers),
      settingUp: () => this.machine.settingUp,
      over: () => this.machine.over,
      run: (step) => this.run(step),
    });
    this.provisionals = new ProvisionalRelay(this.caller, this.media, call);
    this.dialogs = new InDialogRelay(
      this.caller,
      this.targets,
      this.provisionals,
      this.media,
      outbound,
      call,
    );
  }

  get startedAt(): number {
    return this.record.startedAt;
  }

  get answeredAt(): number | undefined {
    return this.record.answeredAt;
  }

  get state(): CallState {
    return this.machine.state;
  }

  /** Over (ending or ended). A method, not a narrowed field read: the state changes across awaits. */
  hasEnded(): boolean {
    return this.machine.over;
  }

  get callId(): string {
    return this.caller.callId;
  }

  /** The caller-side dialog tags, for matching in-dialog requests from the caller. */
  get callerTags(): { local: string; remote: string } {
    return this.caller.tags;
  }

  /** The callee-side Call-IDs of this call (for the call table). */
  get legCallIds(): string[] {
    return this.targets.callIds;
  }

  /** Which side a Call-ID belongs to. */
  sideOf(callId: string): Side | undefined {
    if (callId === this.callId) return 'caller';
    // Before the answer, the callee's early dialog paired with the caller's (early UPDATE/INFO).
    return (this.targets.winner ?? this.provisionals.peer?.leg)?.callId === callId ? 'callee' : undefined;
  }

  /** Anchors the offer and sends the INVITE to every target. */
  async start(targets: readonly ForkTarget[], mode: ForkMode = 'parallel'): Promise<void> {
    this.record.emit('started');
    let body = this.caller.invite.body;
    if (body.length > 0 && this.media.anchored) {
      try {
        body = await this.media.offer('caller', body);
      } catch (err) {
        this.media.failed(err, 'media relay refused the offer');
        return;
      }
    }
    if (this.machine.over) return; // cancelled while the relay answered
    this.machine.after('ring timeout', SETTING_UP, this.settings.ringTimeoutMs, () => this.ringTimeout());
    this.targets.start(targets, mode, body);
  }

  private async onResponse(leg: CalleeLeg, response: SipResponse): Promise<void> {
    if (response.status < 200) await this.provisionals.relay(leg, response);
    else await this.answer(leg, response);
  }

  /** A provisional response is relayed: the first one is the call's progress, and the call is early. */
  private ringing(): void {
    if (this.machine.state === 'routing') this.record.progress();
    this.machine.transition('early');
  }

  /** A callee leg's 2xx: the first one answers the call, any other is acknowledged and ended. */
  private async answer(leg: CalleeLeg, response: SipResponse): Promise<void> {
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
    this.record.answeredAt = Date.now();
    this.caller.confirm();
    this.provisionals.finalSent();
    const headers = this.caller.relayedHeaders(response, body);
    this.caller.respond(response.status, response.reason, headers, body);
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
    this.record.emit('answered');
    this.machine.after('max duration', ANSWERED, this.settings.maxDurationMs, () =>
      this.hangup('system', 'maximum call duration reached'),
    );
    this.media.watch(this.settings.mediaTimeoutMs);
  }

  /** An ACK from the caller for our 2xx (or for a re-INVITE 2xx) or from the callee for a re-INVITE 2xx. */
  async ack(side: Side, ack: SipRequest): Promise<void> {
    if (this.dialogs.absorbs(side, ack.cseq.seq)) return;
    if (side !== 'caller' || ack.cseq.seq !== this.caller.invite.cseq.seq) return;
    this.machine.stop('2xx retransmission');
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

  /** A request inside one of the call's dialogs (anything but ACK and CANCEL). */
  async inDialog(side: Side, request: SipRequest, tx: ServerTransaction): Promise<void> {
    await this.dialogs.receive(side, request, tx);
  }

  /** A 2xx that matched no transaction (Timer M gone): re-ACK the winner, ACK+BYE anything else. */
  stray2xx(response: SipResponse): void {
    const leg = this.targets.byCallId(response.callId);
    if (!leg) return;
    if (leg === this.targets.winner) leg.reacknowledge();
    else leg.refuse2xx(response);
  }

  /** Shutdown: timers stop and the call is forgotten without sending anything (the listeners are closing). */
  abandon(): void {
    this.machine.transition('ended');
  }

  /** The caller's CANCEL (§9.2): the forks are cancelled and the INVITE gets 487. */
  cancel(): void {
    if (!this.machine.settingUp) return;
    this.targets.cancelAll();
    this.caller.respond(487, 'Request Terminated');
    this.finish('cancelled', 487, 'caller');
  }

  private ringTimeout(): void {
    if (!this.machine.settingUp) return;
    this.targets.cancelAll();
    this.caller.respond(480, 'Temporarily Unavailable', { Reason: 'SIP;cause=480;text="No answer"' });
    this.finish('no-answer', 480, 'system', 'ring timeout');
  }

  /**
   * Ends the call before the answer with `status` to the caller. By default the callee's answer (the best of
   * its forks' finals, §16.7); `ended` says otherwise (the gateway itself, and why).
   */
  private failSetup(
    status: number,
    reason: string,
    headers: ExtraHeaders = {},
    ended?: { by: HangupParty; why: string },
  ): void {
    if (!this.machine.settingUp) return;
    this.targets.cancelAll();
    this.caller.respond(status, reason, headers);
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
    if (this.machine.over) return;
    if (this.machine.state !== 'answered') {
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
    const caller = this.caller.peer;
    const callee = this.targets.winner;
    if (by !== 'caller' && caller) sendBye(this.outbound, caller.dialog, caller.target, reason);
    if (by !== 'callee' && callee) callee.bye(reason);
    this.finish('answered', 200, by, reason);
  }

  /**
   * Runs an asynchronous step of the call (a response, a poll, a lookup). A step that throws ends the call —
   * 500 to the caller before the answer, BYE on both legs after — instead of becoming an unhandled rejection
   * that would stop the process.
   */
  private run(step: Promise<void>): void {
    step.catch((err: unknown) => {
      this.hooks.warn({ err, callId: this.callId }, 'call step failed: the call is ended');
      if (this.machine.state === 'answered') this.hangup('system', 'internal error');
      else this.failSetup(500, 'Server Internal Error', {}, { by: 'system', why: 'internal error' });
    });
  }

  private finish(
    disposition: CallDisposition,
    sipCode: number,
    hangupBy: HangupParty,
    reason?: string,
  ): void {
    if (!this.machine.transition('ending')) return;
    this.provisionals.finalSent();
    // RFC 6026 keeps an answered INVITE client transaction for Timer M (64*T1) only so that 2xx retransmissions
    // reach us for a new ACK; once the call is over a late 2xx is dropped like any stray one (`stray2xx` finds
    // no call), so the transactions go now rather than hold the whole call in memory for 32 s.
    for (const leg of this.targets.legs) leg.releaseTransaction();
    const endedAt = Date.now();
    const publish = (media: MediaTotals | undefined) => {
      this.machine.transition('ended');
      this.record.emit('ended', {
        endedAt,
        disposition,
        sipCode,
        hangupBy,
        ...(reason ? { reason } : {}),
        ...(media ? { media } : {}),
      });
      this.hooks.ended();
    };
    // The call is recorded and released whatever the relay answers (its stats are then missing).
    if (this.media.anchored) this.run(this.media.close().then(publish));
    else publish(undefined);
  }
}
