/**
 * The call's media leg: every offer and answer of the call goes through the relay (when the call is
 * anchored), the one policy for a relay that fails, and the watchdog that ends a call whose media stopped.
 * An anchored call never carries the other party's raw SDP: it would expose that party's media address.
 */
import type { SipResponse } from '../../sip/index.js';
import type { HangupParty } from '../../store/index.js';
import type { MediaSession, MediaTotals } from '../media-anchor.js';
import type { EarlyLeg } from './callee-leg.js';
import type { CallPart, SetupFailing, Side } from './call-types.js';

/** The reason recorded when the relay could not anchor a call's media. */
export const MEDIA_RELAY_FAILED = 'media relay failed';

/** What the media leg needs of its call to apply its policies. */
export interface MediaLegCall extends CallPart, SetupFailing {
  /** Ends an answered call on both legs. */
  hangup(by: HangupParty, reason: string): void;
  /** Runs an asynchronous step of the call, which ends the call if it fails. */
  run(step: Promise<void>): void;
  /** The relay started (true) or stopped (false) recording the call. */
  recordingChanged(on: boolean): void;
  /** A recording the relay stored: from when to when, and the object keys of its files. */
  recorded(recording: { startedAt: number; endedAt: number; keys: string[] }): void;
}

export class MediaLeg {
  /**
   * The last SDP each party sent (as it sent it): what a transfer re-offers to the relay for the party that
   * stays, so that the relay's side facing it keeps its ports and that party needs no re-INVITE.
   */
  private readonly sent: Partial<Record<Side, Buffer>> = {};
  /** When the recording the relay is making began; undefined when the call is not being recorded. */
  private recordingSince: number | undefined;

  constructor(
    private readonly session: MediaSession | undefined,
    private readonly call: MediaLegCall,
  ) {
    this.noticeRecording(); // a placed call's first offer was made before the call (click-to-call)
  }

  /** The relay records since an offer asked it to (`always`, ng `record call`): the recording begins now. */
  private noticeRecording(): void {
    if (this.session?.recording && this.recordingSince === undefined) {
      this.recordingSince = Date.now();
      this.call.recordingChanged(true);
    }
  }

  /** The call's media is anchored on a relay. */
  get anchored(): boolean {
    return this.session !== undefined;
  }

  /** An offer from `side`: the SDP for the other side (the offer itself when not anchored). */
  async offer(side: Side, sdp: Buffer): Promise<Buffer> {
    this.sent[side] = sdp;
    if (!this.session) return sdp;
    const rewritten = await this.session.offer(side, sdp);
    // The first offer asks the relay to record when the policy says `always` (ng `record call`).
    this.noticeRecording();
    return rewritten;
  }

  /** The relay is recording the call. */
  get recording(): boolean {
    return this.recordingSince !== undefined;
  }

  /** Asks the relay to record the call from now on (ng `start recording`); why not, if it cannot. */
  async startRecording(): Promise<string | undefined> {
    if (!this.session) return "the call's media is not anchored on a relay";
    if (this.recordingSince !== undefined) return undefined;
    try {
      await this.session.startRecording();
    } catch (err) {
      return `the media relay refused to record: ${err instanceof Error ? err.message : String(err)}`;
    }
    this.recordingSince = Date.now();
    this.call.recordingChanged(true);
    return undefined;
  }

  /**
   * Stops the recording (ng `stop recording`) and hands the stored files on (`recorded`); nothing when the call
   * is not being recorded. Rejects when the relay does not answer (the files it stored are then unlisted).
   */
  async stopRecording(): Promise<void> {
    const startedAt = this.recordingSince;
    if (!this.session || startedAt === undefined) return;
    this.recordingSince = undefined;
    this.call.recordingChanged(false);
    const keys = await this.session.stopRecording();
    if (keys.length > 0) this.call.recorded({ startedAt, endedAt: Date.now(), keys });
  }

  /** The answer to the last offer, from `side`: the SDP for the other side. */
  async answer(side: Side, sdp: Buffer): Promise<Buffer> {
    this.sent[side] = sdp;
    return this.session ? this.session.answer(side, sdp) : sdp;
  }

  /** The last SDP `side` sent, if any. */
  lastSdp(side: Side): Buffer | undefined {
    return this.sent[side];
  }

  /** The relay's stats so far (undefined when not anchored or the relay did not say). */
  async stats(): Promise<MediaTotals | undefined> {
    return (await this.session?.query())?.totals;
  }

