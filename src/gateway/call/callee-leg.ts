/**
 * A callee leg (B): one outgoing INVITE (a fork) and what follows from it — its early dialogs, the retry with
 * the trunk's credentials, CANCEL, the ACK of its 2xx, BYE, and a 2xx that arrives when it is not wanted.
 */
import {
  isSipsUri,
  answerChallenge,
  buildCancel,
  buildDialogRequest,
  createUacDialog,
  dialogRequest,
  formatRAck,
  header,
  headerValues,
  maxForwardsOf,
  outgoingRequest,
  withoutTag,
  type ClientTransaction,
  type Dialog,
  type SipHeader,
  type SipRequest,
  type SipResponse,
} from '../../sip/index.js';
import type { LegTarget, SipOutbound } from '../sip-outbound.js';
import type { LegOrigin } from './caller-leg.js';
import type { FinalResponse, ForkTarget } from './call-types.js';
import { copied, REQUEST_PASSTHROUGH } from './passthrough.js';

/** An early dialog with the callee, and what RFC 3262 keeps for it. */
export interface EarlyLeg {
  dialog: Dialog;
  /** RFC 3262 §4: "the most recently received in-order reliable provisional response". */
  rseq?: number;
  /** The SDP relayed to the caller for this early dialog's offer (a late-offer INVITE answered reliably). */
  offer?: Buffer;
}

/** §22.2: the retry of a challenged INVITE — same Call-ID, a higher CSeq, the credentials. */
export interface CredentialsRetry {
  readonly callId: string;
  readonly cseq: number;
  readonly authorization: SipHeader;
}

export interface CalleeLegEvents {
  response(leg: CalleeLeg, response: SipResponse): void;
  timeout(leg: CalleeLeg): void;
}

/**
 * What a leg still pending when its call ended does with a late response, needing nothing of the call: a
 * provisional gets the CANCEL that §9.1 held back until one arrived; a 2xx is a dialog of its own, acknowledged
 * and ended (§13.2.2.4, §15), and its retransmission (RFC 6026, Timer M) is acknowledged again; a non-2xx final
 * is acknowledged by the transaction itself (§17.1.1.3), and a timeout ends nothing more.
 */
const LATE_RESPONSES: CalleeLegEvents = {
  response(leg, response) {
    if (response.status < 200) leg.provisionalArrived();
    else if (response.status >= 300) return;
    else if (leg.dialog && leg.dialog.id.remoteTag === response.toTag) leg.reacknowledge();
    else leg.refuse2xx(response);
  },
  timeout: () => undefined,
};

/** Sends a BYE in `dialog` (either leg's), with the reason the gateway ended the call, if it did. */
export function sendBye(outbound: SipOutbound, dialog: Dialog, target: LegTarget, reason?: string): void {
  const bye = dialogRequest(dialog, 'BYE', {
    via: outbound.via(target),
    headers: reason ? [{ name: 'Reason', value: `SIP;cause=200;text="${reason}"` }] : [],
  });
  outbound.request(bye.bytes, target, { response: () => undefined, timeout: () => undefined }, bye.request);
}

export class CalleeLeg {
  readonly tx: ClientTransaction;
  readonly request: SipRequest;
  /** A provisional response arrived: a CANCEL may be sent (§9.1). */
  provisional = false;
  final: FinalResponse | undefined;
  cancelled = false;
  /** Replaced by a retry with credentials or by where its redirect led: its final is not the call's answer. */
  superseded = false;
  /** The dialog of this leg's 2xx. */
  dialog: Dialog | undefined;
  /** The Contact URIs of this leg's 3xx. */
  redirectTo: string[] | undefined;
  /** The early dialogs of this leg's provisional responses, by To tag (§12.1.2; a forking proxy beyond the
   * callee may create several). */
  readonly early = new Map<string, EarlyLeg>();
  /** The ACK sent for this leg's 2xx, resent when the 2xx is retransmitted (§13.2.2.4). */
  private ack: Buffer | undefined;
  /** Where this leg's responses go: the call's target set, or LATE_RESPONSES once the call has let it go. */
  private events: CalleeLegEvents;

