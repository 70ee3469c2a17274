/**
 * One call through the B2BUA, as drachtio-srf's B2BUA sees it: two legs linked to each other — the caller's
 * INVITE server transaction (A) and one client INVITE per target (B), each with its own Call-ID, tags, Via
 * and Contact. This class wires the concerns together and owns the answer (first 2xx wins, the others are
 * cancelled), the ends of the call, and the public surface the B2BUA uses; the state lives in `call-state.ts`.
 */
import {
  header,
  newTag,
  receiveDialogRequest,
  retransmit2xxUntilAck,
  uriOf,
  withoutTag,
  type Dialog,
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
import {
  CallTransfers,
  other,
  REPLACED,
  TRANSFERRED,
  type PartyLeg,
  type TransferringCall,
} from './call-transfers.js';
import type {
  CallHooks,
  CallIdentity,
  CallSettings,
  ForkMode,
  ForkTarget,
  Side,
  TransferRefusal,
} from './call-types.js';
import { dispositionOf } from './final-responses.js';
import { InDialogRelay, type InDialogCall } from './in-dialog-relay.js';
import { MediaLeg, type MediaLegCall } from './media-leg.js';
import { ProvisionalRelay, type ProvisionalRelayCall } from './provisional-relay.js';
import { TargetSet } from './target-set.js';

/** What a call's leg is to the call table: a side, or a leg a transfer let go (`B2buaCall.roleOf`). */
export type LegRole = Side | 'released';

export { REPLACED, TRANSFERRED };

export class B2buaCall {
  private readonly machine = new CallStateMachine();
  /** The record of the call as it is now: the original, or after a transfer the transferred call's. */
  private record: CallRecord;
  /** After a transfer, the party that took a side's place. */
  private readonly replaced: Partial<Record<Side, PartyLeg>> = {};
  /** Call-IDs of legs a transfer let go: a BYE crossing ours is answered, nothing else reaches the call. */
  private readonly released = new Set<string>();
  /** Call-IDs of legs handed over to another call: no longer this call's to index or end. */
  private readonly detached = new Set<string>();
  /** The relay's totals when the current record began: a transferred call's media stats are its own. */
  private mediaBase: MediaTotals | undefined;
  /** Gives back the limits held for a side's party: the call's own, or the transfer's that brought it. */
  private readonly limitsOf: Record<Side, () => void> = {
    caller: () => this.hooks.releaseParty?.('caller'),
    callee: () => this.hooks.releaseParty?.('callee'),
  };
  private readonly caller: CallerLeg;
  private readonly media: MediaLeg;
  private readonly targets: TargetSet;
  private readonly provisionals: ProvisionalRelay;
  private readonly dialogs: InDialogRelay;
  private readonly transfers: CallTransfers;
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
    /**
     * A call the gateway placed (click-to-call, `click-to-call.ts`): the caller is the party it rang first,
     * whose answered dialog this is, and the call's record — started, and ringing, while that party was rung —
     * goes on here.
     */
    placed?: { readonly dialog: Dialog; readonly record: CallRecord },
  ) {
    this.caller = new CallerLeg(invite, inviteTx, callerTarget, outbound, placed?.dialog);
    this.record = placed?.record ?? new CallRecord(invite.callId, identity, hooks);
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
      party: (side) => this.party(side),
      recordingChanged: (on) => hooks.recordingChanged?.(this.liveCallId, on),
      recorded: (recording) =>
        hooks.recorded?.({ tenantId: identity.tenantId, callId: this.liveCallId, ...recording }),
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
    this.transfers = new CallTransfers(this.transferring());
  }

  /** What the call's transfers may ask of it (`call-transfers.ts`). */
  private transferring(): TransferringCall {
    return {
      callId: this.callId,
      machine: this.machine,
      warn: (detail, message) => this.hooks.warn(detail, message),
      identity: this.identity,
      settings: this.settings,
      outbound: this.outbound,
      hooks: this.hooks,
      media: this.media,
      origin: {
        invite: this.caller.invite,
        callId: this.caller.callId,
        reliable: false,
        requiresReliable: false,
      },
      recordCallId: () => this.record.callId,
      party: (side) => this.party(side),
      who: (side) => this.who(side),
      run: (step) => this.run(step),
      hangup: (by, reason) => this.hangup(by, reason),
      takeOver: (side, party, record, reason) => this.takeOver(side, party, record, reason),
      limitsNow: (side, release) => {
        this.limitsOf[side] = release;
      },
    };
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

  /** The callee-side Call-IDs of this call, and those of its transfers' legs (for the call table). */
  get legCallIds(): string[] {
    return [...this.targets.callIds, ...this.transfers.callIds].filter((id) => !this.detached.has(id));
  }

  /** The id of the call's live call and record now: the original Call-ID, or a transferred call's id. */
  get liveCallId(): string {
    return this.record.callId;
  }

  /** Which side a Call-ID is now (undefined for a leg a transfer let go). */
  sideOf(callId: string): Side | undefined {
    const role = this.roleOf(callId);
    return role === 'released' ? undefined : role;
  }

  /** What a Call-ID is to the call: a side, a leg a transfer let go, or nothing. */
  roleOf(callId: string): LegRole | undefined {
    if (this.released.has(callId)) return 'released';
    if (this.replaced.caller?.callId === callId) return 'caller';
    if (this.replaced.callee?.callId === callId) return 'callee';
    if (callId === this.callId) return 'caller';
    // Before the answer, the callee's early dialog paired with the caller's (early UPDATE/INFO).
    return (this.targets.winner ?? this.provisionals.peer?.leg)?.callId === callId ? 'callee' : undefined;
  }

  /** A side's confirmed dialog and where its requests go: after a transfer, the party that took its place. */
  private party(side: Side): { dialog: Dialog; target: LegTarget } | undefined {
    const replaced = this.replaced[side];
    if (replaced) return replaced;
    if (side === 'caller') return this.caller.peer;
    const leg = this.targets.winner;
    return leg?.dialog ? { dialog: leg.dialog, target: leg.target } : undefined;
  }

  /** Who a side's party is: its address, and its AOR when it is a user of the tenant (not a trunk). */
  private who(side: Side): { addr: string; aor: string | undefined } {
    const replaced = this.replaced[side];
    if (replaced) return replaced;
    if (side === 'caller') {
      return {
        addr: withoutTag(header(this.caller.invite, 'From') ?? ''),
        aor: this.identity.direction === 'inbound' ? undefined : this.identity.from,
      };
    }
    const spec = this.targets.winner?.spec;
    const addr = spec?.to ?? withoutTag(header(this.caller.invite, 'To') ?? '');
    return { addr, aor: spec && !spec.trunkId ? uriOf(addr) : undefined };
  }

  /** Anchors the offer and sends the INVITE to every target. */
  async start(targets: readonly ForkTarget[], mode: ForkMode = 'parallel'): Promise<void> {
    if (!this.caller.placed) this.record.emit('started');
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
    // A placed call rang when its first party did (`call.ringing` once per call).
    if (this.machine.state === 'routing' && !(this.caller.placed && this.record.ringingAt))
      this.record.progress();
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
    this.record.emit('answered');
    this.machine.after('max duration', ANSWERED, this.settings.maxDurationMs, () =>
      this.hangup('system', 'maximum call duration reached'),
    );
    this.media.watch(this.settings.mediaTimeoutMs);
  }

  /** An ACK from the caller for our 2xx (or for a re-INVITE 2xx) or from the callee for a re-INVITE 2xx. */
  async ack(side: Side, ack: SipRequest): Promise<void> {
    if (this.transfers.acknowledged(ack)) return;
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
  async inDialog(role: LegRole, request: SipRequest, tx: ServerTransaction): Promise<void> {
    if (role === 'released') {
      // The transferor's BYE crossing ours (baresip sends one on the 2xx sipfrag): the leg is gone either way.
      if (request.method === 'BYE') tx.respond(200, 'OK');
      else tx.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    if (request.method === 'REFER') {
      if (this.hooks.transfer) await this.transfers.refer(role, request, tx);
      else await this.dialogs.relayRefer(role, request, tx);
      return;
    }
    const transfer = this.transfers.pending();
    if (transfer && transfer.side === role && request.method === 'BYE') {
      const own = this.party(role);
      if (own && receiveDialogRequest(own.dialog, request) === 500) {
        tx.respond(500, 'Server Internal Error', { 'Retry-After': '1' });
        return;
      }
      // A blind transfer's transferor may hang up once its REFER is accepted: the party that stays is kept and
      // the transfer goes on (it ends the call only if it fails).
      tx.respond(200, 'OK');
      this.let(role);
      transfer.transferorLeft();
      return;
    }
    await this.dialogs.receive(role, request, tx);
  }

  /** A side's party as another call may take it: its dialog, where its requests go, who it is. */
  partyFor(side: Side): PartyLeg | undefined {
    const own = this.party(side);
    return own && { ...own, ...this.who(side), callId: this.sideCallId(side) };
  }

  /**
   * The party on `side` joined another call (an attended transfer): its leg is let go without a BYE, the
   * other party — the transferor — gets one, and this call ends, recorded as transferred by that party.
   */
  handOver(side: Side): void {
    if (this.machine.over) return;
    this.transfers.pending()?.abort('system', TRANSFERRED);
    const callId = this.sideCallId(side);
    this.let(side);
    this.detached.add(callId);
    const leaving = other(side);
    const party = this.party(leaving);
    if (party && !this.released.has(this.sideCallId(leaving)))
      sendBye(this.outbound, party.dialog, party.target, TRANSFERRED);
    this.let(leaving);
    this.finish('answered', 200, leaving, TRANSFERRED);
  }

  /** The relay is recording the call. */
  get recording(): boolean {
    return this.media.recording;
  }

  /**
   * Starts or stops recording the call (the API's): undefined when done (or nothing to do), else why not. A
   * call whose recording policy is `off` is not recorded.
   */
  async setRecording(on: boolean): Promise<string | undefined> {
    if (this.machine.over) return 'the call is ending';
    if (!on) {
      await this.media.stopRecording();
      return undefined;
    }
    if ((this.identity.recording ?? 'off') === 'off') return 'recording is off for this call';
    return this.media.startRecording();
  }

  /**
   * A blind transfer through the API: the party on `stays` is connected to `target` and the other party is
   * released. Undefined when it is under way, else why not (`CallTransfers.byApi`).
   */
  transferByApi(stays: Side, target: string): Promise<TransferRefusal | undefined> {
    return this.transfers.byApi(stays, target);
  }

  /** Lets the party on `side` go: its leg's requests get 481 from now on, a BYE 200. */
  private let(side: Side): void {
    const callId = this.sideCallId(side);
    if (callId) this.released.add(callId);
  }

  /**
   * `party` takes the place of the party on `side`: that party's leg is released (BYE with `reason`, unless
   * it hung up already) and its limits given back, the call's record ends (`reason`, hung up by that side)
   * and `record` — the new party's call — is answered and is the call's record from now on.
   */
  private async takeOver(side: Side, party: PartyLeg, record: CallRecord, reason: string): Promise<void> {
    const leaving = this.party(side);
    const alreadyLeft = this.released.has(this.sideCallId(side));
    this.let(side);
    if (leaving && !alreadyLeft) sendBye(this.outbound, leaving.dialog, leaving.target, reason);
    this.replaced[side] = party;
    this.limitsOf[side]();
    this.limitsOf[side] = () => undefined;
    const at = Date.now();
    const original = this.record;
    this.record = record;
    this.record.answeredAt = at;
    const totals = await this.media.stats();
    original.emit('ended', {
      endedAt: at,
      disposition: 'answered',
      sipCode: 200,
      hangupBy: side,
      reason,
      ...(totals ? { media: since(totals, this.mediaBase) } : {}),
    });
    this.mediaBase = totals;
    record.emit('answered');
  }

  /**
   * The side whose dialog is `id` as this gateway sees it (its Call-ID, our tag, the party's tag), once the
   * call is answered: what an INVITE with Replaces names — RFC 3891 §3 matches its to-tag with the local tag
   * of the dialog and its from-tag with the remote tag.
   */
  sideByDialog(id: { callId: string; localTag: string; remoteTag: string }): Side | undefined {
    if (this.machine.state !== 'answered' || this.released.has(id.callId)) return undefined;
    for (const side of ['caller', 'callee'] as const) {
      const own = this.party(side)?.dialog.id;
      if (own?.callId === id.callId && own.localTag === id.localTag && own.remoteTag === id.remoteTag)
        return side;
    }
    return undefined;
  }

  /**
   * An INVITE with Replaces (RFC 3891) naming the dialog of `side`, from an authenticated user of the tenant:
   * its sender takes that party's place (`CallTransfers.replace`).
   */
  replace(
    side: Side,
    invite: SipRequest,
    tx: ServerTransaction,
    target: LegTarget,
    who: { aor: string },
  ): Promise<void> {
    return this.transfers.replace(side, invite, tx, target, who);
  }

  /** A 2xx that matched no transaction (Timer M gone): re-ACK the winner, ACK+BYE anything else. */
  stray2xx(response: SipResponse): void {
    const own = this.targets.byCallId(response.callId);
    const found = own
      ? { leg: own, answered: own === this.targets.winner }
      : this.transfers.legOf(response.callId);
    if (!found) return;
    if (found.answered) found.leg.reacknowledge();
    else found.leg.refuse2xx(response);
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
    this.transfers.pending()?.abort(by, reason);
    for (const side of ['caller', 'callee'] as const) {
      const party = this.party(side);
      const gone = this.released.has(this.sideCallId(side));
      if (by !== side && party && !gone) sendBye(this.outbound, party.dialog, party.target, reason);
    }
    this.finish('answered', 200, by, reason);
  }

  /** The Call-ID of a side's leg now (after a transfer, the leg of the party that took its place). */
  private sideCallId(side: Side): string {
    return (
      this.replaced[side]?.callId ?? (side === 'caller' ? this.callId : (this.targets.winner?.callId ?? ''))
    );
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
    // The limits of the parties that came through transfers (the call's own go when the table lets it go).
    for (const leg of this.transfers.legs) leg.releaseTransaction();
    for (const side of ['caller', 'callee'] as const) if (this.replaced[side]) this.limitsOf[side]();
    const endedAt = Date.now();
    const base = this.mediaBase;
    const record = this.record;
    const publish = (media: MediaTotals | undefined) => {
      this.machine.transition('ended');
      record.emit('ended', {
        endedAt,
        disposition,
        sipCode,
        hangupBy,
        ...(reason ? { reason } : {}),
        ...(media ? { media: since(media, base) } : {}),
      });
      this.hooks.ended();
    };
    // The call is recorded and released whatever the relay answers (its stats are then missing).
    if (this.media.anchored) this.run(this.media.close().then(publish));
    else publish(undefined);
  }
}

/** What the relay counted since `base` (the totals when the record began; jitter is the later figure). */
function since(totals: MediaTotals, base: MediaTotals | undefined): MediaTotals {
  if (!base) return totals;
  const minus = (
    now: MediaTotals['callerToCallee'],
    before: MediaTotals['callerToCallee'],
  ): MediaTotals['callerToCallee'] =>
    now && {
      packets: Math.max(0, now.packets - (before?.packets ?? 0)),
      bytes: Math.max(0, now.bytes - (before?.bytes ?? 0)),
      lost: Math.max(0, now.lost - (before?.lost ?? 0)),
      jitterMs: now.jitterMs,
    };
  const callerToCallee = minus(totals.callerToCallee, base.callerToCallee);
  const calleeToCaller = minus(totals.calleeToCaller, base.calleeToCaller);
  return { ...(callerToCallee ? { callerToCallee } : {}), ...(calleeToCaller ? { calleeToCaller } : {}) };
}
