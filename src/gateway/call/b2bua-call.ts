/**
 * One call through the B2BUA, as drachtio-srf's B2BUA sees it: two legs linked to each other — the caller's
 * INVITE server transaction (A) and one client INVITE per target (B), each with its own Call-ID, tags, Via
 * and Contact. This class wires the concerns together and is the public surface the B2BUA uses; the state
 * lives in `call-state.ts`, the answer (first 2xx wins, the others are cancelled) in `call-answer.ts`, the
 * ends of the call in `call-ending.ts`, who each side is in `call-parties.ts`.
 */
import {
  newTag,
  receiveDialogRequest,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
  type Dialog,
} from '../../sip/index.js';
import type { HangupParty } from '../../store/index.js';
import type { MediaSession } from '../media-anchor.js';
import type { LegTarget, SipOutbound } from '../sip-outbound.js';
import { CallAnswer } from './call-answer.js';
import { CallEnding } from './call-ending.js';
import { CallParties, type LegRole } from './call-parties.js';
import { CallerLeg } from './caller-leg.js';
import type { CalleeLeg } from './callee-leg.js';
import { CallRecord } from './call-record.js';
import { CallStateMachine, SETTING_UP, type CallState } from './call-state.js';
import { CallTransfers, TRANSFERRED, type PartyLeg, type TransferringCall } from './call-transfers.js';
import {
  other,
  type CallHooks,
  type CallIdentity,
  type CallSettings,
  type ForkMode,
  type ForkTarget,
  type Side,
  type TransferRefusal,
} from './call-types.js';
import { InDialogRelay, type InDialogCall } from './in-dialog-relay.js';
import { LiveRecord } from './live-record.js';
import { MediaLeg, type MediaLegCall } from './media-leg.js';
import { ProvisionalRelay, type ProvisionalRelayCall } from './provisional-relay.js';
import { TargetSet } from './target-set.js';

export type { LegRole } from './call-parties.js';

export class B2buaCall {
  private readonly machine = new CallStateMachine();
  /** The record of the call as it is now: the original, or after a transfer the transferred call's. */
  private readonly record: LiveRecord;
  private readonly caller: CallerLeg;
  private readonly media: MediaLeg;
  private readonly targets: TargetSet;
  private readonly provisionals: ProvisionalRelay;
  private readonly dialogs: InDialogRelay;
  private readonly parties: CallParties;
  private readonly transfers: CallTransfers;
  private readonly ending: CallEnding;
  private readonly answering: CallAnswer;

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
    this.record = new LiveRecord(placed?.record ?? new CallRecord(invite.callId, identity, hooks));
    // What the concerns may ask of the call: its state, and the ends they can bring about.
    const call: MediaLegCall & ProvisionalRelayCall & InDialogCall = {
      callId: invite.callId,
      machine: this.machine,
      t1: settings.t1,
      warn: (detail, message) => hooks.warn(detail, message),
      hangup: (by, reason) => this.hangup(by, reason),
      failSetup: (status, reason, headers, ended) => this.ending.failSetup(status, reason, headers, ended),
      cancel: () => this.cancel(),
      run: (step) => this.ending.run(step),
      winner: () => this.targets.winner,
      ringing: () => this.ringing(),
      party: (side) => this.parties.party(side),
      recordingChanged: (on) => hooks.recordingChanged?.(this.liveCallId, on),
      recorded: (recording) =>
        hooks.recorded?.({ tenantId: identity.tenantId, callId: this.liveCallId, ...recording }),
    };
    this.media = new MediaLeg(media, call);
    this.targets = new TargetSet(this.caller, newTag(), outbound, hooks, {
      response: (leg, response) => this.onResponse(leg, response),
      offered: (spec) => {
        if (spec.trunkId) this.record.current.trunkId = spec.trunkId; // a failover: the next trunk carries the call
      },
      settled: (best) => this.ending.failSetup(best.status, best.reason, best.headers),
      settingUp: () => this.machine.settingUp,
      over: () => this.machine.over,
      run: (step) => this.ending.run(step),
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
    this.parties = new CallParties(this.caller, this.targets, this.provisionals, identity, outbound, hooks);
    this.transfers = new CallTransfers(this.transferring());
    this.ending = new CallEnding({
      callId: this.callId,
      machine: this.machine,
      hooks,
      caller: this.caller,
      targets: this.targets,
      provisionals: this.provisionals,
      media: this.media,
      parties: this.parties,
      transfers: this.transfers,
      record: this.record,
    });
    this.answering = new CallAnswer(
      this.machine,
      this.caller,
      this.targets,
      this.provisionals,
      this.media,
      this.record,
      settings,
      (by, reason) => this.hangup(by, reason),
    );
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
      recordCallId: () => this.record.current.callId,
      party: (side) => this.parties.party(side),
      who: (side) => this.parties.who(side),
      run: (step) => this.ending.run(step),
      hangup: (by, reason) => this.hangup(by, reason),
      takeOver: (side, party, record, reason) => this.takeOver(side, party, record, reason),
      limitsNow: (side, release) => this.parties.limitsNow(side, release),
    };
  }