  /**
   * Sends the INVITE. A retry with credentials (§22.2: "the client SHOULD re-originate the request with the
   * same Call-ID, To, From" and a higher CSeq) reuses the challenged leg's Call-ID.
   */
  constructor(
    readonly spec: ForkTarget,
    readonly callId: string,
    invite: { caller: LegOrigin; fromTag: string; offer: Buffer; retry?: CredentialsRetry },
    private readonly outbound: SipOutbound,
    events: CalleeLegEvents,
  ) {
    this.events = events;
    const { caller, retry, offer } = invite;
    const maxForwards = maxForwardsOf(caller.invite) ?? 70;
    const headers: SipHeader[] = [
      { name: 'Via', value: outbound.via(spec.target) },
      { name: 'Max-Forwards', value: String(Math.max(0, maxForwards - 1)) },
      {
        name: 'From',
        value: `${spec.from ?? withoutTag(header(caller.invite, 'From') ?? '')};tag=${invite.fromTag}`,
      },
      { name: 'To', value: spec.to ?? withoutTag(header(caller.invite, 'To') ?? '') },
      { name: 'Call-ID', value: callId },
      { name: 'CSeq', value: `${retry?.cseq ?? 1} INVITE` },
      { name: 'Contact', value: outbound.contact(spec.target, isSipsUri(spec.uri)) },
      ...(retry ? [retry.authorization] : []),
      ...(caller.reliable ? [{ name: 'Supported', value: '100rel' }] : []),
      ...(caller.requiresReliable ? [{ name: 'Require', value: '100rel' }] : []),
      ...(spec.headers ?? []),
      ...copied(caller.invite, REQUEST_PASSTHROUGH),
      ...(offer.length > 0 ? [{ name: 'Content-Type', value: 'application/sdp' }] : []),
    ];
    this.authenticated = retry !== undefined;
    // Built with the request it parses as: the transaction does not parse our INVITE back.
    const built = outgoingRequest('INVITE', spec.uri, headers, offer);
    this.tx = outbound.request(
      built.bytes,
      spec.target,
      {
        response: (response) => this.events.response(this, response),
        timeout: () => this.events.timeout(this),
      },
      built.request,
    );
    this.request = this.tx.request;
  }

  /** This INVITE already carries credentials: a second challenge is final. */
  readonly authenticated: boolean;

  get target(): LegTarget {
    return this.spec.target;
  }

  /** A provisional response arrived; false when the leg was cancelled meanwhile (its CANCEL goes now). */
  provisionalArrived(): boolean {
    this.provisional = true;
    if (!this.cancelled) return true;
    // §9.1: the CANCEL waited for a provisional response.
    this.sendCancel();
    return false;
  }

  /** The early dialog a provisional response with a To tag creates or belongs to (§12.1.2). */
  earlyDialog(response: SipResponse): EarlyLeg | undefined {
    const tag = response.toTag;
    if (!tag) return undefined;
    let leg = this.early.get(tag);
    if (!leg) {
      leg = { dialog: createUacDialog(this.request, response) };
      this.early.set(tag, leg);
    }
    return leg;
  }

  /**
   * The dialog of a 2xx. §13.2.2.4: "If the dialog identifier in the 2xx response matches the dialog
   * identifier of an existing dialog, the dialog MUST be transitioned to the "confirmed" state, and the route
   * set for the dialog MUST be recomputed based on the 2xx response" — the CSeq space of its PRACKs carries on.
   */
  confirm(response: SipResponse): { dialog: Dialog; early: EarlyLeg | undefined } {
    const dialog = createUacDialog(this.request, response);
    const early = response.toTag ? this.early.get(response.toTag) : undefined;
    if (early) {
      dialog.localSeq = Math.max(dialog.localSeq ?? 0, early.dialog.localSeq ?? 0);
      dialog.remoteSeq = early.dialog.remoteSeq;
      early.dialog = dialog;
    }
    this.dialog = dialog;
    return { dialog, early };
  }

