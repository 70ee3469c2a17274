/**
 * The gateway's B2BUA, assembled: an INVITE outside a dialog is planned (`call-planning.ts`: where it goes,
 * after authentication), admitted (`call-admission.ts`: tenant, user and trunk limits) and run as a
 * `B2buaCall` kept in the call table (`call-table.ts`), which also takes the requests and responses of calls
 * in progress. Call events and refusals are recorded by `call-records.ts`.
 */
import {
  header,
  type InboundContext,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
} from '../sip/index.js';
import type { CallEvent, HangupParty, OriginateCommand, RecordingPolicy } from '../store/index.js';
import { B2buaCall, parseReplaces, type CallSettings } from './b2bua-call.js';
import { admitToTenant, holdLimits, type AdmissionDeps } from './call-admission.js';
import { encryptionRefusal, planCall, type CallPlan, type PlanningDeps } from './call-planning.js';
import { redirectTargets } from './call-redirect.js';
import { planTransfer } from './call-transfer.js';
import { publishCallEvent, recordAttempt, refuse, type Attempt } from './call-records.js';
import { createCallTable, type CallTable } from './call-table.js';
import { placeCall, type PlacedCallHandle } from './click-to-call.js';
import type { CallRecording } from './b2bua-call.js';
import type { MediaAnchor, MediaCallRef } from './media-anchor.js';
import { addressOfRecord } from './registrar.js';
import type { LegTarget } from './sip-outbound.js';

export { callEventChannel, callRefusedChannel, type CallRefusedEvent } from './call-records.js';

export interface B2bua {
  /** An INVITE outside any dialog, after the §8.2 checks. */
  invite(request: SipRequest, tx: ServerTransaction, inbound: InboundContext): Promise<void>;
  /** A request with a To tag: true when it belonged to a call (and was handled). */
  inDialog(request: SipRequest, tx: ServerTransaction): boolean;
  /** An ACK without a server transaction (the ACK of a 2xx, §13.3.1.4). */
  ack(request: SipRequest): void;
  /** A CANCEL matched to an INVITE server transaction (§9.2). */
  cancel(invite: ServerTransaction): void;
  /** A response that matched no client transaction. */
  strayResponse(response: SipResponse): void;
  /**
   * Ends the call of caller-side Call-ID `callId` held by this process (BYE on both legs, or CANCEL and 487
   * before the answer), recorded as ended by `by` for `reason`; false when it holds no such call.
   */
  end(callId: string, by: HangupParty, reason: string): boolean;
  /**
   * A blind transfer of the live call `callId` held by this process (the API's): the party `stays` is
   * connected to `target`, the other one released. Undefined when it is under way (its outcome is in the
   * call's records), else why not — `404` when no such call is here.
   */
  transfer(
    callId: string,
    stays: 'caller' | 'callee',
    target: string,
  ): Promise<{ status: number; warning: string } | undefined>;
  /**
   * Starts (`on`) or stops recording the live call `callId` held by this process (the API's): undefined when
   * done, else why not — `404` when no such call is here, `409` when its policy is `off` or the relay refused.
   */
  record(callId: string, on: boolean): Promise<{ status: number; warning: string } | undefined>;
  /**
   * Places a call the API asked for (click-to-call): rings `from`, then connects it to `to`. Resolves once
   * `from` is rung (or the call was refused, and recorded so).
   */
  place(command: OriginateCommand): Promise<void>;
  /** Calls in progress in this process. */
  readonly activeCalls: number;
  /** Waits for calls to end until `deadline` (epoch ms), then ends the rest. */
  drain(deadline: number): Promise<void>;
  /** Forgets every call at once, sending nothing (the listeners are about to close). */
  close(): void;
}

export interface B2buaDeps extends PlanningDeps, AdmissionDeps {
  state: PlanningDeps['state'] & AdmissionDeps['state'];
  media: MediaAnchor;
  settings: CallSettings;
  /** Where the recordings the relay stored are listed (the store, and the `recording.ready` event). */
  recordings?: RecordingSink;
}

/** Lists a recording the relay stored; rejects when it could not (the files stay, unlisted). */
export interface RecordingSink {
  stored(recording: CallRecording): Promise<void>;
}

/**
 * The media profile of each side: a browser (over WebSocket) is `webrtc` whatever its settings; a callee all
 * of whose contacts are browsers is too. Forking to browsers and phones at once sends them one offer: they
 * get the phones' profile (the relay has one SDP per side).
 */
