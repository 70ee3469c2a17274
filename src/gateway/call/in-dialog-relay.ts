/**
 * Requests inside the call's dialogs, re-originated on the other leg (re-INVITE, UPDATE, INFO, PRACK, BYE …)
 * with their responses relayed back: CSeq order (§12.2.2), glare (491, §14.1), the ACKs of re-INVITE 2xx
 * absorbed, and before the answer the early UPDATE/INFO between the paired early dialogs (RFC 3311).
 */
import {
  isSipsUri,
  buildDialogRequest,
  header,
  receiveDialogRequest,
  type Dialog,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
} from '../../sip/index.js';
import type { HangupParty } from '../../store/index.js';
import type { LegTarget, SipOutbound } from '../sip-outbound.js';
import type { CallerLeg } from './caller-leg.js';
import { other, type CallPart, type Side } from './call-types.js';
import type { MediaLeg } from './media-leg.js';
import { asExtra, copied, REQUEST_PASSTHROUGH, RESPONSE_PASSTHROUGH } from './passthrough.js';
import type { Forwarding, ProvisionalRelay } from './provisional-relay.js';
import type { TargetSet } from './target-set.js';

/** What the in-dialog relay needs of its call. */
export interface InDialogCall extends CallPart {
  /** Ends the call: BYE to the side that did not hang up (a CANCEL before the answer). */
  hangup(by: HangupParty, reason: string | undefined): void;
  /** The caller's CANCEL (or a BYE in its early dialog). */
  cancel(): void;
  run(step: Promise<void>): void;
  /** A side's confirmed dialog and where its requests go (after a transfer, the party that took its place). */
  party(side: Side): { dialog: Dialog; target: LegTarget } | undefined;
}

export class InDialogRelay {
  /** A re-INVITE/UPDATE in progress (§14.1: a second one gets 491). */
  private offerInProgress = false;
  /** CSeq numbers of re-INVITEs we answered 2xx to, whose ACK the caller or callee still sends us. */
  private readonly absorbedAcks = new Set<string>();

  constructor(
    private readonly caller: CallerLeg,
    private readonly targets: TargetSet,
    private readonly provisionals: ProvisionalRelay,
    private readonly media: MediaLeg,
    private readonly outbound: SipOutbound,
    private readonly call: InDialogCall,
  ) {}

  /** An ACK for a re-INVITE 2xx that the relay itself acknowledged on the other leg: nothing to do. */
  absorbs(side: Side, cseq: number): boolean {
    return this.absorbedAcks.delete(`${side}:${cseq}`);
  }

