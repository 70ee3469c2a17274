import {
  answerChallenge,
  contactsOf,
  buildDialogRequest,
  buildRequest,
  createUacDialog,
  createUasDialog,
  formatRAck,
  hasOptionTag,
  header,
  headerValues,
  maxForwardsOf,
  newTag,
  parseRAck,
  parseRSeq,
  randomHex,
  receiveDialogRequest,
  ReliableProvisionals,
  type ClientTransaction,
  type Dialog,
  type ExtraHeaders,
  type ServerTransaction,
  type SipHeader,
  type SipRequest,
  type SipResponse,
} from '../sip/index.js';
import type { CallDirection, CallDisposition, CallEvent, HangupParty } from '../store/index.js';
import { channel } from 'node:diagnostics_channel';
import type { MediaSession, MediaTotals } from './media-anchor.js';
import type { LegTarget, SipOutbound } from './sip-outbound.js';

/** Tracing hook: the first ringing (18x) of a call, with the post-dial delay (`CallProgressEvent`). */
export const callProgressChannel = channel('voxgate:gateway:call-progress');

export interface CallProgressEvent {
  callId: string;
  /** From the caller's INVITE to the first 18x relayed to it. */
  postDialDelayMs: number;
}

/** A place the call is offered: a registered contact of a user, or a trunk. */
export interface ForkTarget {
  /** The Request-URI of the outgoing INVITE. */
  readonly uri: string;
  readonly target: LegTarget;
  /** The To of the outgoing INVITE (name-addr, no tag); default: the caller's To. */
  readonly to?: string;
  /** The From of the outgoing INVITE (name-addr, no tag); default: the caller's From. */
  readonly from?: string;
  /** Extra headers of the outgoing INVITE (the signed peer hop between replicas). */
  readonly headers?: readonly SipHeader[];
  /** Credentials for a 401/407 from this target (a carrier trunk), §22.2. */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** The trunk this target is (outbound calls): the call's events name the trunk that carried it. */
  readonly trunkId?: string;
}

/**
 * How the targets are tried: all at once (a user's registered contacts, §16.6 parallel forking), or one after
 * the other (a route's trunks, failing over on a timeout, 408 or 5xx).
 */
export type ForkMode = 'parallel' | 'sequential';

/** Final responses after which the next trunk of a route is tried. */
export function failsOver(status: number): boolean {
  return status === 408 || (status >= 500 && status < 600);
}

export interface CallSettings {
  /** RFC 3261 T1/T2, ms: 2xx retransmission to the caller (§13.3.1.4). */
  readonly t1: number;
  readonly t2: number;
  /** No final answer after this long: the forks are cancelled and the caller gets 480. */
  readonly ringTimeoutMs: number;
  /** An answered call is ended on both legs after this long. */
  readonly maxDurationMs: number;
  /** An answered, anchored call whose relay saw no new packet for this long is ended; 0 = never. */
  readonly mediaTimeoutMs: number;
}

export interface CallHooks {
  /** Indexes a callee-side Call-ID so in-dialog requests and stray 2xx find this call. */
  registerLeg(callId: string): void;
  event(event: CallEvent): void;
  ended(): void;
  warn(detail: Record<string, unknown>, message: string): void;
  /**
   * Where a 3xx's Contact URIs lead for this call, by the B2BUA's policy (targets of the caller's own tenant
   * only); undefined when none is acceptable, and the 3xx is then the call's answer like any failure.
   */
  redirect?(uris: readonly string[]): Promise<{ targets: ForkTarget[]; mode: ForkMode } | undefined>;
}

export interface CallIdentity {
  readonly tenantId: string;
  readonly direction: CallDirection;
  readonly from: string;
  readonly to: string;
  readonly trunkId?: string;
  readonly gateway?: string;
}

type Side = 'caller' | 'callee';

interface Fork {
  readonly spec: ForkTarget;
  readonly callId: string;
  tx?: ClientTransaction;
  request?: SipRequest;
  provisional: boolean;
  final?: { status: number; reason: string; headers: ExtraHeaders };
  cancelled: boolean;
  /** This INVITE already carries credentials: a second challenge is final. */
  authenticated?: boolean;
  /** Replaced by a retry with credentials: its challenge is not the call's answer. */
  superseded?: boolean;
  dialog?: Dialog;
  /** The ACK sent for this fork's 2xx, resent when the 2xx is retransmitted (§13.2.2.4). */
  ack?: Buffer;
  /** The Contact URIs of this fork's 3xx. */
  redirectTo?: string[];
  /** The early dialogs of this fork's provisional responses, by To tag (§12.1.2; a forking proxy beyond the
   * callee may create several). */
  early?: Map<string, EarlyLeg>;
}

/** An early dialog with the callee, and what RFC 3262 keeps for it. */
interface EarlyLeg {
  dialog: Dialog;
  /** RFC 3262 §4: "the most recently received in-order reliable provisional response". */
  rseq?: number;
  /** The SDP relayed to the caller for this early dialog's offer (a late-offer INVITE answered reliably). */
  offer?: Buffer;
}

/** A callee's reliable provisional response relayed reliably to the caller, awaiting the caller's PRACK. */
interface RelayedReliable {
  readonly fork: Fork;
  readonly leg: EarlyLeg;
  /** The callee's RSeq, which the PRACK re-originated on its leg acknowledges. */
  readonly rseq: number;
  /** It carried the callee's offer: the caller's PRACK carries the answer (RFC 3262 §5). */
  readonly carriesOffer: boolean;
}

/** The reason recorded when the relay could not anchor a call's media. */
const MEDIA_RELAY_FAILED = 'media relay failed';

/** Redirects followed per call, at most: a loop of 3xx between two targets ends there. */
const MAX_REDIRECTS = 3;

/** Headers a B2BUA copies from one leg to the other; everything else (Via, Contact, Record-Route, Route,
 * Call-ID, tags, User-Agent, Supported/Require …) stays on its leg: topology hiding. */
