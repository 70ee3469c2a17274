/**
 * The call's target set: the callee legs it sends, in parallel (§16.6) or one after the other (a route's
 * trunks, failing over on a timeout, 408 or 5xx), the carrier challenges answered, the redirects followed by
 * the B2BUA's policy, the winner, and — once every leg has its final — the best final response (§16.7).
 */
import { contactsOf, type SipResponse } from '../../sip/index.js';
import type { SipOutbound } from '../sip-outbound.js';
import type { LegOrigin } from './caller-leg.js';
import { CalleeLeg, type CredentialsRetry } from './callee-leg.js';
import type { CallHooks, FinalResponse, ForkMode, ForkTarget } from './call-types.js';
import { bestFinal, failsOver } from './final-responses.js';
import { asExtra, copied, EXTENSION_REQUIRED_PASSTHROUGH, RESPONSE_PASSTHROUGH } from './passthrough.js';
import { mintCallId } from '../call-id-owner.js';

/** Redirects followed per call, at most: a loop of 3xx between two targets ends there. */
const MAX_REDIRECTS = 3;

export interface TargetSetEvents {
  /** A response of a leg (provisional or 2xx; finals are the target set's). */
  response(leg: CalleeLeg, response: SipResponse): Promise<void>;
  /** A leg is being offered the call (a failover names the trunk that carries it now). */
  offered(spec: ForkTarget): void;
  /** Every leg has its final and no redirect is pending: the best one is the call's answer. */
  settled(best: FinalResponse): void;
  /** The call is still being set up (routing or early). */
  settingUp(): boolean;
  /** The call is over (ending or ended). */
  over(): boolean;
  /** Runs an asynchronous step of the call, which ends the call if it fails. */
  run(step: Promise<void>): void;
}

export class TargetSet {
  readonly legs: CalleeLeg[] = [];
  /** The leg whose 2xx answered the call. */
  winner: CalleeLeg | undefined;
  /** Targets not tried yet (sequential mode). */
  private untried: ForkTarget[] = [];
  private redirects = 0;
  /** Redirect lookups in progress: the call's answer waits for them. */
  private redirecting = 0;
  /** The SDP offered to every leg (the caller's, anchored). */
  private offer: Buffer = Buffer.alloc(0);

  constructor(
    private readonly caller: LegOrigin,
    /** The From tag of every callee leg. */
    private readonly fromTag: string,
    private readonly outbound: SipOutbound,
    private readonly hooks: Pick<CallHooks, 'registerLeg' | 'warn' | 'redirect'>,
    private readonly events: TargetSetEvents,
  ) {}

  /** Offers the call with `offer` to `targets`: all at once, or the first and then the others in turn. */
  start(targets: readonly ForkTarget[], mode: ForkMode, offer: Buffer): void {
    this.offer = offer;
    if (mode === 'parallel') {
      for (const spec of targets) this.send(spec);
      return;
    }
    const [first, ...rest] = targets;
    this.untried = rest;
    if (first) this.send(first);
  }

  private send(spec: ForkTarget, retry?: CredentialsRetry): void {
    this.events.offered(spec);
    const callId = retry?.callId ?? mintCallId(12);
    if (!retry) this.hooks.registerLeg(callId);
    const leg = new CalleeLeg(
      spec,
      callId,
      { caller: this.caller, fromTag: this.fromTag, offer: this.offer, ...(retry ? { retry } : {}) },
      this.outbound,
      {
        response: (l, response) => this.events.run(this.onResponse(l, response)),
        timeout: (l) => this.onFinal(l, { status: 408, reason: 'Request Timeout', headers: {} }),
      },
    );
    this.legs.push(leg);
  }

  private async onResponse(leg: CalleeLeg, response: SipResponse): Promise<void> {
    const { status } = response;
    if (status === 100) return;
    if (status < 300) {
      await this.events.response(leg, response);
      return;
    }
    if (status === 401 || status === 407) {
      const retry = this.events.over() ? undefined : leg.answerChallenge(response);
      if (retry) {
        this.send(leg.spec, retry);
        return;
      }
    }
    if (status < 400) {
      const contacts = contactsOf(response);
      leg.redirectTo = contacts === '*' ? [] : contacts.map((c) => c.uriText);
    }
    this.onFinal(leg, {
      status,
      reason: response.reason,
      headers: asExtra(
        copied(response, status === 421 ? EXTENSION_REQUIRED_PASSTHROUGH : RESPONSE_PASSTHROUGH),
      ),
    });
  }

  private onFinal(leg: CalleeLeg, final: FinalResponse): void {
    leg.final ??= final;
    if (!this.events.settingUp()) return;
    if (final.status >= 300 && final.status < 400 && leg.redirectTo?.length && this.followRedirect(leg))
      return;
    const next = failsOver(final.status) ? this.untried.shift() : undefined;
    if (next) {
      this.send(next);
      return;
    }
    this.settleIfDone();
  }

  /** Once every leg has its final response and no redirect is being looked up, the best one is the answer. */
  private settleIfDone(): void {
    if (!this.events.settingUp()) return;
    if (this.legs.some((l) => !l.final) || this.redirecting > 0) return;
    this.events.settled(bestFinal(this.legs.filter((l) => !l.superseded).map((l) => l.final!)));
  }

  /**
   * §8.1.3.4: "Upon receipt of a redirection response (for example, a 301 response status code), clients
   * SHOULD use the URI(s) in the Contact header field to formulate one or more new requests based on the
   * redirected request." Here the B2BUA's policy decides what a URI may lead to (`hooks.redirect`: users and
   * routes of the caller's tenant, never the host a peer names), at most MAX_REDIRECTS times per call.
   */
  private followRedirect(leg: CalleeLeg): boolean {
    const redirect = this.hooks.redirect;
    if (!redirect || this.redirects >= MAX_REDIRECTS) return false;
    this.redirects += 1;
    this.redirecting += 1;
    const lookup = redirect(leg.redirectTo ?? []).catch((err: unknown) => {
      this.hooks.warn({ err, callId: this.caller.callId }, 'redirect lookup failed');
      return undefined;
    });
    this.events.run(
      lookup.then((plan) => {
        this.redirecting -= 1;
        if (!this.events.settingUp()) return;
        const [first, ...rest] = plan?.targets ?? [];
        if (!plan || !first) {
          this.settleIfDone();
          return;
        }
        leg.superseded = true; // the redirect is not the call's answer: where it leads is
        if (plan.mode === 'parallel') {
          for (const target of plan.targets) this.send(target);
        } else {
          this.untried = [...rest, ...this.untried];
          this.send(first);
        }
      }),
    );
    return true;
  }

  /** Cancels every leg but the winner (§9.1). */
  cancelAll(): void {
    for (const leg of this.legs) if (leg !== this.winner) leg.cancel();
  }

  byCallId(callId: string): CalleeLeg | undefined {
    return this.legs.find((l) => l.callId === callId);
  }

  /** The callee-side Call-IDs of this call (for the call table). */
  get callIds(): string[] {
    return this.legs.map((l) => l.callId);
  }
}
