/**
 * Who a call's two sides are now: the caller's leg and the callee that answered, or after a transfer the party
 * that took a side's place; the legs a transfer let go or handed over to another call; and the limits held
 * for each side's party. The transfers change the parties (`call-transfers.ts`); the rest of the call asks.
 */
import { header, uriOf, withoutTag, type Dialog } from '../../sip/index.js';
import type { LegTarget, SipOutbound } from '../sip-outbound.js';
import type { CallerLeg } from './caller-leg.js';
import { sendBye } from './callee-leg.js';
import type { PartyLeg } from './call-transfers.js';
import type { CallHooks, CallIdentity, DialogId, Side } from './call-types.js';
import type { ProvisionalRelay } from './provisional-relay.js';
import type { TargetSet } from './target-set.js';

/** What a call's leg is to the call table: a side, or a leg a transfer let go (`B2buaCall.roleOf`). */
export type LegRole = Side | 'released';

export class CallParties {
  /** After a transfer, the party that took a side's place. */
  private readonly replaced: Partial<Record<Side, PartyLeg>> = {};
  /** Call-IDs of legs a transfer let go: a BYE crossing ours is answered, nothing else reaches the call. */
  private readonly released = new Set<string>();
  /** Call-IDs of legs handed over to another call: no longer this call's to index or end. */
  private readonly detached = new Set<string>();
  /** Gives back the limits held for a side's party: the call's own, or the transfer's that brought it. */
  private readonly limitsOf: Record<Side, () => void>;

  constructor(
    private readonly caller: CallerLeg,
    private readonly targets: TargetSet,
    private readonly provisionals: ProvisionalRelay,
    private readonly identity: CallIdentity,
    private readonly outbound: SipOutbound,
    hooks: CallHooks,
  ) {
    this.limitsOf = {
      caller: () => hooks.releaseParty?.('caller'),
      callee: () => hooks.releaseParty?.('callee'),
    };
  }

  /** What a Call-ID is to the call: a side, a leg a transfer let go, or nothing. */
  roleOf(callId: string): LegRole | undefined {
    if (this.released.has(callId)) return 'released';
    if (this.replaced.caller?.callId === callId) return 'caller';
    if (this.replaced.callee?.callId === callId) return 'callee';
    if (callId === this.caller.callId) return 'caller';
    // Before the answer, the callee's early dialog paired with the caller's (early UPDATE/INFO).
    return (this.targets.winner ?? this.provisionals.peer?.leg)?.callId === callId ? 'callee' : undefined;
  }

  /** The Call-IDs given that are still this call's (not handed over to another call). */
  attached(callIds: string[]): string[] {
    return callIds.filter((id) => !this.detached.has(id));
  }

  /** A side's confirmed dialog and where its requests go: after a transfer, the party that took its place. */
  party(side: Side): { dialog: Dialog; target: LegTarget } | undefined {
    const replaced = this.replaced[side];
    if (replaced) return replaced;
    if (side === 'caller') return this.caller.peer;
    const leg = this.targets.winner;
    return leg?.dialog ? { dialog: leg.dialog, target: leg.target } : undefined;
  }

  /** Who a side's party is: its address, and its AOR when it is a user of the tenant (not a trunk). */
  who(side: Side): { addr: string; aor: string | undefined } {
    const replaced = this.replaced[side];
    if (replaced) return replaced;
    if (side === 'caller') {
      return {
        addr: withoutTag(header(this.caller.invite, 'From') ?? ''),
        aor: this.identity.direction === 'inbound' ? undefined : this.identity.from,
      };
    }
    const spec = this.targets.winner?.spec;
    const addr = spec?.to ?? withoutTag(header(this.caller.invite, 'To') ?? '');
    return { addr, aor: spec && !spec.trunkId ? uriOf(addr) : undefined };
  }

  /** A side's party as another call may take it: its dialog, where its requests go, who it is. */
  partyFor(side: Side): PartyLeg | undefined {
    const own = this.party(side);
    return own && { ...own, ...this.who(side), callId: this.sideCallId(side) };
  }

  /**
   * The side whose dialog is `id` as this gateway sees it (its Call-ID, our tag, the party's tag): RFC 3891 §3
   * matches an INVITE with Replaces' to-tag with the local tag of the dialog and its from-tag with the remote
   * tag.
   */
  sideByDialog(id: DialogId): Side | undefined {
    if (this.released.has(id.callId)) return undefined;
    for (const side of ['caller', 'callee'] as const) {
      const own = this.party(side)?.dialog.id;
      if (own?.callId === id.callId && own.localTag === id.localTag && own.remoteTag === id.remoteTag)
        return side;
    }
    return undefined;
  }

  /** The Call-ID of a side's leg now (after a transfer, the leg of the party that took its place). */
  sideCallId(side: Side): string {
    return (
      this.replaced[side]?.callId ??
      (side === 'caller' ? this.caller.callId : (this.targets.winner?.callId ?? ''))
    );
  }

  /** A BYE with `reason` to the party on `side`, unless it hung up already (or there is none). */
  bye(side: Side, reason: string | undefined): void {
    const party = this.party(side);
    if (party && !this.released.has(this.sideCallId(side)))
      sendBye(this.outbound, party.dialog, party.target, reason);
  }

  /** Lets the party on `side` go: its leg's requests get 481 from now on, a BYE 200. */
  let(side: Side): void {
    const callId = this.sideCallId(side);
    if (callId) this.released.add(callId);
  }

  /** The party on `side` joined another call: its leg is let go and no longer this call's. */
  handOver(side: Side): void {
    const callId = this.sideCallId(side);
    this.let(side);
    this.detached.add(callId);
  }

  /**
   * `party` takes the place of the party on `side`: that party's leg is released (BYE with `reason`, unless
   * it hung up already) and its limits given back.
   */
  replace(side: Side, party: PartyLeg, reason: string): void {
    this.bye(side, reason);
    this.let(side);
    this.replaced[side] = party;
    this.limitsOf[side]();
    this.limitsOf[side] = () => undefined;
  }

  /** From now on the limits held for `side`'s party are those `release` gives back. */
  limitsNow(side: Side, release: () => void): void {
    this.limitsOf[side] = release;
  }

  /** The limits of the parties that came through transfers (the call's own go when the table lets it go). */
  releaseTransferredLimits(): void {
    for (const side of ['caller', 'callee'] as const) if (this.replaced[side]) this.limitsOf[side]();
  }
}
