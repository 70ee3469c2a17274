/**
 * Click-to-call: a call the API places (`POST /v1/tenants/{t}/calls`, an `originate` command on the call
 * command stream that one gateway replica takes). The gateway rings `from` first — a user's registered contacts
 * in parallel, or a number through the tenant's routes — and once `from` answers it calls `to` as if `from` had
 * dialled it: the same planning (`planUserCall`) and admission (`call-admission.ts`) as that user's INVITE,
 * checked before `from` is rung, so that nobody is rung for a call that could not be made. From the answer on
 * the call is a `B2buaCall` like any other, with `from` as its caller (`CallerLeg` with a placed dialog).
 *
 * Media (third party call control, RFC 3725): the relay makes the first offer. Our INVITE to `from` carries
 * the relay's offer made from a placeholder SDP on the callee's side (`PLACEHOLDER_SDP`: PCMU, PCMA,
 * telephone-event at 0.0.0.0, which the relay sends nothing to); `from`'s answer is anchored and acknowledged
 * at once. That answer is then the caller's offer of the call to `to`: re-offered to the relay from the
 * caller's side (a re-offer from a known tag keeps the relay ports facing that party, as transfers rely on),
 * it gives `to` an offer with the codec `from` chose, and `to`'s answer re-points the callee side at `to`. So
 * `from` is never re-INVITEd and its 2xx never waits for `to`: RFC 3725 §4.1's flow I (a late-offer INVITE to
 * `from`, its offer sent on to `to`, the ACK held until `to` answers) would leave `from` without an ACK while
 * `to` rings — "If the time it takes to answer is longer than 64*T1 … A's 200 OK will be retransmitted …
 * and A will eventually terminate the call" — and needs an answer for `from` even when `to` fails.
 *
 * What is recorded: `started` when the command is taken, `ringing` at `from`'s first provisional response,
 * `answered` when `to` answers, `ended` with a CDR in every case — `from` unreachable, busy or not answering
 * (`hangupBy: caller`), `to` failing (`from` gets a BYE whose Reason carries `to`'s status), the API.
 */
import {
  formatNameAddr,
  newTag,
  randomHex,
  uriUser,
  type Dialog,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
} from '../sip/index.js';
import type { HangupParty, OriginateCommand, SipCredentials, Tenant } from '../store/index.js';
import {
  takeLimits,
  tenantOverLimit,
  trunkLimit,
  type AdmissionDeps,
  type ReleaseLimits,
} from './call-admission.js';
import { contactsOf, planUserCall, routeNumber, type CallPlan, type PlanningDeps } from './call-planning.js';
import { normalizeNumber } from './call-routing.js';
import { publishCallEvent } from './call-records.js';
import type { CalleeLeg } from './call/callee-leg.js';
import { CallRecord } from './call/call-record.js';
import type { CallIdentity, CallSettings, ForkMode, ForkTarget } from './call/call-types.js';
import { dispositionOf } from './call/final-responses.js';
import { TargetSet } from './call/target-set.js';
import type { MediaAnchor, MediaProfile, MediaSession } from './media-anchor.js';
import type { LegTarget } from './sip-outbound.js';

/** The reason recorded for a placed call `from` did not answer in time. */
const RING_TIMEOUT = 'ring timeout';

/**
 * The callee side's SDP of the relay's first offer to `from`: the codecs every phone and carrier has, and
 * DTMF. Its address 0.0.0.0 (RFC 3264 §8.4) means the relay sends nothing to that side until `to` answers.
 */
export const PLACEHOLDER_SDP = Buffer.from(
  [
    'v=0',
    'o=voxgate 1 1 IN IP4 0.0.0.0',
    's=voxgate',
    'c=IN IP4 0.0.0.0',
    't=0 0',
    'm=audio 9 RTP/AVP 0 8 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=sendrecv',
    '',
  ].join('\r\n'),
);

export interface PlaceCallDeps extends PlanningDeps, AdmissionDeps {
  state: PlanningDeps['state'] & AdmissionDeps['state'];
  media: MediaAnchor;
  settings: CallSettings;
}

/** `from` answered: what the B2BUA needs to run the rest as a call whose caller is `from`. */
export interface PlacedAnswer {
  tenant: Tenant;
  /** The INVITE `from` would have sent to `to`: its answer as the offer, its dialog's tags. */
  invite: SipRequest;
  /** Stands for that INVITE's server transaction (the call table's key; never sends anything). */
  tx: ServerTransaction;
  target: LegTarget;
  dialog: Dialog;
  record: CallRecord;
  identity: CallIdentity;
  media: MediaSession;
  forks: readonly ForkTarget[];
  mode: ForkMode;
  release: ReleaseLimits;
  settings: CallSettings;
}

