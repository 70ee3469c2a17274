/**
 * What the call tells the world: its `started`, `ringing`, `answered` and `ended` events (with the identity, the trunk
 * that carries it and its times), and the tracing hook of its first ringing.
 */
import { channel } from 'node:diagnostics_channel';
import type { CallEvent, HangupParty } from '../../store/index.js';
import type { CallHooks, CallIdentity } from './call-types.js';

/** Tracing hook: the first ringing (18x) of a call, with the post-dial delay (`CallProgressEvent`). */
export const callProgressChannel = channel('voxgate:gateway:call-progress');

export interface CallProgressEvent {
  callId: string;
  /** From the caller's INVITE to the first 18x relayed to it. */
  postDialDelayMs: number;
}

export class CallRecord {
  readonly startedAt = Date.now();
  answeredAt: number | undefined;
  /** The first provisional response relayed to the caller; carried on the later events (the CDR's ringingAt). */
  ringingAt: number | undefined;
  /** The trunk last offered the call (the one that answered, once answered); starts as the identity's. */
  trunkId: string | undefined;

  constructor(
    readonly callId: string,
    readonly identity: CallIdentity,
    private readonly hooks: Pick<CallHooks, 'event'>,
    /**
     * A transferred call's record (`transfer`): the call it came from, and whether its parties sit on the
     * B2BUA's sides the other way round — the party that stayed (its `from`) on the callee side and the
     * target (its `to`) on the caller side — so that `hangupBy` and the media directions are turned.
     */
    private readonly transfer?: { readonly from: string; readonly flipped: boolean },
  ) {
    this.trunkId = identity.trunkId;
  }

  /** The first provisional response relayed to the caller: the call's `ringing` event. */
  progress(): void {
    this.ringingAt ??= Date.now();
    this.emit('ringing');
    if (!callProgressChannel.hasSubscribers) return;
    callProgressChannel.publish({
      callId: this.callId,
      postDialDelayMs: Date.now() - this.startedAt,
    } satisfies CallProgressEvent);
  }

  emit(type: CallEvent['type'], extra?: Partial<CallEvent>): void {
    // Built by assignment, in the order the spread-built event had: an optional field is absent, not undefined.
    const event: CallEvent = {
      type,
      callId: this.callId,
      tenantId: this.identity.tenantId,
      direction: this.identity.direction,
      from: this.identity.from,
      to: this.identity.to,
      startedAt: this.startedAt,
    };
    if (this.trunkId) event.trunkId = this.trunkId;
    if (this.ringingAt) event.ringingAt = this.ringingAt;
    if (this.answeredAt) event.answeredAt = this.answeredAt;
    if (this.identity.gateway) event.gateway = this.identity.gateway;
    if (this.transfer) event.transferredFrom = this.transfer.from;
    this.hooks.event(extra ? Object.assign(event, this.transfer?.flipped ? flip(extra) : extra) : event);
  }
}

const TURNED: Partial<Record<HangupParty, HangupParty>> = { caller: 'callee', callee: 'caller' };

/** An event's parts that name the B2BUA's sides, turned for a record whose parties sit the other way round. */
function flip(extra: Partial<CallEvent>): Partial<CallEvent> {
  const turned = { ...extra };
  if (extra.hangupBy) turned.hangupBy = TURNED[extra.hangupBy] ?? extra.hangupBy;
  if (extra.media) {
    const { callerToCallee, calleeToCaller } = extra.media;
    turned.media = {
      ...(calleeToCaller ? { callerToCallee: calleeToCaller } : {}),
      ...(callerToCallee ? { calleeToCaller: callerToCallee } : {}),
    };
  }
  return turned;
}