function mediaProfiles(plan: CallPlan, inbound: InboundContext): MediaCallRef['profiles'] {
  const caller = inbound.webSocket ? 'webrtc' : plan.profiles?.caller;
  const browsers = plan.forks.length > 0 && plan.forks.every((f) => f.target.webSocket);
  return {
    ...(caller ? { caller } : {}),
    callee: browsers ? 'webrtc' : (plan.profiles?.callee ?? 'rtp'),
  };
}

/**
 * An INVITE with Replaces (RFC 3891): its sender, authenticated as a user of the tenant whose call it names
 * (407 first, like any call), takes the place of the party of that dialog. §3: "If no match is found, the UAS
 * rejects the INVITE and returns a 481 Call/Transaction Does Not Exist response"; a dialog of another tenant
 * is no match either.
 */
async function replaceDialog(
  deps: B2buaDeps,
  table: CallTable,
  request: SipRequest,
  tx: ServerTransaction,
  inbound: InboundContext,
  value: string,
): Promise<void> {
  const fromAor = addressOfRecord(header(request, 'From') ?? '');
  if (!fromAor) {
    tx.respond(400, 'Bad Request', { Warning: '399 voxgate "From must be a sip: or sips: URI"' });
    return;
  }
  const domain = fromAor.slice(fromAor.indexOf('@') + 1);
  const tenant = await deps.tenants.findByDomain(domain);
  if (!tenant) {
    tx.respond(403, 'Forbidden', { Warning: '399 voxgate "Replaces is accepted from users only"' });
    return;
  }
  const user = await deps.auth.authenticate(
    request,
    tx.respond.bind(tx),
    inbound.remote.address,
    domain,
    'proxy',
  );
  if (!user) return;
  const id = parseReplaces(value);
  if (!id) {
    tx.respond(400, 'Bad Request', { Warning: '399 voxgate "Malformed Replaces"' });
    return;
  }
  const found = table.byDialog(id);
  if (!found || found.call.identity.tenantId !== tenant.id || tenant.status !== 'active') {
    tx.respond(481, 'Call/Transaction Does Not Exist');
    return;
  }
  await found.call.replace(found.side, request, tx, targetOf(inbound), { aor: fromAor });
}

function targetOf(inbound: InboundContext): LegTarget {
  return {
    transport: inbound.transport,
    address: inbound.remote.address,
    port: inbound.remote.port,
    ...(inbound.flowId ? { flowId: inbound.flowId } : {}),
    ...(inbound.webSocket ? { webSocket: inbound.webSocket } : {}),
  };
}

/**
 * The gateway's B2BUA: authenticates callers (407, §22.3), finds where a call goes, applies the limits, and
 * runs each call as a `B2buaCall`. Live calls and events go to shared state.
 */