const REQUEST_PASSTHROUGH = [
  'Allow',
  'Subject',
  'Priority',
  'Alert-Info',
  'Call-Info',
  'Event',
  'Info-Package',
  'Content-Disposition',
  'Reason',
];
const RESPONSE_PASSTHROUGH = ['Allow', 'Warning', 'Reason', 'Retry-After', 'Unsupported'];
/** §21.4.16 / RFC 3262 §3: a 421 (Extension Required) "MUST contain a Require header field listing the
 * required extensions" — the caller needs them to retry. */
const EXTENSION_REQUIRED_PASSTHROUGH = [...RESPONSE_PASSTHROUGH, 'Require'];

function copied(message: { headers: readonly SipHeader[] }, names: readonly string[]): SipHeader[] {
  return message.headers.filter((h) => names.includes(h.name));
}

function asExtra(headers: readonly SipHeader[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const h of headers) (out[h.name] ??= []).push(h.value);
  return out;
}

function withoutTag(value: string): string {
  return value.replace(/;\s*tag=[^;,\s]*/i, '');
}

/**
 * §16.7 step 6, applied by the B2BUA to the forks' final responses: "the proxy MUST choose the best final
 * response … A proxy SHOULD give preference to response that provide information affecting resubmission of
 * this request, such as 401, 407, 415, 420, and 484 … If the selected response is a 503 (Service Unavailable)
 * response, the proxy MUST generate a 500 (Server Error) response". A 6xx wins outright (§16.7 step 5).
 * Challenges of a callee are ours to answer, not the caller's: they become 480.
 */
export function bestFinal(finals: readonly { status: number; reason: string; headers: ExtraHeaders }[]): {
  status: number;
  reason: string;
  headers: ExtraHeaders;
} {
  const global = finals.find((f) => f.status >= 600);
  const pick = global ?? [...finals].sort((a, b) => classRank(a.status) - classRank(b.status))[0];
  if (!pick) return { status: 480, reason: 'Temporarily Unavailable', headers: {} };
  if (pick.status === 503) return { status: 500, reason: 'Server Internal Error', headers: {} };
  if (pick.status === 401 || pick.status === 407) {
    return { status: 480, reason: 'Temporarily Unavailable', headers: {} };
  }
  return pick;
}

function classRank(status: number): number {
  // 4xx first (most informative to the caller), then 5xx, then 3xx (a redirect the B2BUA did not follow).
  const cls = Math.floor(status / 100);
  const order = cls === 4 ? 0 : cls === 5 ? 1 : 2;
  return order * 1000 + (status === 408 ? 999 : status % 100);
}

/** How a failed setup is recorded. */
export function dispositionOf(status: number): CallDisposition {
  if (status === 486 || status === 600) return 'busy';
  if (status === 480 || status === 408) return 'no-answer';
  if (status === 487) return 'cancelled';
  if (status >= 500 && status < 600) return 'failed';
  return 'rejected';
}

/**
 * One call through the B2BUA: the caller's INVITE server transaction (the A leg) and one client INVITE per
 * fork (the B legs), each with its own Call-ID, tags, Via and Contact. The first 2xx wins and the other forks
 * are cancelled; in-dialog requests are re-originated on the other leg; every SDP goes through the relay.
 */
export class B2buaCall {
  readonly startedAt = Date.now();
  answeredAt: number | undefined;
  state: 'routing' | 'early' | 'answered' | 'ended' = 'routing';

  private readonly forks: Fork[] = [];
  /** The trunk last offered the call (the one that answered, once answered); starts as the identity's. */
  private trunkId: string | undefined;
  /** Targets not tried yet (sequential mode), and the SDP they are offered. */
  private untried: ForkTarget[] = [];
  private redirects = 0;
  /** Redirect lookups in progress: the call's answer waits for them. */
  private redirecting = 0;
  private offer: Buffer = Buffer.alloc(0);
  private winner: Fork | undefined;
  private callerDialog: Dialog | undefined;
  private readonly calleeTag = newTag();
  private readonly timers = new Set<NodeJS.Timeout>();
  private retransmit2xx: NodeJS.Timeout | undefined;
  private ackPendingForLateOffer = false;
  private cancelled = false;
  /** A re-INVITE/UPDATE in progress (§14.1: a second one gets 491). */
  private offerInProgress = false;
  /** CSeq numbers of re-INVITEs we answered 2xx to, whose ACK the caller or callee still sends us. */
  private readonly absorbedAcks = new Set<string>();
  /** The caller takes reliable provisional responses (RFC 3262 §4: Supported or Require 100rel): so may the
   * callee leg, and the callee's reliable ones are relayed reliably, PRACK for PRACK. */
  private readonly callerReliable: boolean;
  private readonly callerRequiresReliable: boolean;
  /** The caller leg's reliable provisional responses (RSeq, retransmission, PRACK matching). */
  private reliable: ReliableProvisionals<RelayedReliable> | undefined;
  /** The callee's early dialog paired with the caller's before the answer: the one whose reliable provisional
   * response was relayed last. UPDATE and INFO pass between the two. */
  private earlyPeer: { fork: Fork; leg: EarlyLeg } | undefined;

  constructor(
    private readonly invite: SipRequest,
    private readonly inviteTx: ServerTransaction,
    private readonly callerTarget: LegTarget,
    readonly identity: CallIdentity,
    private readonly outbound: SipOutbound,
    private readonly media: MediaSession | undefined,
    private readonly settings: CallSettings,
    private readonly hooks: CallHooks,
  ) {
    this.trunkId = identity.trunkId;
    this.callerRequiresReliable = hasOptionTag(invite, 'Require', '100rel');
    this.callerReliable = this.callerRequiresReliable || hasOptionTag(invite, 'Supported', '100rel');
  }

  /** A method, not a narrowed field read: the state changes across awaits. */
  hasEnded(): boolean {
    return this.state === 'ended';
  }

  get callId(): string {
    return this.invite.callId;
  }

  /** The caller-side dialog tags, for matching in-dialog requests from the caller. */
  get callerTags(): { local: string; remote: string } {
    return { local: this.inviteTx.toTag, remote: this.invite.fromTag ?? '' };
  }