  get startedAt(): number {
    return this.record.current.startedAt;
  }

  get answeredAt(): number | undefined {
    return this.record.current.answeredAt;
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
    return this.parties.attached([...this.targets.callIds, ...this.transfers.callIds]);
  }

  /** The id of the call's live call and record now: the original Call-ID, or a transferred call's id. */
  get liveCallId(): string {
    return this.record.current.callId;
  }

  /** Which side a Call-ID is now (undefined for a leg a transfer let go). */
  sideOf(callId: string): Side | undefined {
    const role = this.roleOf(callId);
    return role === 'released' ? undefined : role;
  }

  /** What a Call-ID is to the call: a side, a leg a transfer let go, or nothing. */
  roleOf(callId: string): LegRole | undefined {
    return this.parties.roleOf(callId);
  }

  /** Anchors the offer and sends the INVITE to every target. */
  async start(targets: readonly ForkTarget[], mode: ForkMode = 'parallel'): Promise<void> {
    if (!this.caller.placed) this.record.current.emit('started');
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
    this.machine.after('ring timeout', SETTING_UP, this.settings.ringTimeoutMs, () =>
      this.ending.ringTimeout(),
    );
    this.targets.start(targets, mode, body);
  }

  private async onResponse(leg: CalleeLeg, response: SipResponse): Promise<void> {
    if (response.status < 200) await this.provisionals.relay(leg, response);
    else await this.answering.answer(leg, response);
  }

  /** A provisional response is relayed: the first one is the call's progress, and the call is early. */
  private ringing(): void {
    // A placed call rang when its first party did (`call.ringing` once per call).
    if (this.machine.state === 'routing' && !(this.caller.placed && this.record.current.ringingAt))
      this.record.current.progress();
    this.machine.transition('early');
  }

  /** An ACK from the caller for our 2xx (or for a re-INVITE 2xx) or from the callee for a re-INVITE 2xx. */
  async ack(side: Side, ack: SipRequest): Promise<void> {
    if (this.transfers.acknowledged(ack)) return;
    if (this.dialogs.absorbs(side, ack.cseq.seq)) return;
    if (side !== 'caller' || ack.cseq.seq !== this.caller.invite.cseq.seq) return;
    await this.answering.callerAck(ack);
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
      const own = this.parties.party(role);
      if (own && receiveDialogRequest(own.dialog, request) === 500) {
        tx.respond(500, 'Server Internal Error', { 'Retry-After': '1' });
        return;
      }
      // A blind transfer's transferor may hang up once its REFER is accepted: the party that stays is kept and
      // the transfer goes on (it ends the call only if it fails).
      tx.respond(200, 'OK');
      this.parties.let(role);
      transfer.transferorLeft();
      return;
    }
    await this.dialogs.receive(role, request, tx);
  }

  /** A side's party as another call may take it: its dialog, where its requests go, who it is. */
  partyFor(side: Side): PartyLeg | undefined {
    return this.parties.partyFor(side);
  }

  /**
   * The party on `side` joined another call (an attended transfer): its leg is let go without a BYE, the
   * other party — the transferor — gets one, and this call ends, recorded as transferred by that party.
   */
  handOver(side: Side): void {
    if (this.machine.over) return;
    this.transfers.pending()?.abort('system', TRANSFERRED);
    this.parties.handOver(side);
    const leaving = other(side);
    this.parties.bye(leaving, TRANSFERRED);
    this.parties.let(leaving);
    this.ending.finish('answered', 200, leaving, TRANSFERRED);
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

  /**
   * `party` takes the place of the party on `side`: that party's leg is released (BYE with `reason`, unless
   * it hung up already) and its limits given back, the call's record ends (`reason`, hung up by that side)
   * and `record` — the new party's call — is answered and is the call's record from now on.
   */
  private async takeOver(side: Side, party: PartyLeg, record: CallRecord, reason: string): Promise<void> {
    this.parties.replace(side, party, reason);
    await this.record.switchTo(record, side, reason, () => this.media.stats());
  }

  /**
   * The side whose dialog is `id` as this gateway sees it (its Call-ID, our tag, the party's tag), once the
   * call is answered: what an INVITE with Replaces names — RFC 3891 §3 matches its to-tag with the local tag
   * of the dialog and its from-tag with the remote tag.
   */
  sideByDialog(id: { callId: string; localTag: string; remoteTag: string }): Side | undefined {
    if (this.machine.state !== 'answered') return undefined;
    return this.parties.sideByDialog(id);
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
    this.ending.cancel();
  }

  /** Ends the call (`CallEnding.hangup`): BYE to whichever side did not hang up, or a CANCEL before the answer. */
  hangup(by: HangupParty, reason: string | undefined): void {
    this.ending.hangup(by, reason);
  }
}