  /**
   * The one policy for a relay that could not anchor an offer or answer the call depends on. Before the
   * answer the caller gets 503 (§21.5.4, "temporarily unable to process the request") with Retry-After, never
   * the other party's SDP, and the record blames the relay, not the callee; after it the call is ended on both
   * legs. Either way the record says `hangupBy: system`, `reason: media relay failed`.
   */
  failed(err: unknown, message: string): void {
    this.call.warn({ err, callId: this.call.callId }, message);
    if (this.call.machine.state === 'answered') {
      this.call.hangup('system', MEDIA_RELAY_FAILED);
      return;
    }
    this.call.failSetup(
      503,
      'Service Unavailable',
      { 'Retry-After': '5', Warning: '399 voxgate "Media relay unavailable"' },
      { by: 'system', why: MEDIA_RELAY_FAILED },
    );
  }

  /**
   * The SDP of a callee's provisional response, as relayed to the caller. With an offer in the INVITE it is
   * the callee's answer, anchored. With a late offer, the first reliable provisional response with SDP carries
   * the callee's offer (RFC 3262 §5), anchored, and the caller's PRACK the answer; an SDP in an unreliable one
   * is no offer and is not relayed through an anchored call (it would show the callee's media address). A
   * relay that refuses an early SDP is not fatal: the response is relayed without it.
   */
  async earlySdp(
    response: SipResponse,
    leg: EarlyLeg | undefined,
    how: { lateOffer: boolean; reliable: boolean; callerReliable: boolean },
  ): Promise<{ body: Buffer; carriesOffer: boolean }> {
    const none = { body: Buffer.alloc(0), carriesOffer: false };
    const body = response.body;
    if (body.length === 0) return none;
    if (!how.lateOffer) {
      if (!this.session) return { body, carriesOffer: false };
      try {
        return { body: await this.answer('callee', body), carriesOffer: false };
      } catch (err) {
        this.call.warn({ err, callId: this.call.callId }, 'media relay refused an early answer');
        return none;
      }
    }
    if (leg?.offer) return { body: leg.offer, carriesOffer: false }; // the session already offered
    if (!how.reliable || !leg || !how.callerReliable) {
      return this.session ? none : { body, carriesOffer: false };
    }
    try {
      leg.offer = await this.offer('callee', body);
    } catch (err) {
      this.call.warn({ err, callId: this.call.callId }, 'media relay refused an early offer');
      return none;
    }
    return { body: leg.offer, carriesOffer: true };
  }

  /**
   * Dead calls (a phone lost its network, a NAT binding expired) hold ports and licences until someone
   * notices: the relay's packet counters are polled, and a call whose counters did not move for the media
   * timeout is ended on both legs. Polling works the same against voxgate's relay and RTPengine. The poll is
   * a timer of the answered state. A call whose media the relay reports failed (voxgate's relay: a DTLS-SRTP
   * handshake that failed) is ended at the next poll, with the relay's reason.
   */
  watch(timeoutMs: number): void {
    const media = this.session;
    if (!media || timeoutMs <= 0) return;
    const machine = this.call.machine;
    const every = Math.max(100, Math.floor(timeoutMs / 3));
    let last = -1;
    let quietSince = Date.now();
    const poll = async () => {
      if (machine.state !== 'answered') return;
      const stats = await media.query();
      if (machine.over) return;
      if (stats?.failure) {
        // No media can flow (the relay could not set up a party's encryption): end it now, with the reason.
        this.call.hangup('system', stats.failure);
        return;
      }
      const seen = stats
        ? (stats.totals.callerToCallee?.packets ?? 0) + (stats.totals.calleeToCaller?.packets ?? 0)
        : last;
      if (seen !== last) {
        last = seen;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= timeoutMs) {
        this.call.hangup('system', 'media timeout');
        return;
      }
      machine.after('media watchdog', ['answered'], every, () => this.call.run(poll()));
    };
    machine.after('media watchdog', ['answered'], every, () => this.call.run(poll()));
  }

  /** Ends the call on the relay: its final stats, or undefined (no relay, or it did not answer). */
  async close(): Promise<MediaTotals | undefined> {
    if (!this.session) return undefined;
    // A recording is stopped before the delete: the stop's reply names the stored files (a delete's does not).
    if (this.recordingSince !== undefined) {
      await this.stopRecording().catch((err: unknown) =>
        this.call.warn({ err, callId: this.call.callId }, 'recording not stopped; its files are not listed'),
      );
    }
    return this.session.delete().catch(() => undefined);
  }
}