  /** Anchors the offer and sends the INVITE to every fork. */
  async start(targets: readonly ForkTarget[], mode: ForkMode = 'parallel'): Promise<void> {
    this.emit('started');
    let body = this.invite.body;
    if (body.length > 0 && this.media) {
      try {
        body = await this.media.offer('caller', body);
      } catch (err) {
        this.hooks.warn({ err, callId: this.callId }, 'media relay refused the offer');
        this.relayFailedBeforeAnswer();
        return;
      }
    }
    if (this.state === 'ended') return; // cancelled while the relay answered
    this.after(this.settings.ringTimeoutMs, () => this.ringTimeout());
    this.offer = body;
    if (mode === 'parallel') {
      for (const spec of targets) this.sendInvite(spec);
      return;
    }
    const [first, ...rest] = targets;
    this.untried = rest;
    if (first) this.sendInvite(first);
  }

  /**
   * Sends the INVITE of a fork. A retry with credentials (§22.2: "the client SHOULD re-originate the request
   * with the same Call-ID, To, From" and a higher CSeq) reuses the fork's Call-ID.
   */
  private sendInvite(
    spec: ForkTarget,
    retry?: { callId: string; cseq: number; authorization: SipHeader },
  ): void {
    const body = this.offer;
    if (spec.trunkId) this.trunkId = spec.trunkId; // a failover: the next trunk carries the call
    const callId = retry?.callId ?? randomHex(12);
    const fork: Fork = {
      spec,
      callId,
      provisional: false,
      cancelled: false,
      authenticated: retry !== undefined,
    };
    this.forks.push(fork);
    const maxForwards = maxForwardsOf(this.invite) ?? 70;
    const headers: SipHeader[] = [
      { name: 'Via', value: this.outbound.via(spec.target) },
      { name: 'Max-Forwards', value: String(Math.max(0, maxForwards - 1)) },
      {
        name: 'From',
        value: `${spec.from ?? withoutTag(header(this.invite, 'From') ?? '')};tag=${this.calleeTag}`,
      },
      { name: 'To', value: spec.to ?? withoutTag(header(this.invite, 'To') ?? '') },
      { name: 'Call-ID', value: callId },
      { name: 'CSeq', value: `${retry?.cseq ?? 1} INVITE` },
      { name: 'Contact', value: this.outbound.contact(spec.target) },
      ...(retry ? [retry.authorization] : []),
      ...(this.callerReliable ? [{ name: 'Supported', value: '100rel' }] : []),
      ...(this.callerRequiresReliable ? [{ name: 'Require', value: '100rel' }] : []),
      ...(spec.headers ?? []),
      ...copied(this.invite, REQUEST_PASSTHROUGH),
      ...(body.length > 0 ? [{ name: 'Content-Type', value: 'application/sdp' }] : []),
    ];
    if (!retry) this.hooks.registerLeg(callId);
    fork.tx = this.outbound.request(buildRequest('INVITE', spec.uri, headers, body), spec.target, {
      response: (response) => this.run(this.onForkResponse(fork, response)),
      timeout: () => this.onForkFinal(fork, { status: 408, reason: 'Request Timeout', headers: {} }),
    });
    fork.request = fork.tx.request;
  }

  private async onForkResponse(fork: Fork, response: SipResponse): Promise<void> {
    const { status } = response;
    if (status === 100) return;
    if (status < 200) {
      fork.provisional = true;
      if (fork.cancelled) {
        // §9.1: the CANCEL waited for a provisional response.
        this.sendCancel(fork);
        return;
      }
      if (this.state !== 'routing' && this.state !== 'early') return;
      const leg = this.earlyLeg(fork, response);
      const rseq = hasOptionTag(response, 'Require', '100rel')
        ? this.acceptReliable(leg, response)
        : undefined;
      if (rseq === null) return;
      const { body, carriesOffer } = await this.earlySdp(response, leg, rseq !== undefined);
      if (this.state !== 'routing' && this.state !== 'early') return;
      if (this.state === 'routing' && callProgressChannel.hasSubscribers) {
        callProgressChannel.publish({
          callId: this.callId,
          postDialDelayMs: Date.now() - this.startedAt,
        } satisfies CallProgressEvent);
      }
      this.state = 'early';
      const headers = this.responseHeaders(response, body);
      if (rseq !== undefined && leg) {
        if (this.callerReliable) {
          this.callerDialog ??= createUasDialog(this.invite, this.inviteTx.toTag, status);
          this.earlyPeer = { fork, leg };
          this.reliableSender().send(
            { status, reason: response.reason, headers, body },
            { fork, leg, rseq, carriesOffer },
          );
          return;
        }
        // A reliable provisional response we did not offer to take (the INVITE had no 100rel): acknowledged on
        // the callee's leg at once, relayed to the caller as an ordinary one.
        this.prackCallee(fork, leg, rseq);
      }
      this.inviteTx.respond(status, response.reason, headers, body);
      return;
    }
    if (status < 300) {
      await this.onFork2xx(fork, response);
      return;
    }
    if ((status === 401 || status === 407) && this.retryWithCredentials(fork, response)) return;
    if (status < 400) {
      const contacts = contactsOf(response);
      fork.redirectTo = contacts === '*' ? [] : contacts.map((c) => c.uriText);
    }
    this.onForkFinal(fork, {
      status,
      reason: response.reason,
      headers: asExtra(
        copied(response, status === 421 ? EXTENSION_REQUIRED_PASSTHROUGH : RESPONSE_PASSTHROUGH),
      ),
    });
  }

  /** The early dialog a provisional response with a To tag creates or belongs to (§12.1.2). */
  private earlyLeg(fork: Fork, response: SipResponse): EarlyLeg | undefined {
    const tag = response.toTag;
    if (!tag || !fork.request) return undefined;
    fork.early ??= new Map();
    let leg = fork.early.get(tag);
    if (!leg) {
      leg = { dialog: createUacDialog(fork.request, response) };
      fork.early.set(tag, leg);
    }
    return leg;
  }

