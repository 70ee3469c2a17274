/**
 * The caller's leg (A): its INVITE and server transaction, its dialog (early through reliable provisional
 * responses, confirmed by the answer), what it supports (100rel), and the responses relayed to it.
 */
import {
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

  constructor(
    readonly invite: SipRequest,
    readonly tx: ServerTransaction,
    readonly target: LegTarget,
    private readonly outbound: SipOutbound,
  ) {
    this.requiresReliable = hasOptionTag(invite, 'Require', '100rel');
    this.reliable = this.requiresReliable || hasOptionTag(invite, 'Supported', '100rel');
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

  respond(status: number, reason: string, headers?: ExtraHeaders, body?: Buffer): void {
    this.tx.respond(status, reason, headers, body);
  }

  /** The headers of a callee's response relayed to the caller: passthrough, our Contact, the body's type. */
  relayedHeaders(response: SipResponse, body: Buffer): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = asExtra(copied(response, RESPONSE_PASSTHROUGH));
    headers.Contact = this.outbound.contact(this.target, isSipsUri(this.invite.uri));
    if (body.length > 0) headers['Content-Type'] = header(response, 'Content-Type') ?? 'application/sdp';
    return headers;
  }
}