/** A placed call while `from` is rung: the API may end it. */
export interface PlacedCallHandle {
  end(by: HangupParty, reason: string): void;
}

/** Who `from` is: a user of the tenant (its AOR and credentials), or a number. */
type FromParty =
  | { kind: 'user'; aor: string; user: SipCredentials; forks: ForkTarget[] }
  | {
      kind: 'number';
      aor: string;
      number: string;
      forks: ForkTarget[];
      trunkId: string;
      limits: CallPlan['limits'];
    };

/** The user part a command names: a user name or number (the API allows nothing else). */
const dialled = (text: string): string => uriUser(text) ?? text;

/**
 * A number placed first is no user of the tenant: the call to `to` is planned as from a caller with no limit,
 * encryption setting or recording policy of its own (the tenant's and the route's apply).
 */
function numberCaller(tenant: Tenant, number: string): SipCredentials {
  const caller = {
    userId: '',
    tenantId: tenant.id,
    username: number,
    ha1Md5: '',
    ha1Sha256: '',
    enabled: true,
    tenantActive: true,
    maxConcurrentCalls: null,
    nat: 'auto',
    mediaEncryption: 'auto',
  } as const;
  return caller as SipCredentials;
}

/**
 * Carries out an `originate` command: plans and admits the call, rings `from`, and hands the answered call to
 * `connect`. Every outcome before that is recorded here (one `ended` event). `track` is told of the call while
 * `from` is rung (so that the API can end it), and of its end (`undefined`).
 */
