/**
 * The caller's leg (A): its INVITE and server transaction, its dialog (early through reliable provisional
 * responses, confirmed by the answer), what it supports (100rel), and the responses relayed to it.
 */
import {
  buildDialogRequest,
  isSipsUri,
  createUasDialog,
  hasOptionTag,
  header,
  type Dialog,
  type ExtraHeaders,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
} from '../../sip/index.js';
import type { LegTarget, SipOutbound } from '../sip-outbound.js';
import { asExtra, copied, RESPONSE_PASSTHROUGH } from './passthrough.js';

/**
 * What a callee leg copies from the INVITE that caused it (Max-Forwards, From and To by default, passthrough
 * headers, 100rel): the caller's leg, or — for a transfer's new leg, which PRACKs nothing — that INVITE
 * without 100rel.
 */
export type LegOrigin = Pick<CallerLeg, 'invite' | 'callId' | 'reliable' | 'requiresReliable'>;

export class CallerLeg {
  /** RFC 3262 §4: the caller takes reliable provisional responses (Supported or Require 100rel): so may the
   * callee leg, and the callee's reliable ones are relayed reliably, PRACK for PRACK. */
  readonly reliable: boolean;
  readonly requiresReliable: boolean;
  private ownDialog: Dialog | undefined;
  /** A placed caller hung up before the answer (its BYE ended the attempt): nothing more is sent to it. */
  private left = false;

  /**
   * `placed`: the caller is a party the gateway called itself (click-to-call) — `invite` is the INVITE that
   * party would have sent (its answer as the offer), and `placed` the dialog of our INVITE it answered and we
   * acknowledged. Its responses are then no responses: it is told nothing of the progress, nothing of the
   * answer (the relay kept the ports it was given), and a failure is a BYE saying why.
   */
  constructor(
    readonly invite: SipRequest,
    readonly tx: ServerTransaction,
    readonly target: LegTarget,
    private readonly outbound: SipOutbound,
    placed?: Dialog,
  ) {
    this.requiresReliable = hasOptionTag(invite, 'Require', '100rel');
    this.reliable = this.requiresReliable || hasOptionTag(invite, 'Supported', '100rel');
    this.ownDialog = placed;
    this.placed = placed !== undefined;
  }

  /** The caller is a party the gateway called itself (click-to-call), not one whose INVITE it answers. */
  readonly placed: boolean;

  /** A placed caller's BYE ended the attempt before the answer. */
  hungUp(): void {
    this.left = true;
  }

  get callId(): string {
    return this.invite.callId;
  }

  /** The caller-side dialog tags, for matching in-dialog requests from the caller. */
  get tags(): { local: string; remote: string } {
    return { local: this.tx.toTag, remote: this.invite.fromTag ?? '' };
  }

  /** A late offer: the INVITE has no SDP, the answer comes in the caller's PRACK or ACK. */
  get lateOffer(): boolean {
    return this.invite.body.length === 0;
  }

  get dialog(): Dialog | undefined {
    return this.ownDialog;
  }

  /** The caller's dialog and where its requests go, once there is one. */
  get peer(): { dialog: Dialog; target: LegTarget } | undefined {
    return this.ownDialog ? { dialog: this.ownDialog, target: this.target } : undefined;
  }

  /** §12.1.1: the early dialog a reliable provisional response creates on the caller's leg. */
  early(status: number): void {
    this.ownDialog ??= createUasDialog(this.invite, this.tx.toTag, status);
  }

  /** The answer: the early dialog of relayed reliable provisional responses (and its PRACK CSeqs) is confirmed. */
  confirm(): void {
    if (this.ownDialog) this.ownDialog.state = 'confirmed';
    else this.ownDialog = createUasDialog(this.invite, this.tx.toTag, 200);
  }

  /** The caller's 2xx is retransmitted no more (its ACK came, or the call is over): see ServerTransaction. */
  acknowledged(): void {
    this.tx.acknowledged();
  }

  respond(status: number, reason: string, headers?: ExtraHeaders, body?: Buffer): void {
    if (!this.placed) {
      this.tx.respond(status, reason, headers, body);
      return;
    }
    if (status < 300 || this.left || !this.ownDialog) return;
    // The placed party answered already: the call's failure ends its dialog. RFC 3326 §2: "The Reason header
    // field MAY appear in any request within a dialog"; with the protocol "SIP" its cause is "Status code".
    const bytes = buildDialogRequest(this.ownDialog, 'BYE', {
      via: this.outbound.via(this.target),
      headers: [{ name: 'Reason', value: `SIP;cause=${status};text="${reason.replaceAll('"', "'")}"` }],
    });
    this.outbound.request(bytes, this.target, { response: () => undefined, timeout: () => undefined });
    this.left = true;
  }

  /** The headers of a callee's response relayed to the caller: passthrough, our Contact, the body's type. */
  relayedHeaders(response: SipResponse, body: Buffer): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = asExtra(copied(response, RESPONSE_PASSTHROUGH));
    headers.Contact = this.outbound.contact(this.target, isSipsUri(this.invite.uri));
    if (body.length > 0) headers['Content-Type'] = header(response, 'Content-Type') ?? 'application/sdp';
    return headers;
  }
}
