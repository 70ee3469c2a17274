import { channel } from 'node:diagnostics_channel';
import type {
  InboundContext,
  ServerTransaction,
  SipRequest,
  SipResponse,
  TransportName,
} from '../sip/index.js';
import {
  CALL_EVENTS_STREAM,
  encodeCallEvent,
  type CallEvent,
  type SipUserRepository,
  type TenantRepository,
} from '../store/index.js';
import type { SharedState } from '../store/shared-state/index.js';
import { B2buaCall, type CallSettings, type ForkTarget } from './b2bua-call.js';
import type { MediaAnchor } from './media-anchor.js';
import { addressOfRecord } from './registrar.js';
import type { SipAuthenticator } from './sip-authenticator.js';
import type { LegTarget, SipOutbound } from './sip-outbound.js';

/** Tracing hook: every call event (started, answered, ended) as the gateway publishes it. */
export const callEventChannel = channel('voxgate:gateway:call-event');
/** Tracing hook: a call refused before it was offered anywhere (`CallRefusedEvent`). */
export const callRefusedChannel = channel('voxgate:gateway:call-refused');

export interface CallRefusedEvent {
  status: number;
  reason: 'tenant-concurrent-limit' | 'tenant-rate-limit' | 'not-found' | 'unavailable' | 'media';
}

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
  /** Calls in progress in this process. */
  readonly activeCalls: number;
  /** Waits for calls to end until `deadline` (epoch ms), then ends the rest. */
  drain(deadline: number): Promise<void>;
}

export interface B2buaDeps {
  auth: SipAuthenticator;
  tenants: Pick<TenantRepository, 'findByDomain'>;
  users: Pick<SipUserRepository, 'findCredentials'>;
  state: Pick<SharedState, 'registrations' | 'calls' | 'counters' | 'events'>;
  outbound: SipOutbound;
  media: MediaAnchor;
  settings: CallSettings;
  /** This instance's name, recorded in live calls and events. */
  gatewayId: string;
  warn(detail: Record<string, unknown>, message: string): void;
}

function uriUser(uri: string): string | undefined {
  const m = /^(?:sips?|tel):([^@;?]+)/i.exec(uri);
  return m?.[1];
}

function targetOf(inbound: InboundContext): LegTarget {
  return {
    transport: inbound.transport,
    address: inbound.remote.address,
    port: inbound.remote.port,
    ...(inbound.flowId ? { flowId: inbound.flowId } : {}),
  };
}

/**
 * The gateway's B2BUA: authenticates callers (407, §22.3), finds where a call goes (the callee's registered
 * contacts), applies the tenant's limits, and runs each call as a `B2buaCall`. Calls are indexed by both
 * legs' Call-IDs for in-dialog requests; live calls and events go to shared state.
 */
