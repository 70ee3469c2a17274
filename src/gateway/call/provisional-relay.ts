/**
 * Provisional responses from the callee legs to the caller, and RFC 3262 both ways: a callee's reliable
 * provisional response is acknowledged on its leg (PRACK) or relayed reliably on the caller's leg with that
 * leg's own RSeq, and the caller's PRACK is re-originated in the callee's early dialog with the callee's RSeq.
 * It also pairs the caller's early dialog with one of the callee's, between which UPDATE and INFO pass.
 */
import {
  hasOptionTag,
  header,
  parseRAck,
  parseRSeq,
  receiveDialogRequest,
  ReliableProvisionals,
  type Dialog,
  type ServerTransaction,
  type SipHeader,
  type SipRequest,
  type SipResponse,
} from '../../sip/index.js';
import type { LegTarget } from '../sip-outbound.js';
import type { CallerLeg } from './caller-leg.js';
import type { CalleeLeg, EarlyLeg } from './callee-leg.js';
import type { CallPart, SetupFailing, Side } from './call-types.js';
import type { MediaLeg } from './media-leg.js';

/** A callee's reliable provisional response relayed reliably to the caller, awaiting the caller's PRACK. */
interface RelayedReliable {
  readonly leg: CalleeLeg;
  readonly early: EarlyLeg;
  /** The callee's RSeq, which the PRACK re-originated on its leg acknowledges. */
  readonly rseq: number;
  /** It carried the callee's offer: the caller's PRACK carries the answer (RFC 3262 §5). */
  readonly carriesOffer: boolean;
}

/** A request re-originated on the other leg: in which dialog, what its SDP is, which headers it adds. */
export interface Forwarding {
  readonly sdp: 'offer' | 'answer' | 'none';
  readonly leg?: { dialog: Dialog; target: LegTarget };
  readonly headers?: readonly SipHeader[];
}

/** What the provisional relay needs of its call. */
export interface ProvisionalRelayCall extends CallPart, SetupFailing {
  readonly t1: number;
  /** The winning callee leg, once a 2xx won. */
  winner(): CalleeLeg | undefined;
  /** A provisional response is being relayed to the caller. */
  ringing(): void;
}

export class ProvisionalRelay {
  /** The caller leg's reliable provisional responses (RSeq, retransmission, PRACK matching). */
  private reliable: ReliableProvisionals<RelayedReliable> | undefined;
  /** The callee's early dialog paired with the caller's before the answer: the one whose reliable provisional
   * response was relayed last. UPDATE and INFO pass between the two. */
  peer: { leg: CalleeLeg; early: EarlyLeg } | undefined;

  constructor(
    private readonly caller: CallerLeg,
    private readonly media: MediaLeg,
    private readonly call: ProvisionalRelayCall,
  ) {}

  /** Relays a callee leg's provisional response (101-199) to the caller. */
  async relay(leg: CalleeLeg, response: SipResponse): Promise<void> {
    if (!leg.provisionalArrived()) return;
    const machine = this.call.machine;
    if (!machine.settingUp) return;
    const early = leg.earlyDialog(response);
    const rseq = hasOptionTag(response, 'Require', '100rel') ? this.accept(early, response) : undefined;
    if (rseq === null) return;
    const { body, carriesOffer } = await this.media.earlySdp(response, early, {
      lateOffer: this.caller.lateOffer,
      reliable: rseq !== undefined,
      callerReliable: this.caller.reliable,
    });
    if (!machine.settingUp) return;
    this.call.ringing();
    const { status, reason } = response;
    const headers = this.caller.relayedHeaders(response, body);
    if (rseq !== undefined && early) {
      if (this.caller.reliable) {
        this.caller.early(status);
        this.peer = { leg, early };
        this.sender().send({ status, reason, headers, body }, { leg, early, rseq, carriesOffer });
        return;
      }
      // A reliable provisional response we did not offer to take (the INVITE had no 100rel): acknowledged on
      // the callee's leg at once, relayed to the caller as an ordinary one.
      leg.prack(early, rseq);
    }
    this.caller.respond(status, reason, headers, body);
  }