  /** A request inside one of the call's dialogs (anything but ACK and CANCEL). */
  async receive(side: Side, request: SipRequest, tx: ServerTransaction): Promise<void> {
    const state = this.call.machine.state;
    if (side === 'caller' && request.method === 'PRACK') {
      const forwarding = this.provisionals.prack(request, tx);
      if (forwarding) await this.forward(side, request, tx, forwarding);
      return;
    }
    const early =
      state === 'early' && (request.method === 'UPDATE' || request.method === 'INFO')
        ? this.provisionals.earlyPair(side, request)
        : undefined;
    const own = early?.own ?? (state === 'answered' ? this.dialogOf(side)?.dialog : undefined);
    if (!own) {
      if (side === 'caller' && request.method === 'BYE' && this.call.machine.settingUp) {
        // A BYE in the caller's early dialog ends the attempt like a CANCEL would (§15); so does the BYE of a
        // caller the gateway placed (click-to-call), whose dialog is confirmed already.
        tx.respond(200, 'OK');
        this.caller.hungUp();
        this.call.cancel();
        return;
      }
      tx.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    if (receiveDialogRequest(own, request) === 500) {
      // §12.2.2: out-of-order requests "MUST be rejected with a 500 (Server Internal Error) response".
      tx.respond(500, 'Server Internal Error', { 'Retry-After': '1' });
      return;
    }
    if (request.method === 'BYE') {
      tx.respond(200, 'OK');
      this.call.hangup(side, undefined);
      return;
    }
    const isOffer = request.method === 'INVITE' || request.method === 'UPDATE';
    if (isOffer && this.offerInProgress) {
      // §14.1: "a UAS that receives a second INVITE before it sends the final response to a first INVITE with
      // a lower CSeq sequence number on the same dialog MUST return a 500"; across the B2BUA a crossing offer
      // from the other side is glare: "it MUST return a 491 (Request Pending) response".
      tx.respond(491, 'Request Pending');
      return;
    }
    await this.forward(side, request, tx, {
      sdp: isOffer ? 'offer' : 'none',
      ...(early ? { leg: early.other } : {}),
    });
  }

  /**
   * Re-originates a request on the other leg (in its confirmed dialog, or in `how.leg`) and relays the
   * response back. `how.sdp` says what a body is: an offer (anchored; the response's SDP is the answer), an
   * answer (anchored), or opaque (INFO's DTMF, passed as is).
   */
  private async forward(
    side: Side,
    request: SipRequest,
    tx: ServerTransaction,
    how: Forwarding,
  ): Promise<void> {
    const to = how.leg ?? this.dialogOf(other(side));
    if (!to) {
      tx.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    const isOffer = request.method === 'INVITE' || request.method === 'UPDATE';
    if (isOffer) this.offerInProgress = true;
    let body = request.body;
    const anchored = how.sdp === 'offer' && body.length > 0 && this.media.anchored;
    try {
      if (anchored) body = await this.media.offer(side, body);
      else if (how.sdp === 'answer' && body.length > 0 && this.media.anchored)
        body = await this.media.answer(side, body);
    } catch (err) {
      // The session goes on through the relay with what it had: only this offer is refused.
      this.offerInProgress = false;
      this.call.warn({ err, callId: this.call.callId }, 'media relay refused a re-offer');
      tx.respond(488, 'Not Acceptable Here', { Warning: '399 voxgate "Media relay refused the offer"' });
      return;
    }
    const contentType = header(request, 'Content-Type');
    const bytes = buildDialogRequest(to.dialog, request.method, {
      via: this.outbound.via(to.target),
      contact: isOffer ? this.outbound.contact(to.target, to.dialog.secure) : undefined,
      headers: [
        ...(how.headers ?? []),
        ...copied(request, REQUEST_PASSTHROUGH),
        ...(body.length > 0 && contentType ? [{ name: 'Content-Type', value: contentType }] : []),
      ],
      body,
    });
    const sentSeq = to.dialog.localSeq;
    this.outbound.request(bytes, to.target, {
      response: (response) =>
        this.call.run(this.relayResponse(side, request, tx, response, anchored, sentSeq)),
      timeout: () => {
        if (isOffer) this.offerInProgress = false;
        tx.respond(408, 'Request Timeout');
      },
    });
  }

  private async relayResponse(
    side: Side,
    request: SipRequest,
    tx: ServerTransaction,
    response: SipResponse,
    anchored: boolean,
    sentSeq: number | undefined,
  ): Promise<void> {
    if (response.status === 100) return;
    let body = response.body;
    if (response.status >= 200 && response.status < 300 && request.method === 'INVITE') {
      // The other side's 2xx to our re-INVITE is acknowledged by us at once; the requester's ACK is absorbed.
      const to = this.dialogOf(other(side));
      if (to && sentSeq !== undefined) {
        const ack = buildDialogRequest(to.dialog, 'ACK', {
          via: this.outbound.via(to.target),
          cseq: sentSeq,
        });
        this.outbound.send(ack, to.target);
      }
      this.absorbedAcks.add(`${side}:${request.cseq.seq}`);
    }
    if (response.status >= 200) this.offerInProgress = false;
    if (anchored && response.status >= 200 && response.status < 300 && body.length > 0) {
      try {
        body = await this.media.answer(other(side), body);
      } catch (err) {
        // Never the other party's raw answer: the session cannot go on through the relay, so the call ends.
        tx.respond(503, 'Service Unavailable', { Warning: '399 voxgate "Media relay unavailable"' });
        this.media.failed(err, 'media relay refused a re-answer');
        return;
      }
    }
    const headers: Record<string, string | string[]> = asExtra(copied(response, RESPONSE_PASSTHROUGH));
    if (request.method === 'INVITE' || request.method === 'UPDATE') {
      const callee = this.targets.winner ?? this.provisionals.peer?.leg;
      // The request came to our Contact: its scheme says whether that dialog is secure.
      headers.Contact = this.outbound.contact(
        this.call.party(side)?.target ?? (side === 'caller' || !callee ? this.caller.target : callee.target),
        isSipsUri(request.uri),
      );
    }
    const contentType = header(response, 'Content-Type');
    if (body.length > 0 && contentType) headers['Content-Type'] = contentType;
    tx.respond(response.status, response.reason, headers, body);
  }

  /** A side's confirmed dialog and where its requests go. */
  private dialogOf(side: Side): { dialog: Dialog; target: LegTarget } | undefined {
    return this.call.party(side);
  }

  /**
   * A REFER on a leg another replica sent through this one: that replica holds the call and carries out the
   * transfer, so the REFER goes on to it like any request in the dialog, with what says where to.
   */
  async relayRefer(side: Side, request: SipRequest, tx: ServerTransaction): Promise<void> {
    const own = this.call.machine.state === 'answered' ? this.dialogOf(side)?.dialog : undefined;
    if (!own) {
      tx.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    if (receiveDialogRequest(own, request) === 500) {
      tx.respond(500, 'Server Internal Error', { 'Retry-After': '1' });
      return;
    }
    await this.forward(side, request, tx, {
      sdp: 'none',
      headers: copied(request, ['Refer-To', 'Referred-By']),
    });
  }
}