  /**
   * RFC 3262 §4 for a reliable provisional response from the callee: its RSeq, or null when it is not to be
   * processed. "If the UAC receives another reliable provisional response to the same request, and its RSeq
   * value is not one higher than the value of the sequence number, that response MUST NOT be acknowledged
   * with a PRACK, and MUST NOT be processed further by the UAC" — a retransmission (our PRACK has not reached
   * the callee yet, or the caller has not sent its own) or one out of order. Without a To tag or a valid RSeq
   * it cannot be acknowledged at all.
   */
  private acceptReliable(leg: EarlyLeg | undefined, response: SipResponse): number | null {
    if (!leg) return null;
    let rseq: number;
    try {
      rseq = parseRSeq(header(response, 'RSeq') ?? '');
    } catch {
      this.hooks.warn({ callId: this.callId }, 'reliable provisional response without a valid RSeq ignored');
      return null;
    }
    if (leg.rseq !== undefined && rseq !== leg.rseq + 1) return null;
    leg.rseq = rseq;
    return rseq;
  }

  /**
   * The SDP of a callee's provisional response, as relayed to the caller. With an offer in the INVITE it is
   * the callee's answer, anchored. With a late offer, the first reliable provisional response with SDP carries
   * the callee's offer (RFC 3262 §5), anchored, and the caller's PRACK the answer; an SDP in an unreliable one
   * is no offer and is not relayed through an anchored call (it would show the callee's media address).
   */
  private async earlySdp(
    response: SipResponse,
    leg: EarlyLeg | undefined,
    reliable: boolean,
  ): Promise<{ body: Buffer; carriesOffer: boolean }> {
    const none = { body: Buffer.alloc(0), carriesOffer: false };
    const body = response.body;
    if (body.length === 0) return none;
    if (this.invite.body.length > 0) {
      if (!this.media) return { body, carriesOffer: false };
      try {
        return { body: await this.media.answer('callee', body), carriesOffer: false };
      } catch (err) {
        this.hooks.warn({ err, callId: this.callId }, 'media relay refused an early answer');
        return none;
      }
    }
    if (leg?.offer) return { body: leg.offer, carriesOffer: false }; // the session already offered
    if (!reliable || !leg || !this.callerReliable) return this.media ? none : { body, carriesOffer: false };
    try {
      leg.offer = this.media ? await this.media.offer('callee', body) : body;
    } catch (err) {
      this.hooks.warn({ err, callId: this.callId }, 'media relay refused an early offer');
      return none;
    }
    return { body: leg.offer, carriesOffer: true };
  }

  private reliableSender(): ReliableProvisionals<RelayedReliable> {
    this.reliable ??= new ReliableProvisionals<RelayedReliable>({
      t1: this.settings.t1,
      unreliable: this.callerTarget.transport === 'udp',
      send: (r) => this.inviteTx.respond(r.status, r.reason, r.headers, r.body),
      expired: () =>
        this.failSetup(
          500,
          'Server Internal Error',
          { Warning: '399 voxgate "No PRACK for a reliable provisional response"' },
          { by: 'system', why: 'no PRACK' },
        ),
    });
    return this.reliable;
  }

  /** RFC 3262 §7.2: a PRACK in the callee's early dialog acknowledging its response `rseq`. */
  private prackCallee(fork: Fork, leg: EarlyLeg, rseq: number): void {
    if (!fork.request) return;
    const bytes = buildDialogRequest(leg.dialog, 'PRACK', {
      via: this.outbound.via(fork.spec.target),
      headers: [this.rackFor(fork, rseq)],
    });
    this.outbound.request(bytes, fork.spec.target, { response: () => undefined, timeout: () => undefined });
  }

  private rackFor(fork: Fork, rseq: number): SipHeader {
    return { name: 'RAck', value: formatRAck({ rseq, cseq: fork.request!.cseq.seq, method: 'INVITE' }) };
  }