  /**
   * RFC 3262 §4 for a reliable provisional response from the callee: its RSeq, or null when it is not to be
   * processed. "If the UAC receives another reliable provisional response to the same request, and its RSeq
   * value is not one higher than the value of the sequence number, that response MUST NOT be acknowledged
   * with a PRACK, and MUST NOT be processed further by the UAC" — a retransmission (our PRACK has not reached
   * the callee yet, or the caller has not sent its own) or one out of order. Without a To tag or a valid RSeq
   * it cannot be acknowledged at all.
   */
  private accept(early: EarlyLeg | undefined, response: SipResponse): number | null {
    if (!early) return null;
    let rseq: number;
    try {
      rseq = parseRSeq(header(response, 'RSeq') ?? '');
    } catch {
      this.call.warn(
        { callId: this.call.callId },
        'reliable provisional response without a valid RSeq ignored',
      );
      return null;
    }
    if (early.rseq !== undefined && rseq !== early.rseq + 1) return null;
    early.rseq = rseq;
    return rseq;
  }

  private sender(): ReliableProvisionals<RelayedReliable> {
    this.reliable ??= new ReliableProvisionals<RelayedReliable>({
      t1: this.call.t1,
      unreliable: this.caller.target.transport === 'udp',
      send: (r) => this.caller.respond(r.status, r.reason, r.headers, r.body),
      expired: () =>
        this.call.failSetup(
          500,
          'Server Internal Error',
          { Warning: '399 voxgate "No PRACK for a reliable provisional response"' },
          { by: 'system', why: 'no PRACK' },
        ),
    });
    return this.reliable;
  }

  /** The final response went to the caller: no more reliable provisional responses (RFC 3262 §3). */
  finalSent(): void {
    this.reliable?.finalResponseSent();
  }

  /**
   * The caller's PRACK for a reliable provisional response we relayed. It is re-originated in the callee's
   * early dialog, acknowledging the callee's own RSeq, so that each side sees reliability end to end and an
   * SDP answer (or a new offer) in the PRACK reaches the callee; the callee's 2xx answers the caller. Returns
   * how to forward it, or undefined when it was answered here.
   */
  prack(request: SipRequest, tx: ServerTransaction): Forwarding | undefined {
    const own = this.caller.dialog;
    if (!own || !this.reliable) {
      tx.respond(481, 'Call/Transaction Does Not Exist');
      return undefined;
    }
    let rack;
    try {
      rack = parseRAck(header(request, 'RAck') ?? '');
    } catch {
      tx.respond(400, 'Bad Request', { Warning: '399 voxgate "Missing or malformed RAck"' });
      return undefined;
    }
    if (receiveDialogRequest(own, request) === 500) {
      tx.respond(500, 'Server Internal Error', { 'Retry-After': '1' });
      return undefined;
    }
    const relayed = this.reliable.prack(rack, this.caller.invite.cseq);
    if (!relayed) {
      tx.respond(481, 'Call/Transaction Does Not Exist');
      return undefined;
    }
    const { leg, early, rseq, carriesOffer } = relayed;
    const winner = this.call.winner();
    if (leg.cancelled || leg.final || (winner && leg !== winner) || this.call.machine.over) {
      // The callee's leg is over: the PRACK is answered here (§3: "it MUST be responded to with a 2xx").
      tx.respond(200, 'OK');
      return undefined;
    }
    return {
      sdp: carriesOffer ? 'answer' : 'offer',
      leg: { dialog: early.dialog, target: leg.target },
      headers: [leg.rack(rseq)],
    };
  }

  /**
   * RFC 3311 (abstract): UPDATE is "like a re-INVITE, but unlike re-INVITE, it can be sent before the initial
   * INVITE has been completed. This makes it very useful for updating session parameters within early
   * dialogs." Across the B2BUA the caller's early dialog is paired with the callee's early dialog whose
   * reliable provisional response was relayed last (an early dialog exists on the caller's leg only through
   * reliable provisionals); UPDATE and INFO pass between them like in a confirmed call. Undefined (481) when
   * there is no such pair, or the request comes from another of the callee's early dialogs.
   */
  earlyPair(
    side: Side,
    request: SipRequest,
  ): { own: Dialog; other: { dialog: Dialog; target: LegTarget } } | undefined {
    const peer = this.peer;
    const caller = this.caller.dialog;
    if (!peer || !caller || peer.leg.cancelled || peer.leg.final) return undefined;
    const callee = { dialog: peer.early.dialog, target: peer.leg.target };
    if (side === 'caller') return { own: caller, other: callee };
    const fromPeer = peer.leg.callId === request.callId && peer.early.dialog.id.remoteTag === request.fromTag;
    return fromPeer
      ? { own: peer.early.dialog, other: { dialog: caller, target: this.caller.target } }
      : undefined;
  }
}