export async function placeCall(
  deps: PlaceCallDeps,
  command: OriginateCommand,
  hooks: {
    track(callId: string, handle: PlacedCallHandle | undefined): void;
    connect(answer: PlacedAnswer): Promise<void>;
  },
): Promise<void> {
  const now = Date.now();
  const tenant = await deps.tenants.findByDomain(command.domain);
  const toUser = dialled(command.to);
  const fromUser = dialled(command.from);
  const refused = (identity: Omit<CallIdentity, 'gateway'>, status: number, reason: string) =>
    publishCallEvent(deps, {
      type: 'ended',
      callId: command.callId,
      ...identity,
      startedAt: now,
      endedAt: Date.now(),
      disposition: dispositionOf(status),
      sipCode: status,
      hangupBy: 'system',
      reason,
      refused: true,
      gateway: deps.gatewayId,
    });
  if (!tenant || tenant.id !== command.tenantId) return;
  const fromAorOfUser = `sip:${fromUser}@${tenant.sipDomain}`;
  const attempt = {
    tenantId: tenant.id,
    direction: 'internal' as const,
    from: fromAorOfUser,
    to: `sip:${toUser}@${tenant.sipDomain}`,
  };
  if (tenant.status !== 'active') {
    refused(attempt, 403, 'tenant suspended');
    return;
  }

  // Who `from` is, and where it is rung.
  const user = await deps.users.findCredentials(tenant.sipDomain, fromUser);
  let from: FromParty;
  if (user?.enabled) {
    const bindings = await deps.state.registrations.list(fromAorOfUser);
    if (bindings.length === 0) {
      refused(attempt, 480, 'not registered');
      return;
    }
    from = { kind: 'user', aor: fromAorOfUser, user, forks: contactsOf(deps, bindings, fromAorOfUser) };
  } else {
    const number = normalizeNumber(fromUser);
    const shown = command.callerId ?? toUser;
    const routed = await routeNumber(deps, tenant.id, number, { user: shown });
    const first = routed.trunks[0];
    if (!routed.selected || !first) {
      refused({ ...attempt, direction: 'outbound', from: number }, 404, 'not found');
      return;
    }
    from = {
      kind: 'number',
      aor: routed.selected.dialled,
      number: routed.selected.dialled,
      forks: routed.forks,
      trunkId: first.id,
      limits: trunkLimit(first),
    };
  }

  // `to`, planned and admitted as a call `from` places (the user's own limits and routes).
  const caller = from.kind === 'user' ? from.user : numberCaller(tenant, from.number);
  const planned = await planUserCall(deps, tenant, caller, { aor: from.aor, dialled: toUser });
  if ('refusal' in planned) {
    refused(
      { ...planned.attempt, from: from.aor },
      planned.refusal.status,
      planned.refusal.warning ?? 'refused',
    );
    return;
  }
  const identity: CallIdentity = {
    tenantId: tenant.id,
    direction: from.kind === 'number' ? 'outbound' : planned.identity.direction,
    from: from.aor,
    to: planned.identity.to,
    ...(planned.identity.trunkId ? { trunkId: planned.identity.trunkId } : {}),
    ...(from.kind === 'number' && !planned.identity.trunkId ? { trunkId: from.trunkId } : {}),
    gateway: deps.gatewayId,
    ...(planned.recording ? { recording: planned.recording } : {}),
  };
  const over = await tenantOverLimit(deps, tenant);
  if (over) {
    refused(identity, over.status, over.warning ?? 'tenant limit');
    return;
  }
  const held = await takeLimits(deps, [...planned.limits, ...(from.kind === 'number' ? from.limits : [])]);
  if ('refusal' in held) {
    refused(identity, held.refusal.status, held.refusal.warning ?? 'limit reached');
    return;
  }

  // A browser (all its contacts over WebSocket) gets WebRTC; a user that requires SRTP gets SDES.
  const fromProfile: MediaProfile | undefined =
    from.forks.length > 0 && from.forks.every((f) => f.target.webSocket)
      ? 'webrtc'
      : from.kind === 'user' && from.user.mediaEncryption === 'sdes'
        ? 'srtp'
        : from.kind === 'user' && from.user.mediaEncryption === 'dtls'
          ? 'webrtc'
          : undefined;
  const media = deps.media.open({
    callId: command.callId,
    callerTag: randomHex(8),
    calleeTag: randomHex(8),
    profiles: {
      ...(fromProfile ? { caller: fromProfile } : {}),
      callee: planned.profiles?.callee ?? 'rtp',
    },
    ...(planned.recording === 'always' ? { record: true } : {}),
  });
  const record = new CallRecord(command.callId, identity, { event: (e) => publishCallEvent(deps, e) });
  if (!media) {
    // Nobody can be offered media without a relay to make the offer.
    held.release();
    refused(identity, 503, 'click-to-call needs a media relay');
    return;
  }
  deps.recordingPolicy?.set(command.callId, planned.recording ?? 'off');
  record.emit('started');

  const ringMs = command.timeoutSeconds ? command.timeoutSeconds * 1000 : deps.settings.ringTimeoutMs;
  const settings: CallSettings = { ...deps.settings, ringTimeoutMs: ringMs };
  let state: 'ringing' | 'answered' | 'ended' = 'ringing';
  const ring: { timer?: NodeJS.Timeout } = {};
  let winner: CalleeLeg | undefined;
  let ringing = false;

  const end = (status: number, by: HangupParty, why: string | undefined) => {
    if (state !== 'ringing') return;
    state = 'ended';
    clearTimeout(ring.timer);
    hooks.track(command.callId, undefined);
    targets.cancelAll();
    held.release();
    media
      .delete()
      .then((totals) =>
        record.emit('ended', {
          endedAt: Date.now(),
          disposition: dispositionOf(status),
          sipCode: status,
          hangupBy: by,
          ...(why ? { reason: why } : {}),
          ...(totals ? { media: totals } : {}),
        }),
      )
      .catch((err: unknown) => deps.warn({ err, callId: command.callId }, 'placed call not recorded'));
  };
  const run = (step: Promise<void>) =>
    step.catch((err: unknown) => {
      deps.warn({ err, callId: command.callId }, 'placed call step failed: the call is ended');
      if (state === 'ringing') end(500, 'system', 'internal error');
    });

  const answered = async (leg: CalleeLeg, response: SipResponse) => {
    if (winner) {
      if (leg === winner) leg.reacknowledge();
      else leg.discard();
      return;
    }
    const { dialog } = leg.confirm(response);
    if (state !== 'ringing' || leg.cancelled) {
      leg.discard();
      return;
    }
    winner = leg;
    targets.winner = leg;
    clearTimeout(ring.timer);
    targets.cancelAll();
    if (response.body.length === 0) {
      // Our INVITE carried the offer: a 2xx without the answer leaves `from` without media.
      leg.discard();
      end(488, 'system', 'no SDP answer from the party called first');
      return;
    }
    try {
      await media.answer('caller', response.body);
    } catch (err) {
      leg.discard();
      deps.warn({ err, callId: command.callId }, 'media relay refused the answer of the party called first');
      end(503, 'system', 'media relay failed');
      return;
    }
    if (state !== 'ringing') {
      leg.discard();
      return;
    }
    leg.acknowledge(Buffer.alloc(0));
    state = 'answered';
    hooks.track(command.callId, undefined);
    await hooks.connect({
      tenant,
      invite: inviteOf(leg, dialog, response.body, fromUri, `sip:${toUser}@${tenant.sipDomain}`),
      tx: standIn(dialog.id.localTag),
      target: leg.target,
      dialog,
      record,
      identity,
      media,
      forks: planned.forks,
      mode: planned.mode,
      release: held.release,
      settings,
    });
  };

  // `from` as the From of the calls it places (a number, at the tenant's domain).
  const fromUri = from.kind === 'user' ? from.aor : `sip:${from.number}@${tenant.sipDomain}`;
  // What `from` is shown: who it will be connected to (or the caller id asked for).
  const shown = command.callerId ?? toUser;
  const origin: SipRequest = {
    kind: 'request',
    method: 'INVITE',
    uri: from.aor,
    version: 'SIP/2.0',
    headers: [
      { name: 'From', value: formatNameAddr(shown, `sip:${shown}@${tenant.sipDomain}`) },
      { name: 'To', value: `<${from.aor}>` },
      { name: 'Max-Forwards', value: '70' },
    ],
    body: Buffer.alloc(0),
    callId: command.callId,
    cseq: { seq: 1, method: 'INVITE' },
    topVia: '',
  };
  const targets: TargetSet = new TargetSet(
    { invite: origin, callId: command.callId, reliable: false, requiresReliable: false },
    newTag(),
    deps.outbound,
    { registerLeg: () => undefined, warn: deps.warn },
    {
      response: async (leg, response) => {
        if (response.status >= 200) return answered(leg, response);
        // §9.1: a CANCEL waits for a provisional response; one that arrives after the call ended sends it now.
        if (!leg.provisionalArrived()) return;
        if (response.status > 100 && !ringing && state === 'ringing') {
          ringing = true;
          record.progress();
        }
      },
      offered: () => undefined,
      settled: (best) => end(best.status, 'caller', undefined),
      settingUp: () => state === 'ringing',
      over: () => state !== 'ringing',
      run,
    },
  );

  let offer: Buffer;
  try {
    offer = await media.offer('callee', PLACEHOLDER_SDP);
  } catch (err) {
    deps.warn({ err, callId: command.callId }, 'media relay refused the offer of a placed call');
    end(503, 'system', 'media relay failed');
    return;
  }
  if (state !== 'ringing') return;
  hooks.track(command.callId, { end: (by, reason) => end(487, by, reason) });
  ring.timer = setTimeout(() => end(480, 'system', RING_TIMEOUT), ringMs);
  ring.timer.unref();
  targets.start(from.forks, from.kind === 'user' ? 'parallel' : 'sequential', offer);
}

