/**
 * A call's transfers, carried out by the B2BUA itself instead of relayed: a REFER (RFC 3515) from one of its
 * parties — blind, or attended when the Refer-To embeds a Replaces (RFC 3891 §4, RFC 5589 §7) — a blind
 * transfer through the API, and an INVITE with Replaces naming one of the call's dialogs (a call pickup, or
 * the last step of an attended transfer a phone carries out itself). Each ends with a new party taking a
 * side's place (`TransferringCall.takeOver`); the party bookkeeping stays with the call (`call-parties.ts`).
 */
import {
  buildDialogRequest,
  createUasDialog,
  header,
  headerValues,
  isSipsUri,
  randomHex,
  receiveDialogRequest,
  retransmit2xxUntilAck,
  uriOf,
  withoutTag,
  type Dialog,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
} from '../../sip/index.js';
import type { HangupParty } from '../../store/index.js';
import type { LegTarget, SipOutbound } from '../sip-outbound.js';
import type { B2buaCall } from './b2bua-call.js';
import type { LegOrigin } from './caller-leg.js';
import type { CalleeLeg } from './callee-leg.js';
import { CallRecord } from './call-record.js';
import { ANSWERED } from './call-state.js';
import {
  other,
  type CallHooks,
  type CallIdentity,
  type CallPart,
  type CallSettings,
  type DialogId,
  type Side,
  type TransferRefusal,
} from './call-types.js';
import type { MediaLeg } from './media-leg.js';
import { referTarget } from './refer-to.js';
import {
  BlindTransfer,
  notifySipfrag,
  REFER_SUBSCRIPTION_SECONDS,
  type ReferSubscription,
} from './transfer.js';

/** A party that took a side's place through a transfer: its dialog, where its requests go, who it is. */
export interface PartyLeg {
  readonly dialog: Dialog;
  readonly target: LegTarget;
  readonly callId: string;
  /** Its address as a From or To names it (no tag). */
  readonly addr: string;
  /** Its AOR when it is a user of the tenant (a transfer it asks for is authorized as its call). */
  readonly aor: string | undefined;
}

/** The reason the record of a call that was transferred gives, and the text of the BYE its transferor gets. */
export const TRANSFERRED = 'transferred';
/** The same for a party an INVITE with Replaces (RFC 3891) took the place of. */
export const REPLACED = 'replaced';

/** What the transfers need of their call. */
export interface TransferringCall extends CallPart {
  readonly identity: CallIdentity;
  readonly settings: CallSettings;
  readonly outbound: SipOutbound;
  readonly hooks: CallHooks;
  readonly media: MediaLeg;
  /** The caller's INVITE, which a transfer's new leg copies its headers from. */
  readonly origin: LegOrigin;
  /** The id of the call's record now (a transferred call's record names it as `transferredFrom`). */
  recordCallId(): string;
  /** A side's confirmed dialog and where its requests go. */
  party(side: Side): { dialog: Dialog; target: LegTarget } | undefined;
  /** Who a side's party is: its address, and its AOR when it is a user of the tenant. */
  who(side: Side): { addr: string; aor: string | undefined };
  run(step: Promise<void>): void;
  hangup(by: HangupParty, reason: string | undefined): void;
  /** `party` takes the place of the party on `side`, whose leg is released (`call-parties.ts`). */
  takeOver(side: Side, party: PartyLeg, record: CallRecord, reason: string): Promise<void>;
  /** From now on the limits held for `side`'s party are those `release` gives back. */
  limitsNow(side: Side, release: () => void): void;
}

export class CallTransfers {
  /** The call's blind transfers, the last one possibly in progress. */
  private readonly transfers: BlindTransfer[] = [];
  /** An attended transfer is re-INVITEing its target. */
  private joining = false;
  /** Call-IDs of INVITEs with Replaces answered 2xx whose ACK has not come yet. */
  private readonly awaitingAck = new Set<string>();

  constructor(private readonly call: TransferringCall) {}

  /** The blind transfer under way, if one is. */
  pending(): BlindTransfer | undefined {
    const last = this.transfers.at(-1);
    return last?.pending ? last : undefined;
  }

  /** The Call-IDs of the transfers' legs (for the call table). */
  get callIds(): string[] {
    return this.transfers.flatMap((t) => t.callIds);
  }

  /** The transfers' legs to the targets. */
  get legs(): CalleeLeg[] {
    return this.transfers.flatMap((t) => [...t.legs]);
  }