  /**
   * The caller's PRACK for a reliable provisional response we relayed. It is re-originated in the callee's
   * early dialog, acknowledging the callee's own RSeq, so that each side sees reliability end to end and an
   * SDP answer (or a new offer) in the PRACK reaches the callee; the callee's 2xx answers the caller.
   */
  private async prack(request: SipRequest, tx: ServerTransaction): Promise<void> {
    const own = this.callerDialog;
    if (!own || !this.reliable) {
      tx.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    let rack;
    try {
      rack = parseRAck(header(request, 'RAck') ?? '');
    } catch {
      tx.respond(400, 'Bad Request', { Warning: '399 voxgate "Missing or malformed RAck"' });
      return;
    }
    if (receiveDialogRequest(own, request) === 500) {
      tx.respond(500, 'Server Internal Error', { 'Retry-After': '1' });
      return;
    }
    const relayed = this.reliable.prack(rack, this.invite.cseq);
    if (!relayed) {
      tx.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    const { fork, leg, rseq, carriesOffer } = relayed;
    if (fork.cancelled || fork.final || (this.winner && fork !== this.winner) || this.state === 'ended') {
      // The callee's leg is over: the PRACK is answered here (§3: "it MUST be responded to with a 2xx").
      tx.respond(200, 'OK');
      return;
    }
    await this.forward('caller', request, tx, {
      sdp: carriesOffer ? 'answer' : 'offer',
      leg: { dialog: leg.dialog, target: fork.spec.target },
      headers: [this.rackFor(fork, rseq)],
    });
  }

  /** §22.2/§22.3: a carrier's challenge is answered with the trunk's credentials, once. */
  private retryWithCredentials(fork: Fork, response: SipResponse): boolean {
    const credentials = fork.spec.credentials;
    if (!credentials || fork.authenticated || !fork.request || fork.cancelled || this.state === 'ended')
      return false;
    const proxy = response.status === 407;
    const answer = answerChallenge({
      challenges: headerValues(response, proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate'),
      method: 'INVITE',
      uri: fork.spec.uri,
      username: credentials.username,
      password: credentials.password,
    });
    if (!answer) return false;
    fork.final = { status: response.status, reason: response.reason, headers: {} };
    fork.superseded = true;
    this.sendInvite(fork.spec, {
      callId: fork.callId,
      cseq: fork.request.cseq.seq + 1,
      authorization: { name: proxy ? 'Proxy-Authorization' : 'Authorization', value: answer.authorization },
    });
    return true;
  }

  private async onFork2xx(fork: Fork, response: SipResponse): Promise<void> {
    if (!fork.request) return;
    if (this.winner === fork) {
      // RFC 6026: 2xx retransmissions reach the TU; our ACK was lost, send it again (§13.2.2.4).
      if (fork.ack) this.outbound.send(fork.ack, fork.spec.target);
      return;
    }
    const dialog = createUacDialog(fork.request, response);
    const early = response.toTag ? fork.early?.get(response.toTag) : undefined;
    if (early) {
      // §13.2.2.4: "If the dialog identifier in the 2xx response matches the dialog identifier of an existing
      // dialog, the dialog MUST be transitioned to the "confirmed" state, and the route set for the dialog
      // MUST be recomputed based on the 2xx response" — the CSeq space of its PRACKs carries on.
      dialog.localSeq = Math.max(dialog.localSeq ?? 0, early.dialog.localSeq ?? 0);
      dialog.remoteSeq = early.dialog.remoteSeq;
      early.dialog = dialog;
    }
    if (this.winner || this.state === 'ended' || fork.cancelled) {
      // A fork answered after another won, or after the call was cancelled: it is a dialog of its own that
      // must be acknowledged and then ended (§13.2.2.4, §15).
      fork.dialog = dialog;
      this.ackFork(fork, Buffer.alloc(0));
      this.sendBye(dialog, fork.spec.target);
      return;
    }
    this.winner = fork;
    fork.dialog = dialog;
    this.clearTimers();
    for (const other of this.forks) if (other !== fork) this.cancelFork(other);

    let body = response.body;
    const lateOffer = this.invite.body.length === 0;
    // RFC 3262 §5: a late offer answered in a reliable provisional response and the caller's PRACK is
    // negotiated already; the 2xx repeats that session (RFC 6337 §3.1.1) and the ACKs carry no answer.
    const negotiatedEarly = lateOffer && early?.offer !== undefined;
    if (negotiatedEarly) {
      if (body.length > 0) body = early.offer!;
    } else if (body.length > 0 && this.media) {
      try {
        body = lateOffer ? await this.media.offer('callee', body) : await this.media.answer('callee', body);
      } catch (err) {
        this.hooks.warn({ err, callId: this.callId }, 'media relay refused the answer');
        this.ackFork(fork, Buffer.alloc(0));
        this.sendBye(dialog, fork.spec.target);
        this.relayFailedBeforeAnswer();
        return;
      }
    }
    if (this.hasEnded()) {
      // Cancelled or timed out while the relay answered.
      this.ackFork(fork, Buffer.alloc(0));
      this.sendBye(dialog, fork.spec.target);
      return;
    }
    // With an offer in the INVITE the answer is already here: the callee gets its ACK now. With a late offer
    // the caller's ACK carries the answer and the callee's ACK waits for it.
    if (lateOffer && body.length > 0 && !negotiatedEarly) this.ackPendingForLateOffer = true;
    else this.ackFork(fork, Buffer.alloc(0));

    this.state = 'answered';
    this.answeredAt = Date.now();
    // The early dialog of relayed reliable provisional responses (and its PRACK CSeqs) becomes confirmed.
    if (this.callerDialog) this.callerDialog.state = 'confirmed';
    else this.callerDialog = createUasDialog(this.invite, this.inviteTx.toTag, 200);
    this.reliable?.finalResponseSent();
    const headers = this.responseHeaders(response, body);
    this.inviteTx.respond(response.status, response.reason, headers, body);
    this.retransmit2xxUntilAck(response.status, response.reason, headers, body);
    this.emit('answered');
    this.after(this.settings.maxDurationMs, () => this.hangup('system', 'maximum call duration reached'));
    if (this.media && this.settings.mediaTimeoutMs > 0) this.watchMedia(this.media);
  }

  /**
   * Dead calls (a phone lost its network, a NAT binding expired) hold ports and licences until someone
   * notices: the relay's packet counters are polled, and a call whose counters did not move for the media
   * timeout is ended on both legs. Polling works the same against voxgate's relay and RTPengine.
   */
  private watchMedia(media: MediaSession): void {
    const timeout = this.settings.mediaTimeoutMs;
    const every = Math.max(100, Math.floor(timeout / 3));
    let last = -1;
    let quietSince = Date.now();
    const poll = async () => {
      if (this.state !== 'answered') return;
      const stats = await media.query();
      if (this.hasEnded()) return;
      const seen = stats
        ? (stats.totals.callerToCallee?.packets ?? 0) + (stats.totals.calleeToCaller?.packets ?? 0)
        : last;
      if (seen !== last) {
        last = seen;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= timeout) {
        this.hangup('system', 'media timeout');
        return;
      }
      this.after(every, () => this.run(poll()));
    };
    this.after(every, () => this.run(poll()));
  }

  /**
   * §13.3.1.4: "The 2xx response is passed to the transport with an interval that starts at T1 seconds and
   * doubles for each retransmission until it reaches T2 seconds … If the server retransmits the 2xx response
   * for 64*T1 seconds without receiving an ACK, the dialog is confirmed, but the session SHOULD be terminated.
   * This is accomplished with a BYE". Reliable transports carry the 2xx once, but the ACK deadline stays.
   */
  private retransmit2xxUntilAck(status: number, reason: string, headers: ExtraHeaders, body: Buffer): void {
    const began = Date.now();
    let interval = this.settings.t1;
    const tick = () => {
      if (Date.now() - began >= 64 * this.settings.t1) {
        this.retransmit2xx = undefined;
        this.hangup('system', 'no ACK for the 2xx');
        return;
      }
      if (this.callerTarget.transport === 'udp') this.inviteTx.respond(status, reason, headers, body);
      interval = Math.min(2 * interval, this.settings.t2);
      this.retransmit2xx = setTimeout(
        tick,
        this.callerTarget.transport === 'udp' ? interval : 64 * this.settings.t1,
      );
    };
    this.retransmit2xx = setTimeout(
      tick,
      this.callerTarget.transport === 'udp' ? interval : 64 * this.settings.t1,
    );
  }

  private onForkFinal(fork: Fork, final: { status: number; reason: string; headers: ExtraHeaders }): void {
    fork.final ??= final;
    if (this.state === 'answered' || this.state === 'ended') return;
    if (final.status >= 300 && final.status < 400 && fork.redirectTo?.length && this.followRedirect(fork))
      return;
    const next = failsOver(final.status) && !this.cancelled ? this.untried.shift() : undefined;
    if (next) {
      this.sendInvite(next);
      return;
    }
    this.settleIfDone();
  }

  /** Once every fork has its final response and no redirect is being looked up, the best one is the answer. */
  private settleIfDone(): void {
    if (this.state === 'answered' || this.state === 'ended') return;
    if (this.forks.some((f) => !f.final) || this.redirecting > 0) return;
    const best = bestFinal(this.forks.filter((f) => !f.superseded).map((f) => f.final!));
    this.failSetup(best.status, best.reason, best.headers);
  }

  /**
   * §8.1.3.4: "Upon receipt of a redirection response (for example, a 301 response status code), clients
   * SHOULD use the URI(s) in the Contact header field to formulate one or more new requests based on the
   * redirected request." Here the B2BUA's policy decides what a URI may lead to (`hooks.redirect`: users and
   * routes of the caller's tenant, never the host a peer names), at most MAX_REDIRECTS times per call.
   */
  private followRedirect(fork: Fork): boolean {
    const redirect = this.hooks.redirect;
    if (!redirect || this.cancelled || this.redirects >= MAX_REDIRECTS) return false;
    this.redirects += 1;
    this.redirecting += 1;
    const lookup = redirect(fork.redirectTo ?? []).catch((err: unknown) => {
      this.hooks.warn({ err, callId: this.callId }, 'redirect lookup failed');
      return undefined;
    });
    this.run(
      lookup.then((plan) => {
        this.redirecting -= 1;
        if (this.state === 'answered' || this.state === 'ended' || this.cancelled) return;
        const [first, ...rest] = plan?.targets ?? [];
        if (!plan || !first) {
          this.settleIfDone();
          return;
        }
        fork.superseded = true; // the redirect is not the call's answer: where it leads is
        if (plan.mode === 'parallel') {
          for (const target of plan.targets) this.sendInvite(target);
        } else {
          this.untried = [...rest, ...this.untried];
          this.sendInvite(first);
        }
      }),
    );
    return true;
  }

  /** Shutdown: timers stop and the call is forgotten without sending anything (the listeners are closing). */
  abandon(): void {
    this.clearTimers();
    if (this.retransmit2xx) clearTimeout(this.retransmit2xx);
    this.state = 'ended';
  }

  /** The caller's CANCEL (§9.2): the forks are cancelled and the INVITE gets 487. */
  cancel(): void {
    if (this.state === 'answered' || this.state === 'ended') return;
    this.cancelled = true;
    for (const fork of this.forks) this.cancelFork(fork);
    this.inviteTx.respond(487, 'Request Terminated');
    this.finish('cancelled', 487, 'caller');
  }

  private ringTimeout(): void {
    if (this.state !== 'routing' && this.state !== 'early') return;
    for (const fork of this.forks) this.cancelFork(fork);
    this.inviteTx.respond(480, 'Temporarily Unavailable', { Reason: 'SIP;cause=480;text="No answer"' });
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
    if (this.state === 'answered' || this.state === 'ended') return;
    for (const fork of this.forks) this.cancelFork(fork);
    this.inviteTx.respond(status, reason, headers);
    this.finish(
      dispositionOf(status),
      status,
      ended?.by ?? (status === 487 ? 'caller' : 'callee'),
      ended?.why,
    );
  }

  /**
   * The relay could not anchor the call's media before the answer: the caller gets 503 (§21.5.4, "temporarily
   * unable to process the request"), never the other party's SDP (which would expose its media address on a
   * call that must be anchored), and the record blames the relay, not the callee.
   */
  private relayFailedBeforeAnswer(): void {
    this.failSetup(
      503,
      'Service Unavailable',
      { 'Retry-After': '5', Warning: '399 voxgate "Media relay unavailable"' },
      { by: 'system', why: MEDIA_RELAY_FAILED },
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
      if (this.state === 'answered') this.hangup('system', 'internal error');
      else this.failSetup(500, 'Server Internal Error', {}, { by: 'system', why: 'internal error' });
    });
  }

  private cancelFork(fork: Fork): void {
    if (fork.final || fork.cancelled || fork === this.winner) return;
    fork.cancelled = true;
    // §9.1: "a CANCEL request SHOULD NOT be sent to cancel an INVITE unless a provisional response has been
    // received"; otherwise it is sent when one arrives (onForkResponse).
    if (fork.provisional) this.sendCancel(fork);
  }

  /**
   * §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header fields in the CANCEL
   * request MUST be identical to those in the request being cancelled, including tags. A CANCEL constructed by
   * a client MUST have only a single Via header field value matching the top Via value in the request being
   * cancelled."
   */
  private sendCancel(fork: Fork): void {
    const request = fork.request;
    if (!request || fork.final) return;
    const headers: SipHeader[] = [
      { name: 'Via', value: request.topVia },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: header(request, 'From') ?? '' },
      { name: 'To', value: header(request, 'To') ?? '' },
      { name: 'Call-ID', value: request.callId },
      { name: 'CSeq', value: `${request.cseq.seq} CANCEL` },
      ...request.headers.filter((h) => h.name === 'Route'),
    ];
    this.outbound.request(buildRequest('CANCEL', request.uri, headers), fork.spec.target, {
      response: () => undefined,
      timeout: () => undefined,
    });
  }

  /** §13.2.2.4: the ACK of a 2xx is built by the UAC core like an in-dialog request with the INVITE's CSeq. */
  private ackFork(fork: Fork, body: Buffer): void {
    if (!fork.dialog || !fork.request) return;
    fork.ack = buildDialogRequest(fork.dialog, 'ACK', {
      via: this.outbound.via(fork.spec.target),
      cseq: fork.request.cseq.seq,
      headers: body.length > 0 ? [{ name: 'Content-Type', value: 'application/sdp' }] : [],
      body,
    });
    this.outbound.send(fork.ack, fork.spec.target);
  }

  private sendBye(dialog: Dialog, target: LegTarget, reason?: string): void {
    const bytes = buildDialogRequest(dialog, 'BYE', {
      via: this.outbound.via(target),
      headers: reason ? [{ name: 'Reason', value: `SIP;cause=200;text="${reason}"` }] : [],
    });
    this.outbound.request(bytes, target, { response: () => undefined, timeout: () => undefined });
  }

  /** An ACK from the caller for our 2xx (or for a re-INVITE 2xx) or from the callee for a re-INVITE 2xx. */
  async ack(side: Side, ack: SipRequest): Promise<void> {
    const key = `${side}:${ack.cseq.seq}`;
    if (this.absorbedAcks.delete(key)) return;
    if (side !== 'caller' || ack.cseq.seq !== this.invite.cseq.seq) return;
    if (this.retransmit2xx) {
      clearTimeout(this.retransmit2xx);
      this.retransmit2xx = undefined;
    }
    const fork = this.winner;
    if (!this.ackPendingForLateOffer || !fork) return;
    this.ackPendingForLateOffer = false;
    let body = ack.body;
    if (body.length > 0 && this.media) {
      try {
        body = await this.media.answer('caller', body);
      } catch (err) {
        // The caller's raw answer must not reach the callee: its 2xx is acknowledged without one and the call,
        // which cannot have media through the relay, is ended.
        this.hooks.warn({ err, callId: this.callId }, 'media relay refused the late answer');
        this.ackFork(fork, Buffer.alloc(0));
        this.hangup('system', MEDIA_RELAY_FAILED);
        return;
      }
    }
    this.ackFork(fork, body);
  }

  /** A request inside one of the call's dialogs (anything but ACK and CANCEL). */
  async inDialog(side: Side, request: SipRequest, tx: ServerTransaction): Promise<void> {
    if (side === 'caller' && request.method === 'PRACK') {
      await this.prack(request, tx);
      return;
    }
    const early =
      this.state === 'early' && (request.method === 'UPDATE' || request.method === 'INFO')
        ? this.earlyPair(side, request)
        : undefined;
    const own =
      early?.own ??
      (this.state === 'answered' ? (side === 'caller' ? this.callerDialog : this.winner?.dialog) : undefined);
    if (!own) {
      if (
        side === 'caller' &&
        request.method === 'BYE' &&
        (this.state === 'routing' || this.state === 'early')
      ) {
        // A BYE in the caller's early dialog ends the attempt like a CANCEL would (§15).
        tx.respond(200, 'OK');
        this.cancel();
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
      this.hangup(side, undefined);
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
   * RFC 3311 (abstract): UPDATE is "like a re-INVITE, but unlike re-INVITE, it can be sent before the initial
   * INVITE has been completed. This makes it very useful for updating session parameters within early
   * dialogs." Across the B2BUA the caller's early dialog is paired with the callee's early dialog whose
   * reliable provisional response was relayed last (an early dialog exists on the caller's leg only through
   * reliable provisionals); UPDATE and INFO pass between them like in a confirmed call. Undefined (481) when
   * there is no such pair, or the request comes from another of the callee's early dialogs.
   */
  private earlyPair(
    side: Side,
    request: SipRequest,
  ): { own: Dialog; other: { dialog: Dialog; target: LegTarget } } | undefined {
    const peer = this.earlyPeer;
    const caller = this.callerDialog;
    if (!peer || !caller || peer.fork.cancelled || peer.fork.final) return undefined;
    const callee = { dialog: peer.leg.dialog, target: peer.fork.spec.target };
    if (side === 'caller') return { own: caller, other: callee };
    const fromPeer = peer.fork.callId === request.callId && peer.leg.dialog.id.remoteTag === request.fromTag;
    return fromPeer
      ? { own: peer.leg.dialog, other: { dialog: caller, target: this.callerTarget } }
      : undefined;
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
    how: {
      sdp: 'offer' | 'answer' | 'none';
      leg?: { dialog: Dialog; target: LegTarget };
      headers?: readonly SipHeader[];
    },
  ): Promise<void> {
    const otherSide: Side = side === 'caller' ? 'callee' : 'caller';
    const other = how.leg ?? this.dialogOf(otherSide);
    if (!other) {
      tx.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    const isOffer = request.method === 'INVITE' || request.method === 'UPDATE';
    if (isOffer) this.offerInProgress = true;
    let body = request.body;
    const anchored = how.sdp === 'offer' && body.length > 0 && this.media !== undefined;
    try {
      if (anchored) body = await this.media!.offer(side, body);
      else if (how.sdp === 'answer' && body.length > 0 && this.media)
        body = await this.media.answer(side, body);
    } catch (err) {
      this.offerInProgress = false;
      this.hooks.warn({ err, callId: this.callId }, 'media relay refused a re-offer');
      tx.respond(488, 'Not Acceptable Here', { Warning: '399 voxgate "Media relay refused the offer"' });
      return;
    }
    const contentType = header(request, 'Content-Type');
    const bytes = buildDialogRequest(other.dialog, request.method, {
      via: this.outbound.via(other.target),
      contact: isOffer ? this.outbound.contact(other.target) : undefined,
      headers: [
        ...(how.headers ?? []),
        ...copied(request, REQUEST_PASSTHROUGH),
        ...(body.length > 0 && contentType ? [{ name: 'Content-Type', value: contentType }] : []),
      ],
      body,
    });
    const sentSeq = other.dialog.localSeq;
    this.outbound.request(bytes, other.target, {
      response: (response) => this.run(this.relayResponse(side, request, tx, response, anchored, sentSeq)),
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
    const otherSide: Side = side === 'caller' ? 'callee' : 'caller';
    let body = response.body;
    if (response.status >= 200 && response.status < 300 && request.method === 'INVITE') {
      // The other side's 2xx to our re-INVITE is acknowledged by us at once; the requester's ACK is absorbed.
      const other = this.dialogOf(otherSide);
      if (other && sentSeq !== undefined) {
        const ack = buildDialogRequest(other.dialog, 'ACK', {
          via: this.outbound.via(other.target),
          cseq: sentSeq,
        });
        this.outbound.send(ack, other.target);
      }
      this.absorbedAcks.add(`${side}:${request.cseq.seq}`);
    }
    if (response.status >= 200) this.offerInProgress = false;
    if (anchored && response.status >= 200 && response.status < 300 && body.length > 0) {
      try {
        body = await this.media!.answer(otherSide, body);
      } catch (err) {
        // Never the other party's raw answer: the session cannot go on through the relay, so the call ends.
        this.hooks.warn({ err, callId: this.callId }, 'media relay refused a re-answer');
        tx.respond(503, 'Service Unavailable', { Warning: '399 voxgate "Media relay unavailable"' });
        this.hangup('system', MEDIA_RELAY_FAILED);
        return;
      }
    }
    const headers: Record<string, string | string[]> = asExtra(copied(response, RESPONSE_PASSTHROUGH));
    if (request.method === 'INVITE' || request.method === 'UPDATE') {
      const callee = this.winner ?? this.earlyPeer?.fork;
      headers.Contact = this.outbound.contact(
        side === 'caller' || !callee ? this.callerTarget : callee.spec.target,
      );
    }
    const contentType = header(response, 'Content-Type');
    if (body.length > 0 && contentType) headers['Content-Type'] = contentType;
    tx.respond(response.status, response.reason, headers, body);
  }

  private dialogOf(side: Side): { dialog: Dialog; target: LegTarget } | undefined {
    if (side === 'caller')
      return this.callerDialog ? { dialog: this.callerDialog, target: this.callerTarget } : undefined;
    const fork = this.winner;
    return fork?.dialog ? { dialog: fork.dialog, target: fork.spec.target } : undefined;
  }

  /** Ends an answered call: BYE to whichever side did not hang up. */
  hangup(by: HangupParty, reason: string | undefined): void {
    if (this.state === 'ended') return;
    if (this.state !== 'answered') {
      this.cancel();
      return;
    }
    if (this.retransmit2xx) clearTimeout(this.retransmit2xx);
    const caller = this.dialogOf('caller');
    const callee = this.dialogOf('callee');
    if (by !== 'caller' && caller) this.sendBye(caller.dialog, caller.target, reason);
    if (by !== 'callee' && callee) this.sendBye(callee.dialog, callee.target, reason);
    this.finish('answered', 200, by, reason);
  }

  private responseHeaders(response: SipResponse, body: Buffer): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = asExtra(copied(response, RESPONSE_PASSTHROUGH));
    headers.Contact = this.outbound.contact(this.callerTarget);
    if (body.length > 0) headers['Content-Type'] = header(response, 'Content-Type') ?? 'application/sdp';
    return headers;
  }

  private finish(
    disposition: CallDisposition,
    sipCode: number,
    hangupBy: HangupParty,
    reason?: string,
  ): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.clearTimers();
    if (this.retransmit2xx) clearTimeout(this.retransmit2xx);
    this.reliable?.finalResponseSent();
    // RFC 6026 keeps an answered INVITE client transaction for Timer M (64*T1) only so that 2xx retransmissions
    // reach us for a new ACK; once the call is over a late 2xx is dropped like any stray one (`stray2xx` finds
    // no call), so the transactions go now rather than hold the whole call in memory for 32 s.
    for (const fork of this.forks) if (fork.tx?.state === 'accepted') fork.tx.terminate();
    const endedAt = Date.now();
    const publish = (media: MediaTotals | undefined) => {
      this.emit('ended', {
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
    if (this.media) this.media.delete().then(publish, () => publish(undefined));
    else publish(undefined);
  }

  private emit(type: CallEvent['type'], extra: Partial<CallEvent> = {}): void {
    this.hooks.event({
      type,
      callId: this.callId,
      tenantId: this.identity.tenantId,
      direction: this.identity.direction,
      from: this.identity.from,
      to: this.identity.to,
      startedAt: this.startedAt,
      ...(this.trunkId ? { trunkId: this.trunkId } : {}),
      ...(this.answeredAt ? { answeredAt: this.answeredAt } : {}),
      ...(this.identity.gateway ? { gateway: this.identity.gateway } : {}),
      ...extra,
    });
  }

  private after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** The callee-side Call-IDs of this call (for the call table). */
  get legCallIds(): string[] {
    return this.forks.map((f) => f.callId);
  }

  /** Which side a Call-ID belongs to. */
  sideOf(callId: string): Side | undefined {
    if (callId === this.callId) return 'caller';
    // Before the answer, the callee's early dialog paired with the caller's (inEarlyDialog).
    return (this.winner ?? this.earlyPeer?.fork)?.callId === callId ? 'callee' : undefined;
  }

  /** A 2xx that matched no transaction (Timer M gone): re-ACK the winner, ACK+BYE anything else. */
  stray2xx(response: SipResponse): void {
    const fork = this.forks.find((f) => f.callId === response.callId);
    if (!fork) return;
    if (fork === this.winner && fork.ack) {
      this.outbound.send(fork.ack, fork.spec.target);
      return;
    }
    if (fork !== this.winner && fork.request) {
      const dialog = createUacDialog(fork.request, response);
      fork.dialog = dialog;
      this.ackFork(fork, Buffer.alloc(0));
      this.sendBye(dialog, fork.spec.target);
    }
  }
}