  /**
   * §22.2/§22.3: a carrier's challenge is answered with the trunk's credentials, once: the retry to send, or
   * undefined when this leg cannot answer it. The challenged leg is then superseded.
   */
  answerChallenge(response: SipResponse): CredentialsRetry | undefined {
    const credentials = this.spec.credentials;
    if (!credentials || this.authenticated || this.cancelled) return undefined;
    const proxy = response.status === 407;
    const answer = answerChallenge({
      challenges: headerValues(response, proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate'),
      method: 'INVITE',
      uri: this.spec.uri,
      username: credentials.username,
      password: credentials.password,
    });
    if (!answer) return undefined;
    this.final = { status: response.status, reason: response.reason, headers: {} };
    this.superseded = true;
    return {
      callId: this.callId,
      cseq: this.request.cseq.seq + 1,
      authorization: { name: proxy ? 'Proxy-Authorization' : 'Authorization', value: answer.authorization },
    };
  }

  /** The call no longer wants this leg: CANCEL it, now or once a provisional response arrives. */
  cancel(): void {
    if (this.final || this.cancelled) return;
    this.cancelled = true;
    // §9.1: "a CANCEL request SHOULD NOT be sent to cancel an INVITE unless a provisional response has been
    // received"; otherwise it is sent when one arrives (provisionalArrived).
    if (this.provisional) this.sendCancel();
  }

  private sendCancel(): void {
    if (this.final) return;
    this.outbound.request(buildCancel(this.request), this.target, {
      response: () => undefined,
      timeout: () => undefined,
    });
  }

  /** §13.2.2.4: the ACK of a 2xx is built by the UAC core like an in-dialog request with the INVITE's CSeq. */
  acknowledge(body: Buffer): void {
    if (!this.dialog) return;
    this.ack = buildDialogRequest(this.dialog, 'ACK', {
      via: this.outbound.via(this.target),
      cseq: this.request.cseq.seq,
      headers: body.length > 0 ? [{ name: 'Content-Type', value: 'application/sdp' }] : [],
      body,
    });
    this.outbound.send(this.ack, this.target);
  }

  /** RFC 6026: a retransmitted 2xx reaches the TU; our ACK was lost, send it again (§13.2.2.4). */
  reacknowledge(): void {
    if (this.ack) this.outbound.send(this.ack, this.target);
  }

  /** Whether this leg's 2xx was acknowledged. */
  get acknowledged(): boolean {
    return this.ack !== undefined;
  }

  /** Ends this leg's confirmed dialog. */
  bye(reason?: string): void {
    if (this.dialog) sendBye(this.outbound, this.dialog, this.target, reason);
  }

  /**
   * A 2xx the call does not want (another leg won, the call is over, or the leg was cancelled): it is a dialog
   * of its own that must be acknowledged and then ended (§13.2.2.4, §15).
   */
  refuse2xx(response: SipResponse): void {
    this.dialog = createUacDialog(this.request, response);
    this.discard();
  }

  /** Acknowledges this leg's 2xx without an answer and ends its dialog at once. */
  discard(): void {
    this.acknowledge(Buffer.alloc(0));
    this.bye();
  }

  /** RFC 3262 §7.2: a PRACK in the callee's early dialog acknowledging its response `rseq`. */
  prack(early: EarlyLeg, rseq: number): void {
    const bytes = buildDialogRequest(early.dialog, 'PRACK', {
      via: this.outbound.via(this.target),
      headers: [this.rack(rseq)],
    });
    this.outbound.request(bytes, this.target, { response: () => undefined, timeout: () => undefined });
  }

  /** The RAck acknowledging this leg's reliable provisional response `rseq` (RFC 3262 §7.2). */
  rack(rseq: number): SipHeader {
    return { name: 'RAck', value: formatRAck({ rseq, cseq: this.request.cseq.seq, method: 'INVITE' }) };
  }

  /**
   * The call is over and lets go of this leg. RFC 6026 keeps an answered INVITE client transaction for Timer M
   * (64*T1) only so that 2xx retransmissions reach the TU for a new ACK: once the call is over a late 2xx is
   * dropped like any stray one, so the transaction goes now. A leg still waiting for its first response (a
   * target that answers nothing, such as a phone gone without unregistering) cannot be CANCELled yet (§9.1:
   * not "unless a provisional response has been received") and its transaction lasts until Timer B (64*T1):
   * its late responses go to LATE_RESPONSES from now on, and so the transaction keeps this leg alone, not the
   * whole call, for those 32 s.
   */
  release(): void {
    if (this.tx.state === 'accepted') this.tx.terminate();
    if (this.tx.state !== 'calling' && this.tx.state !== 'proceeding') return;
    this.cancel();
    this.events = LATE_RESPONSES;
  }
}