  /** A 2xx that matched no transaction: the leg it belongs to, and whether that leg answered a transfer. */
  legOf(callId: string): { leg: CalleeLeg; answered: boolean } | undefined {
    for (const transfer of this.transfers) {
      const leg = transfer.byCallId(callId);
      if (leg) return { leg, answered: transfer.answeredBy === leg };
    }
    return undefined;
  }

  /** The ACK of the 2xx that answered an INVITE with Replaces: true when `ack` was one. */
  acknowledged(ack: SipRequest): boolean {
    if (!this.awaitingAck.delete(ack.callId)) return false;
    this.call.machine.stop(`2xx retransmission ${ack.callId}`);
    return true;
  }

  /**
   * A REFER (RFC 3515) from the party on `side`: a blind transfer the B2BUA carries out itself. §2.4.2: "An
   * agent responding to a REFER method MUST return a 400 (Bad Request) if the request contained zero or more
   * than one Refer-To header field values." The target must be one the transferor could call (403 otherwise).
   */
  async refer(side: Side, request: SipRequest, tx: ServerTransaction): Promise<void> {
    const own = this.call.machine.state === 'answered' ? this.call.party(side) : undefined;
    if (!own) {
      tx.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    if (receiveDialogRequest(own.dialog, request) === 500) {
      tx.respond(500, 'Server Internal Error', { 'Retry-After': '1' });
      return;
    }
    const referTo = headerValues(request, 'Refer-To');
    const target = referTo.length === 1 ? referTarget(referTo[0]!) : undefined;
    if (!target) {
      tx.respond(400, 'Bad Request', { Warning: '399 voxgate "One Refer-To with a SIP URI is required"' });
      return;
    }
    const sub = { dialog: own.dialog, target: own.target, id: request.cseq.seq };
    if (target.replaces) {
      await this.attended(side, target.replaces, tx, sub);
      return;
    }
    const refused = await this.prepare(side, target.uri, sub);
    if (refused) {
      tx.respond(refused.status, refused.phrase, { Warning: `399 voxgate "${refused.warning}"` });
      return;
    }
    // §2.4.2: "If approval is granted, the UA MUST contact the resource identified by the URI in the
    // Refer-To header field value"; the 202 comes first, the NOTIFYs follow it (the transfer sends them).
    tx.respond(202, 'Accepted', { Expires: String(REFER_SUBSCRIPTION_SECONDS) });
    this.call.run(this.transfers.at(-1)!.start());
  }

  /**
   * A blind transfer through the API: the party on `stays` is connected to `target` and the other party is
   * released, authorized as a call from that other party (or, when it is a trunk, from the one that stays).
   * Undefined when it is under way, else why not.
   */
  async byApi(stays: Side, target: string): Promise<TransferRefusal | undefined> {
    if (this.call.machine.state !== 'answered' || !this.call.party(other(stays))) {
      return { status: 481, phrase: 'Call/Transaction Does Not Exist', warning: 'The call is not answered' };
    }
    const refused = await this.prepare(other(stays), target, undefined);
    if (refused) return refused;
    this.call.run(this.transfers.at(-1)!.start());
    return undefined;
  }

  /** Authorizes and prepares a transfer of the party on `side` (the transferor) to `uri`; why not, if not. */
  private async prepare(
    side: Side,
    uri: string,
    subscription: ReferSubscription | undefined,
  ): Promise<TransferRefusal | undefined> {
    const call = this.call;
    if (this.pending()) {
      return { status: 491, phrase: 'Request Pending', warning: 'A transfer of this call is in progress' };
    }
    if (!call.media.anchored) {
      return {
        status: 488,
        phrase: 'Not Acceptable Here',
        warning: 'A call whose media bypasses the relay cannot be transferred',
      };
    }
    const transferor = call.who(side);
    const stays = call.who(other(side));
    const plan = await call.hooks.transfer?.({
      transferor: transferor.aor ?? (subscription ? undefined : stays.aor),
      target: uri,
    });
    if (!plan) return { status: 403, phrase: 'Forbidden', warning: 'Transfers are not allowed here' };
    if ('status' in plan) return plan;
    if (call.machine.state !== 'answered' || this.pending()) {
      plan.release();
      return { status: 481, phrase: 'Call/Transaction Does Not Exist', warning: 'The call has ended' };
    }
    const record = this.newRecord(side, {
      // A call from a carrier stays inbound; otherwise it is the call the transferor would have placed.
      direction: plan.identity.direction,
      to: plan.identity.to,
      ...(plan.identity.trunkId ? { trunkId: plan.identity.trunkId } : {}),
    });
    const transfer = new BlindTransfer(
      {
        callId: call.callId,
        machine: call.machine,
        warn: (detail, message) => call.warn(detail, message),
        outbound: call.outbound,
        media: call.media,
        hooks: call.hooks,
        origin: call.origin,
        ringTimeoutMs: call.settings.ringTimeoutMs,
        run: (step) => call.run(step),
        transferred: (done, leg) => call.run(this.transferred(done, leg)),
        abandoned: (failed) => call.hangup(failed.side, 'transfer failed'),
      },
      side,
      plan,
      record,
      stays.addr,
      subscription,
    );
    this.transfers.push(transfer);
    return undefined;
  }

  /**
   * The target answered a blind transfer: it takes the transferor's place. The transferor's counts went with
   * it; the target's (the transfer's) stay with the call.
   */
  private async transferred(transfer: BlindTransfer, leg: CalleeLeg): Promise<void> {
    await this.call.takeOver(
      transfer.side,
      {
        dialog: leg.dialog!,
        target: leg.target,
        callId: leg.callId,
        addr: leg.spec.to ?? '',
        aor: transfer.plan.aor,
      },
      transfer.record,
      TRANSFERRED,
    );
    this.call.limitsNow(transfer.side, () => transfer.plan.release());
  }

  /**
   * An attended transfer by REFER whose Refer-To embeds a Replaces (RFC 3891 §4, RFC 5589 §7): the transferor
   * names its own dialog with the target in another call of this gateway; a phone would INVITE the target
   * with that Replaces, the B2BUA joins the parties itself. The target is re-INVITEd in its dialog with this
   * call's relay offer (the staying party's SDP, from its side: it keeps its relay port), its answer goes to
   * the relay, the other call lets the target's leg go (no BYE) and ends — its transferor's leg gets a BYE —
   * and the target takes the transferor's place here. A dialog the gateway does not hold is reported as the
   * INVITE with Replaces would have been answered, 481 (RFC 3891 §3), in the final sipfrag.
   */
  private async attended(
    side: Side,
    id: DialogId,
    tx: ServerTransaction,
    sub: ReferSubscription,
  ): Promise<void> {
    const call = this.call;
    if (this.pending() || this.joining) {
      tx.respond(491, 'Request Pending');
      return;
    }
    if (!call.media.anchored) {
      tx.respond(488, 'Not Acceptable Here', {
        Warning: '399 voxgate "A call whose media bypasses the relay cannot be transferred"',
      });
      return;
    }
    const found = call.hooks.dialog?.(id);
    const transferor = call.who(side).aor;
    if (
      found &&
      (found.call.callId === call.callId ||
        !transferor ||
        found.call.partyFor(found.side)?.aor !== transferor)
    ) {
      tx.respond(403, 'Forbidden', {
        Warning: '399 voxgate "The dialog to replace is not one of the transferor\'s"',
      });
      return;
    }
    tx.respond(202, 'Accepted', { Expires: String(REFER_SUBSCRIPTION_SECONDS) });
    notifySipfrag(call.outbound, sub, 100, 'Trying');
    const joined = found?.call.partyFor(other(found.side));
    if (!found || !joined) {
      notifySipfrag(call.outbound, sub, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    this.joining = true;
    const stays = other(side);
    let offer: Buffer;
    try {
      offer = await call.media.offer(stays, call.media.lastSdp(stays) ?? Buffer.alloc(0));
    } catch (err) {
      this.joining = false;
      call.warn({ err, callId: call.callId }, 'media relay refused the attended transfer offer');
      notifySipfrag(call.outbound, sub, 503, 'Service Unavailable');
      return;
    }
    const bytes = buildDialogRequest(joined.dialog, 'INVITE', {
      via: call.outbound.via(joined.target),
      contact: call.outbound.contact(joined.target, joined.dialog.secure),
      headers: [{ name: 'Content-Type', value: 'application/sdp' }],
      body: offer,
    });
    const seq = joined.dialog.localSeq;
    const failed = (status: number, reason: string) => {
      this.joining = false;
      notifySipfrag(call.outbound, sub, status, reason);
    };
    call.outbound.request(bytes, joined.target, {
      response: (response) => {
        if (response.status < 200) return;
        if (response.status >= 300) {
          failed(response.status, response.reason);
          return;
        }
        const ack = buildDialogRequest(joined.dialog, 'ACK', {
          via: call.outbound.via(joined.target),
          ...(seq === undefined ? {} : { cseq: seq }),
        });
        call.outbound.send(ack, joined.target);
        call.run(this.joined(side, found.call, other(found.side), joined, response, sub));
      },
      timeout: () => failed(408, 'Request Timeout'),
    });
  }

  /** The target answered the re-INVITE of an attended transfer: it leaves its call and joins this one. */
  private async joined(
    side: Side,
    from: B2buaCall,
    fromSide: Side,
    joined: PartyLeg,
    response: SipResponse,
    sub: ReferSubscription,
  ): Promise<void> {
    const call = this.call;
    try {
      await call.media.answer(side, response.body);
    } catch (err) {
      this.joining = false;
      notifySipfrag(call.outbound, sub, 503, 'Service Unavailable');
      call.media.failed(err, 'media relay refused the attended transfer answer');
      return;
    }
    this.joining = false;
    if (call.machine.state !== 'answered') return;
    from.handOver(fromSide);
    call.hooks.registerLeg(joined.callId);
    const record = this.newRecord(side, {
      direction: 'internal',
      to: joined.aor ?? uriOf(joined.addr),
    });
    record.emit('started');
    notifySipfrag(call.outbound, sub, response.status, response.reason);
    await call.takeOver(side, joined, record, TRANSFERRED);
  }

  /**
   * An INVITE with Replaces (RFC 3891) naming the dialog of `side`, from an authenticated user of the tenant
   * (`who`): its sender takes that party's place — a call pickup, or the last step of an attended transfer a
   * phone carries out itself. The relay is offered the newcomer's SDP from that side and answered with the
   * other party's last SDP, so the party that stays keeps its relay port and is sent nothing; the replaced
   * party gets a BYE. A late offer is refused (488).
   */
  async replace(
    side: Side,
    invite: SipRequest,
    tx: ServerTransaction,
    target: LegTarget,
    who: { aor: string },
  ): Promise<void> {
    const call = this.call;
    if (this.pending()) {
      tx.respond(491, 'Request Pending');
      return;
    }
    if (invite.body.length === 0 || !call.media.anchored) {
      tx.respond(488, 'Not Acceptable Here', {
        Warning: '399 voxgate "Replaces needs an SDP offer and a call anchored on the relay"',
      });
      return;
    }
    const stays = other(side);
    let answer: Buffer;
    try {
      await call.media.offer(side, invite.body);
      answer = await call.media.answer(stays, call.media.lastSdp(stays) ?? Buffer.alloc(0));
    } catch (err) {
      call.warn({ err, callId: call.callId }, 'media relay refused the replacing offer');
      tx.respond(503, 'Service Unavailable', {
        'Retry-After': '5',
        Warning: '399 voxgate "Media relay unavailable"',
      });
      return;
    }
    if (call.machine.state !== 'answered' || tx.state !== 'proceeding') {
      tx.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    const dialog = createUasDialog(invite, tx.toTag, 200);
    call.hooks.registerLeg(invite.callId);
    const record = this.newRecord(side, { direction: 'internal', to: who.aor });
    record.emit('started');
    const headers = {
      Contact: call.outbound.contact(target, isSipsUri(invite.uri)),
      'Content-Type': 'application/sdp',
    };
    tx.respond(200, 'OK', headers, answer);
    this.awaitingAck.add(invite.callId);
    call.machine.own(
      `2xx retransmission ${invite.callId}`,
      ANSWERED,
      retransmit2xxUntilAck({
        t1: call.settings.t1,
        t2: call.settings.t2,
        unreliable: target.transport === 'udp',
        resend: () => tx.respond(200, 'OK', headers, answer),
        noAck: () => call.hangup('system', 'no ACK for the 2xx'),
      }),
    );
    const party = { dialog, target, callId: invite.callId, aor: who.aor };
    await call.takeOver(side, { ...party, addr: withoutTag(header(invite, 'From') ?? '') }, record, REPLACED);
  }

  /**
   * The record of the call a newcomer on `side` makes with the party that stays: a new call id, from the
   * party that stays, `transferredFrom` the call's record now. A call from a carrier stays inbound when the
   * carrier stays; otherwise it is `direction`.
   */
  private newRecord(
    side: Side,
    call: { direction: CallIdentity['direction']; to: string; trunkId?: string },
  ): CallRecord {
    const { identity, hooks } = this.call;
    const stays = this.call.who(other(side));
    const flipped = side === 'caller';
    return new CallRecord(
      randomHex(16),
      {
        tenantId: identity.tenantId,
        direction: identity.direction === 'inbound' && !flipped ? 'inbound' : call.direction,
        from: stays.aor ?? uriOf(stays.addr),
        to: call.to,
        ...(call.trunkId ? { trunkId: call.trunkId } : {}),
        ...(identity.gateway ? { gateway: identity.gateway } : {}),
      },
      hooks,
      { from: this.call.recordCallId(), flipped },
    );
  }
}