/**
 * The INVITE `from` would have sent had it dialled `to` itself: in its dialog with us (its tag as the From
 * tag, ours as the transaction's To tag), with its answer as the offer.
 */
function inviteOf(leg: CalleeLeg, dialog: Dialog, sdp: Buffer, fromUri: string, to: string): SipRequest {
  return {
    kind: 'request',
    method: 'INVITE',
    uri: to,
    version: 'SIP/2.0',
    headers: [
      { name: 'From', value: `<${fromUri}>;tag=${dialog.id.remoteTag}` },
      { name: 'To', value: `<${to}>` },
      { name: 'Call-ID', value: leg.callId },
      { name: 'CSeq', value: '1 INVITE' },
      { name: 'Max-Forwards', value: '70' },
      { name: 'Content-Type', value: 'application/sdp' },
    ],
    body: sdp,
    callId: leg.callId,
    cseq: { seq: 1, method: 'INVITE' },
    fromTag: dialog.id.remoteTag,
    topVia: '',
  };
}

/** The server transaction a placed caller has none of: its tag is ours in the dialog; it sends nothing. */
function standIn(toTag: string): ServerTransaction {
  return {
    request: undefined,
    state: 'terminated',
    toTag,
    respond: () => undefined,
    receive: () => 'absorbed',
    acknowledged: () => undefined,
    terminate: () => undefined,
  };
}