export function createB2bua(deps: B2buaDeps): B2bua {
  const table = createCallTable(deps.warn);
  /** Placed calls whose first party is being rung (not in the table yet): the API may end them. */
  const placing = new Map<string, PlacedCallHandle>();
  // Live calls being recorded here: every live call written says so (`publishCallEvent`).
  const recordingNow = new Set<string>();
  const recordingPolicy = new Map<string, RecordingPolicy>();
  const recordDeps: B2buaDeps = { ...deps, recording: recordingNow, recordingPolicy };
  const publish = (event: CallEvent) => publishCallEvent(recordDeps, event);
  const recordingChanged = (callId: string, on: boolean) => {
    if (on) recordingNow.add(callId);
    else recordingNow.delete(callId);
    // An ending call's live call is about to go: not written again.
    const call = table.find(callId);
    if (!call || call.hasEnded()) return;
    void (async () => {
      const live = await deps.state.calls.get(callId);
      if (live && !table.find(callId)?.hasEnded()) await deps.state.calls.put({ ...live, recording: on });
    })().catch((err: unknown) => deps.warn({ err, callId }, 'live call recording state not written'));
  };
  const recorded = (recording: CallRecording) => {
    if (!deps.recordings) return;
    deps.recordings
      .stored(recording)
      .catch((err: unknown) =>
        deps.warn({ err, callId: recording.callId, keys: recording.keys }, 'recording stored but not listed'),
      );
  };

  return {
    get activeCalls() {
      return table.size;
    },

    async invite(request, tx, inbound) {
      const replaces = header(request, 'Replaces');
      if (replaces !== undefined) {
        await replaceDialog(deps, table, request, tx, inbound, replaces);
        return;
      }
      const plan = await planCall(deps, request, tx, inbound);
      if (!plan) return;
      const { tenant } = plan;
      // A peer hop is the first replica's call: limited and recorded there.
      const attempt: Attempt | undefined = plan.peerHop
        ? undefined
        : { ...plan.identity, tenantId: tenant.id };
      const encryption = encryptionRefusal(plan.profiles?.caller, request.body);
      if (encryption) {
        refuse(deps, request, tx, encryption, attempt);
        return;
      }
      if (!plan.peerHop && !(await admitToTenant(deps, request, tx, tenant, attempt))) return;
      // §9.2: cancelled while it was planned (the CANCEL answered the INVITE 487).
      const cancelledMeanwhile = () => {
        if (attempt)
          recordAttempt(deps, request, attempt, { status: 487, reason: 'cancelled', hangupBy: 'caller' });
      };
      if (table.has(request.callId)) return; // a second INVITE of a call in progress
      if (tx.state !== 'proceeding') {
        cancelledMeanwhile();
        return;
      }
      const release = await holdLimits(deps, request, tx, plan.limits, attempt);
      if (!release) return;
      if (tx.state !== 'proceeding') {
        release();
        cancelledMeanwhile();
        return;
      }

      const media =
        plan.peerHop || plan.mediaBypass
          ? undefined
          : deps.media.open({
              callId: request.callId,
              callerTag: request.fromTag ?? '',
              calleeTag: tx.toTag,
              // Callees get plain RTP unless their mediaEncryption says sdes: carriers speak it, and a plain
              // phone refuses an RTP/SAVP offer (488) while every phone takes RTP/AVP. An SRTP caller keeps
              // SRTP up to the relay, which bridges. Browsers (SIP over WebSocket, RFC 7118) get WebRTC:
              // DTLS-SRTP, ICE and rtcp-mux, ended at the relay.
              profiles: mediaProfiles(plan, inbound),
              ...(plan.recording === 'always' ? { record: true } : {}),
            });
      if (!plan.peerHop) recordingPolicy.set(request.callId, plan.recording ?? 'off');
      const call = table.add(
        request.callId,
        tx,
        release,
        (hooks) =>
          new B2buaCall(
            request,
            tx,
            targetOf(inbound),
            {
              ...plan.identity,
              tenantId: tenant.id,
              gateway: deps.gatewayId,
              ...(plan.recording ? { recording: plan.recording } : {}),
            },
            deps.outbound,
            media,
            deps.settings,
            {
              ...hooks,
              event: plan.peerHop ? () => undefined : publish,
              recordingChanged,
              recorded,
              warn: deps.warn,
              redirect: (uris) => redirectTargets(deps, tenant, uris, request),
              // A peer hop's REFER goes on to the replica that holds the call.
              ...(plan.peerHop
                ? {}
                : {
                    transfer: (ask) => planTransfer(deps, tenant, ask),
                    dialog: (id) => {
                      const found = table.byDialog(id);
                      return found?.call.identity.tenantId === tenant.id ? found : undefined;
                    },
                  }),
            },
          ),
      );
      await call.start(plan.forks, plan.mode);
    },

    inDialog: (request, tx) => table.inDialog(request, tx),
    ack: (request) => table.ack(request),
    cancel: (invite) => table.cancel(invite),
    strayResponse: (response) => table.strayResponse(response),
    end(callId, by, reason) {
      const placed = placing.get(callId);
      if (!placed) return table.end(callId, by, reason);
      placed.end(by, reason);
      return true;
    },
    place: (command) =>
      placeCall(recordDeps, command, {
        track: (callId, handle) => (handle ? placing.set(callId, handle) : placing.delete(callId)),
        async connect(answer) {
          const { tenant, invite } = answer;
          const call = table.add(
            invite.callId,
            answer.tx,
            answer.release,
            (hooks) =>
              new B2buaCall(
                invite,
                answer.tx,
                answer.target,
                answer.identity,
                deps.outbound,
                answer.media,
                answer.settings,
                {
                  ...hooks,
                  event: publish,
                  recordingChanged,
                  recorded,
                  warn: deps.warn,
                  redirect: (uris) => redirectTargets(deps, tenant, uris, invite),
                  transfer: (ask) => planTransfer(deps, tenant, ask),
                  dialog: (id) => {
                    const found = table.byDialog(id);
                    return found?.call.identity.tenantId === tenant.id ? found : undefined;
                  },
                },
                { dialog: answer.dialog, record: answer.record },
              ),
          );
          await call.start(answer.forks, answer.mode);
        },
      }),
    async transfer(callId, stays, target) {
      const call = table.find(callId);
      if (!call || call.hasEnded()) return { status: 404, warning: `No call ${callId} here` };
      return call.transferByApi(stays, target);
    },
    async record(callId, on) {
      const call = table.find(callId);
      if (!call || call.hasEnded()) return { status: 404, warning: `No call ${callId} here` };
      const refused = await call.setRecording(on);
      return refused ? { status: 409, warning: refused } : undefined;
    },
    close: () => table.close(),
    drain: (deadline) => table.drain(deadline),
  };
}