export function createB2bua(deps: B2buaDeps): B2bua {
  const byCallerCallId = new Map<string, B2buaCall>();
  const byCalleeCallId = new Map<string, B2buaCall>();
  const byInviteTx = new Map<ServerTransaction, B2buaCall>();
  const idle: (() => void)[] = [];

  const publish = (event: CallEvent) => {
    if (callEventChannel.hasSubscribers) callEventChannel.publish(event);
    deps.state.events
      .publish(CALL_EVENTS_STREAM, encodeCallEvent(event))
      .catch((err: unknown) => deps.warn({ err, callId: event.callId }, 'call event not published'));
    const live = {
      callId: event.callId,
      tenantId: event.tenantId,
      from: event.from,
      to: event.to,
      startedAt: event.startedAt,
      gateway: deps.gatewayId,
    };
    const write =
      event.type === 'started'
        ? deps.state.calls.put({ ...live, state: 'setup' })
        : event.type === 'answered'
          ? deps.state.calls.put({ ...live, state: 'answered', answeredAt: event.answeredAt })
          : deps.state.calls.remove(event.callId);
    write.catch((err: unknown) => deps.warn({ err, callId: event.callId }, 'live call not recorded'));
  };

  const refuse = (
    tx: ServerTransaction,
    status: number,
    reasonPhrase: string,
    reason: CallRefusedEvent['reason'],
    warning?: string,
  ) => {
    if (callRefusedChannel.hasSubscribers)
      callRefusedChannel.publish({ status, reason } satisfies CallRefusedEvent);
    tx.respond(status, reasonPhrase, {
      ...(warning ? { Warning: `399 voxgate "${warning}"` } : {}),
      ...(status === 503 ? { 'Retry-After': '1' } : {}),
    });
  };

  return {
    get activeCalls() {
      return byCallerCallId.size;
    },

    async invite(request, tx, inbound) {
      const fromAor = addressOfRecord(request.headers.find((h) => h.name === 'From')?.value ?? '');
      if (!fromAor) {
        tx.respond(400, 'Bad Request', { Warning: '399 voxgate "From must be a sip: or sips: URI"' });
        return;
      }
      const domain = fromAor.slice(fromAor.indexOf('@') + 1);
      // §22.3: a B2BUA acting for its users challenges the caller with 407; the realm is the tenant's domain.
      const caller = await deps.auth.authenticate(
        request,
        tx.respond.bind(tx),
        inbound.remote.address,
        domain,
        'proxy',
      );
      if (!caller) return;
      const tenant = await deps.tenants.findByDomain(domain);
      if (!tenant || tenant.status !== 'active') {
        tx.respond(403, 'Forbidden', { Warning: '399 voxgate "Tenant suspended"' });
        return;
      }

      const calleeUser = uriUser(request.uri);
      if (!calleeUser) {
        tx.respond(416, 'Unsupported URI Scheme');
        return;
      }
      const calleeAor = `sip:${calleeUser}@${tenant.sipDomain}`;
      const bindings = await deps.state.registrations.list(calleeAor);
      if (bindings.length === 0) {
        const exists = await deps.users.findCredentials(tenant.sipDomain, calleeUser);
        if (exists?.enabled)
          refuse(tx, 480, 'Temporarily Unavailable', 'unavailable', 'The user is not registered');
        else refuse(tx, 404, 'Not Found', 'not-found');
        return;
      }

      if (tenant.maxCallsPerSecond !== null) {
        const rate = await deps.state.counters.hit(`gateway:cps:${tenant.id}`, 1);
        if (rate > tenant.maxCallsPerSecond) {
          refuse(tx, 503, 'Service Unavailable', 'tenant-rate-limit', 'Tenant call rate limit reached');
          return;
        }
      }
      if (tenant.maxConcurrentCalls !== null) {
        const active = await deps.state.calls.count(tenant.id);
        if (active >= tenant.maxConcurrentCalls) {
          refuse(
            tx,
            503,
            'Service Unavailable',
            'tenant-concurrent-limit',
            'Tenant concurrent call limit reached',
          );
          return;
        }
      }
      if (tx.state !== 'proceeding' || byCallerCallId.has(request.callId)) return; // cancelled meanwhile

      // §16.6-like forking to every registered contact, through the flow each registered on (RFC 5626).
      const to = `<${calleeAor}>`;
      const forks: ForkTarget[] = bindings.map((b) => ({
        uri: b.contact,
        to,
        target: {
          transport: (b.transport === 'ws' || b.transport === 'wss' ? 'tcp' : b.transport) as TransportName,
          address: b.source.address,
          port: b.source.port,
          ...(b.flowId ? { flowId: b.flowId } : {}),
        },
      }));
      const media = deps.media.open({
        callId: request.callId,
        callerTag: request.fromTag ?? '',
        calleeTag: tx.toTag,
      });
      const call: B2buaCall = new B2buaCall(
        request,
        tx,
        targetOf(inbound),
        { tenantId: tenant.id, direction: 'internal', from: fromAor, to: calleeAor, gateway: deps.gatewayId },
        deps.outbound,
        media,
        deps.settings,
        {
          registerLeg: (callId) => byCalleeCallId.set(callId, call),
          event: publish,
          ended: () => {
            byCallerCallId.delete(call.callId);
            byInviteTx.delete(tx);
            for (const id of call.legCallIds) byCalleeCallId.delete(id);
            if (byCallerCallId.size === 0) for (const wake of idle.splice(0)) wake();
          },
          warn: deps.warn,
        },
      );
      byCallerCallId.set(request.callId, call);
      byInviteTx.set(tx, call);
      await call.start(forks);
    },

    inDialog(request, tx) {
      const asCaller = byCallerCallId.get(request.callId);
      if (asCaller && request.toTag === asCaller.callerTags.local) {
        void asCaller.inDialog('caller', request, tx);
        return true;
      }
      const asCallee = byCalleeCallId.get(request.callId);
      if (asCallee?.sideOf(request.callId) === 'callee') {
        void asCallee.inDialog('callee', request, tx);
        return true;
      }
      return false;
    },

    ack(request) {
      const asCaller = byCallerCallId.get(request.callId);
      if (asCaller) {
        void asCaller.ack('caller', request);
        return;
      }
      const asCallee = byCalleeCallId.get(request.callId);
      if (asCallee) void asCallee.ack('callee', request);
    },

    cancel(invite) {
      const call = byInviteTx.get(invite);
      if (call) call.cancel();
      // Still authenticating or looking up the callee: §9.2 "the UAS … SHOULD respond to the INVITE with a
      // 487"; the routing sees the transaction is no longer proceeding and stops.
      else if (invite.state === 'proceeding') invite.respond(487, 'Request Terminated');
    },

    strayResponse(response) {
      if (response.status < 200 || response.status >= 300 || response.cseq.method !== 'INVITE') return;
      byCalleeCallId.get(response.callId)?.stray2xx(response);
    },

    async drain(deadline) {
      if (byCallerCallId.size > 0) {
        await Promise.race([
          new Promise<void>((resolve) => idle.push(resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref()),
        ]);
      }
      for (const call of [...byCallerCallId.values()]) call.hangup('system', 'gateway shutting down');
    },
  };
}
