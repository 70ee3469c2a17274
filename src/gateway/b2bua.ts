import { channel } from 'node:diagnostics_channel';
import {
  uriOf,
  type InboundContext,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
} from '../sip/index.js';
import {
  CALL_EVENTS_STREAM,
  encodeCallEvent,
  type CallEvent,
  type SipUserRepository,
  type Tenant,
  type TenantRepository,
} from '../store/index.js';
import type { Binding, SharedState } from '../store/shared-state/index.js';
import {
  B2buaCall,
  dispositionOf,
  type CallIdentity,
  type CallSettings,
  type ForkMode,
  type ForkTarget,
} from './b2bua-call.js';
import {
  asE164,
  normalizeNumber,
  selectRoute,
  type GatewayTrunk,
  type RoutingDirectory,
} from './call-routing.js';
import type { MediaAnchor } from './media-anchor.js';
import { peerHopHeader, verifyPeerHop } from './peer-hop.js';
import { addressOfRecord } from './registrar.js';
import type { SipAuthenticator } from './sip-authenticator.js';
import { bindingTarget, type LegTarget, type SipOutbound } from './sip-outbound.js';

/** Tracing hook: every call event (started, answered, ended) as the gateway publishes it. */
export const callEventChannel = channel('voxgate:gateway:call-event');
/** Tracing hook: a call refused before it was offered anywhere (`CallRefusedEvent`). */
export const callRefusedChannel = channel('voxgate:gateway:call-refused');

export interface CallRefusedEvent {
  status: number;
  reason:
    | 'tenant-concurrent-limit'
    | 'tenant-rate-limit'
    | 'user-concurrent-limit'
    | 'trunk-concurrent-limit'
    | 'not-found'
    | 'unavailable'
    | 'media';
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
  /** Forgets every call at once, sending nothing (the listeners are about to close). */
  close(): void;
}

export interface B2buaDeps {
  auth: SipAuthenticator;
  tenants: Pick<TenantRepository, 'findByDomain'>;
  users: Pick<SipUserRepository, 'findCredentials'>;
  state: Pick<SharedState, 'registrations' | 'calls' | 'counters' | 'events'>;
  outbound: SipOutbound;
  media: MediaAnchor;
  /** This instance's advertised SIP address (host:port), as registrations record it. */
  self?: () => string;
  /** The secret replicas share, signing calls one replica sends through another (peer-hop.ts). */
  peerSecret?: Buffer;
  /** Trunks, numbers and routes; without it only user-to-user calls are routed. */
  routing?: RoutingDirectory;
  /** Whether a trunk is in routing (its OPTIONS health check passes); default: always. */
  trunkUp?: (trunkId: string) => boolean;
  settings: CallSettings;
  /** This instance's name, recorded in live calls and events. */
  gatewayId: string;
  warn(detail: Record<string, unknown>, message: string): void;
}

/**
 * Who a refused call attempt was, once the caller is known (authenticated, or a recognised trunk): such an
 * attempt is recorded like any call, so that CDRs count every attempt (ASR) and say why it failed.
 */
type Attempt = Omit<CallIdentity, 'gateway'>;

/** Why a refused attempt's record says it failed, by refusal reason. */
const REFUSAL_TEXT: Record<CallRefusedEvent['reason'], string> = {
  'tenant-concurrent-limit': 'tenant concurrent call limit',
  'tenant-rate-limit': 'tenant call rate limit',
  'user-concurrent-limit': 'user concurrent call limit',
  'trunk-concurrent-limit': 'trunk concurrent call limit',
  'not-found': 'not found',
  unavailable: 'not registered',
  media: 'media relay failed',
};

/**
 * Publishes a call event: on the tracing hook, onto the call-events stream (the worker writes CDRs from it),
 * and into the live calls of shared state — except for a refused attempt, which never was a live call.
 */
function publishCallEvent(deps: B2buaDeps, event: CallEvent): void {
  if (callEventChannel.hasSubscribers) callEventChannel.publish(event);
  deps.state.events
    .publish(CALL_EVENTS_STREAM, encodeCallEvent(event))
    .catch((err: unknown) => deps.warn({ err, callId: event.callId }, 'call event not published'));
  if (event.refused) return;
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
}

/** The record of an attempt that ended before it was offered anywhere. */
function recordAttempt(
  deps: B2buaDeps,
  request: SipRequest,
  attempt: Attempt,
  ended: { status: number; reason: string; limited?: boolean; hangupBy?: CallEvent['hangupBy'] },
): void {
  const now = Date.now();
  publishCallEvent(deps, {
    type: 'ended',
    callId: request.callId,
    ...attempt,
    startedAt: now,
    endedAt: now,
    disposition: ended.limited ? 'limited' : dispositionOf(ended.status),
    sipCode: ended.status,
    hangupBy: ended.hangupBy ?? 'system',
    reason: ended.reason,
    refused: true,
    gateway: deps.gatewayId,
  });
}

/** How long a drain waits, after ending the calls still up, for their ended events. */
const ENDED_EVENTS_WAIT_MS = 3000;

/** §21.4.18 480: the callee exists but has no registered contact. */
const NOT_REGISTERED = {
  status: 480,
  phrase: 'Temporarily Unavailable',
  reason: 'unavailable',
  warning: 'The user is not registered',
} as const;

/**
 * Refuses a call before it rings anywhere: counted by reason, and — when the caller is known (`attempt`) —
 * recorded with its code and reason.
 */
function refuse(
  deps: B2buaDeps,
  request: SipRequest,
  tx: ServerTransaction,
  refusal: { status: number; phrase: string; reason: CallRefusedEvent['reason']; warning?: string },
  attempt?: Attempt,
): void {
  const { status, reason, warning } = refusal;
  if (callRefusedChannel.hasSubscribers)
    callRefusedChannel.publish({ status, reason } satisfies CallRefusedEvent);
  tx.respond(status, refusal.phrase, {
    ...(warning ? { Warning: `399 voxgate "${warning}"` } : {}),
    ...(status === 503 ? { 'Retry-After': '1' } : {}),
  });
  if (attempt) {
    recordAttempt(deps, request, attempt, {
      status,
      reason: REFUSAL_TEXT[reason],
      limited: reason.endsWith('-limit'),
    });
  }
}

interface CallPlan {
  /** A callee leg another replica sent through this one: no limits, no anchoring, no events (the first
   * replica has them). */
  peerHop?: boolean;
  /** The route says: no media anchoring for this call. */
  mediaBypass?: boolean;
  tenant: Tenant;
  identity: Omit<CallIdentity, 'tenantId' | 'gateway'>;
  forks: ForkTarget[];
  mode: ForkMode;
  /** Concurrent-call limits the call counts against (users, trunks); checked and held for its duration. */
  limits: Limit[];
}

interface Limit {
  key: string;
  max: number;
  status: number;
  reasonPhrase: string;
  reason: CallRefusedEvent['reason'];
  warning: string;
}

const userLimit = (userId: string, max: number | null | undefined, as: 'caller' | 'callee'): Limit[] =>
  max === null || max === undefined
    ? []
    : [
        {
          key: `gateway:active:user:${userId}`,
          max,
          // A caller at its limit may not place the call (403); a callee at its limit is busy (486).
          status: as === 'caller' ? 403 : 486,
          reasonPhrase: as === 'caller' ? 'Forbidden' : 'Busy Here',
          reason: 'user-concurrent-limit',
          warning: 'User concurrent call limit reached',
        },
      ];

const trunkLimit = (trunk: GatewayTrunk): Limit[] =>
  trunk.maxConcurrentCalls === null || trunk.maxConcurrentCalls === undefined
    ? []
    : [
        {
          key: `gateway:active:trunk:${trunk.id}`,
          max: trunk.maxConcurrentCalls,
          status: 503,
          reasonPhrase: 'Service Unavailable',
          reason: 'trunk-concurrent-limit',
          warning: 'Trunk concurrent call limit reached',
        },
      ];

/**
 * A user's registered contacts as fork targets: through the flow each registered on (RFC 5626) when it came
 * through this replica, else through the replica it came through, with a signed peer hop.
 */
function contactsOf(deps: B2buaDeps, bindings: readonly Binding[], aor: string): ForkTarget[] {
  const self = deps.self?.();
  return bindings.map((b) => {
    const peer =
      b.gateway && self && deps.peerSecret && b.gateway !== self ? splitHostPort(b.gateway) : undefined;
    if (peer && deps.peerSecret) {
      return {
        uri: b.contact,
        to: `<${aor}>`,
        target: { transport: 'udp', address: peer.host, port: peer.port },
        headers: [peerHopHeader(deps.peerSecret, aor)],
      };
    }
    // Its Contact, or its source flow for a UA behind NAT, as the registrar decided (nat-detection.ts).
    return { uri: b.contact, to: `<${aor}>`, target: bindingTarget(b) };
  });
}

const fromValueOf = (request: SipRequest): string =>
  request.headers.find((h) => h.name === 'From')?.value ?? '';

/**
 * Where a redirect (3xx Contact URIs, tried in order) may take a call: a registered user of the caller's
 * tenant (`user@<tenant domain>`), or a number through the tenant's routes and trunks. Never the host a
 * Contact names: following a peer to an arbitrary address would make the gateway an open relay there.
 */
async function redirectTargets(
  deps: B2buaDeps,
  tenant: { id: string; sipDomain: string },
  uris: readonly string[],
  fromValue: string,
): Promise<{ targets: ForkTarget[]; mode: ForkMode } | undefined> {
  for (const uri of uris) {
    const m = /^sips?:([^@;?>]+)@([^;?>:]+)/i.exec(uri);
    if (!m) continue;
    const user = m[1]!;
    if (m[2]!.toLowerCase() === tenant.sipDomain) {
      const creds = await deps.users.findCredentials(tenant.sipDomain, user);
      const aor = `sip:${user}@${tenant.sipDomain}`;
      const bindings = creds?.enabled ? await deps.state.registrations.list(aor) : [];
      if (bindings.length > 0) return { targets: contactsOf(deps, bindings, aor), mode: 'parallel' };
    }
    const number = normalizeNumber(user);
    if (!deps.routing || !/^\+?\d+$/.test(number)) continue;
    const selected = selectRoute(await deps.routing.routes(tenant.id), number);
    const trunks = selected?.route.trunks.filter((t) => deps.trunkUp?.(t.id) ?? true) ?? [];
    if (!selected || trunks.length === 0) continue;
    const { host } = deps.outbound.address(trunks[0]!.transport);
    const from = `<sip:${uriUser(uriOf(fromValue)) ?? 'anonymous'}@${host.includes(':') ? `[${host}]` : host}>`;
    return { targets: trunks.map((t) => trunkTarget(t, selected.dialled, from)), mode: 'sequential' };
  }
  return undefined;
}

function splitHostPort(value: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(value);
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

/** A trunk as the target of an outbound call to `dialled`. */
function trunkTarget(trunk: GatewayTrunk, dialled: string, from: string): ForkTarget {
  const host = trunk.host.includes(':') ? `[${trunk.host}]` : trunk.host;
  const scheme = trunk.transport === 'tls' ? 'sips' : 'sip';
  return {
    uri: `${scheme}:${dialled}@${host}:${trunk.port}${trunk.transport === 'tcp' ? ';transport=tcp' : ''}`,
    to: `<${scheme}:${dialled}@${host}>`,
    from,
    target: { transport: trunk.transport, address: trunk.host, port: trunk.port },
    trunkId: trunk.id,
    ...(trunk.credentials ? { credentials: trunk.credentials } : {}),
  };
}

/**
 * Where an INVITE goes, or undefined when it has been answered already (challenge, 404, 480 …):
 * - from a trunk (matched by source address): the dialled DID rings the user it is assigned to;
 * - from an authenticated user to a user of the tenant: that user's registered contacts, in parallel;
 * - from an authenticated user to anything else: the first matching route's trunks, one after the other.
 */
async function planCall(
  deps: B2buaDeps,
  request: SipRequest,
  tx: ServerTransaction,
  inbound: InboundContext,
): Promise<CallPlan | undefined> {
  const dialledUser = uriUser(request.uri);
  if (!dialledUser) {
    tx.respond(416, 'Unsupported URI Scheme');
    return undefined;
  }
  const fromValue = request.headers.find((h) => h.name === 'From')?.value ?? '';

  const peerAor = deps.peerSecret ? verifyPeerHop(deps.peerSecret, request) : undefined;
  if (peerAor) {
    const self = deps.self?.();
    const contact = uriOf(request.uri);
    const bindings = (await deps.state.registrations.list(peerAor)).filter(
      (b) => b.contact === contact && (!b.gateway || b.gateway === self),
    );
    const tenant = await deps.tenants.findByDomain(peerAor.slice(peerAor.indexOf('@') + 1));
    if (!tenant || bindings.length === 0) {
      refuse(deps, request, tx, {
        status: 480,
        phrase: 'Temporarily Unavailable',
        reason: 'unavailable',
        warning: 'The contact is no longer registered here',
      });
      return undefined;
    }
    return {
      peerHop: true,
      tenant,
      identity: { direction: 'internal', from: uriOf(fromValue), to: peerAor },
      forks: contactsOf({ ...deps, peerSecret: undefined }, bindings, peerAor),
      mode: 'parallel',
      limits: [],
    };
  }

  const trunk = deps.routing ? await deps.routing.trunkBySource(inbound.remote.address) : undefined;
  if (trunk) return inboundPlan(deps, request, tx, trunk, dialledUser);

  const fromAor = addressOfRecord(fromValue);
  if (!fromAor) {
    tx.respond(400, 'Bad Request', { Warning: '399 voxgate "From must be a sip: or sips: URI"' });
    return undefined;
  }
  const domain = fromAor.slice(fromAor.indexOf('@') + 1);
  const tenant = await deps.tenants.findByDomain(domain);
  if (deps.routing && !tenant) {
    // No tenant's domain in From: a trunk on addresses no CIDR of it matches (a PBX, a carrier on changing
    // addresses) authenticates with its credentials; its calls are then routed like any trunk's, by DID.
    const digestTrunk = await deps.auth.authenticateTrunk(
      request,
      tx.respond.bind(tx),
      inbound.remote.address,
    );
    return digestTrunk && inboundPlan(deps, request, tx, digestTrunk, dialledUser);
  }
  // §22.3: a B2BUA acting for its users challenges the caller with 407; the realm is the tenant's domain.
  const caller = await deps.auth.authenticate(
    request,
    tx.respond.bind(tx),
    inbound.remote.address,
    domain,
    'proxy',
  );
  if (!caller) return undefined;
  const calleeAor = `sip:${dialledUser}@${tenant?.sipDomain ?? domain}`;
  if (!tenant || tenant.status !== 'active') {
    tx.respond(403, 'Forbidden', { Warning: '399 voxgate "Tenant suspended"' });
    if (tenant) {
      recordAttempt(
        deps,
        request,
        { tenantId: tenant.id, direction: 'internal', from: fromAor, to: calleeAor },
        { status: 403, reason: 'tenant suspended' },
      );
    }
    return undefined;
  }

  const callee = await deps.users.findCredentials(tenant.sipDomain, dialledUser);
  if (callee?.enabled) {
    const bindings = await deps.state.registrations.list(calleeAor);
    if (bindings.length === 0) {
      refuse(deps, request, tx, NOT_REGISTERED, {
        tenantId: tenant.id,
        direction: 'internal',
        from: fromAor,
        to: calleeAor,
      });
      return undefined;
    }
    return {
      tenant,
      identity: { direction: 'internal', from: fromAor, to: calleeAor },
      forks: contactsOf(deps, bindings, calleeAor),
      mode: 'parallel',
      limits: [
        ...userLimit(caller.userId, caller.maxConcurrentCalls, 'caller'),
        ...userLimit(callee.userId, callee.maxConcurrentCalls, 'callee'),
      ],
    };
  }

  const number = normalizeNumber(dialledUser);
  const selected = deps.routing ? selectRoute(await deps.routing.routes(tenant.id), number) : undefined;
  const trunks = selected?.route.trunks.filter((t) => deps.trunkUp?.(t.id) ?? true) ?? [];
  if (!selected || trunks.length === 0) {
    refuse(
      deps,
      request,
      tx,
      {
        status: 404,
        phrase: 'Not Found',
        reason: 'not-found',
        ...(selected ? { warning: 'No trunk of the route is up' } : {}),
      },
      { tenantId: tenant.id, direction: 'outbound', from: fromAor, to: selected?.dialled ?? number },
    );
    return undefined;
  }
  // The caller's identity towards the carrier: its user part (the caller id) at our address.
  const display = /^\s*("[^"]*"|[^<]*?)\s*</.exec(fromValue)?.[1]?.trim();
  const { host } = deps.outbound.address(trunks[0]!.transport);
  const from = `${display ? `${display} ` : ''}<sip:${caller.username}@${host.includes(':') ? `[${host}]` : host}>`;
  return {
    tenant,
    identity: { direction: 'outbound', from: fromAor, to: selected.dialled, trunkId: trunks[0]!.id },
    forks: trunks.map((t) => trunkTarget(t, selected.dialled, from)),
    mode: 'sequential',
    ...(selected.route.mediaBypass ? { mediaBypass: true } : {}),
    // The call counts against the first trunk tried (a failover does not move the count).
    limits: [...userLimit(caller.userId, caller.maxConcurrentCalls, 'caller'), ...trunkLimit(trunks[0]!)],
  };
}

/** A call from a trunk (matched by source address or digest): the dialled DID rings the user it is assigned to. */
async function inboundPlan(
  deps: B2buaDeps,
  request: SipRequest,
  tx: ServerTransaction,
  trunk: GatewayTrunk,
  dialledUser: string,
): Promise<CallPlan | undefined> {
  const routing = deps.routing;
  if (!routing) return undefined;
  const fromValue = fromValueOf(request);
  // A carrier we register to (trunk-registration.ts) sends its calls to the Contact we registered,
  // sip:<username>@us; the number dialled is then in the To, which §8.1.1.2 says "first and foremost
  // specifies the desired "logical" recipient of the request".
  const toValue = request.headers.find((h) => h.name === 'To')?.value ?? '';
  const registered = trunk.credentials !== undefined && dialledUser === trunk.credentials.username;
  const did = asE164(normalizeNumber((registered ? uriUser(uriOf(toValue)) : undefined) ?? dialledUser));
  const owner = await routing.numberOwner(did);
  const tenant =
    owner?.tenantId === trunk.tenantId ? await deps.tenants.findByDomain(owner.sipDomain) : undefined;
  const attempt: Attempt = {
    tenantId: trunk.tenantId,
    direction: 'inbound',
    from: uriOf(fromValue),
    to: did,
    trunkId: trunk.id,
  };
  if (!owner || !tenant || tenant.status !== 'active') {
    refuse(
      deps,
      request,
      tx,
      { status: 404, phrase: 'Not Found', reason: 'not-found', warning: 'The number is not assigned' },
      attempt,
    );
    return undefined;
  }
  const aor = `sip:${owner.username}@${tenant.sipDomain}`;
  const bindings = await deps.state.registrations.list(aor);
  if (bindings.length === 0) {
    refuse(deps, request, tx, NOT_REGISTERED, attempt);
    return undefined;
  }
  const callee = await deps.users.findCredentials(tenant.sipDomain, owner.username);
  return {
    tenant,
    identity: { direction: 'inbound', from: uriOf(fromValue), to: did, trunkId: trunk.id },
    forks: contactsOf(deps, bindings, aor),
    mode: 'parallel',
    limits: [
      ...trunkLimit(trunk),
      ...userLimit(callee?.userId ?? owner.username, callee?.maxConcurrentCalls, 'callee'),
    ],
  };
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
    ...(inbound.webSocket ? { webSocket: inbound.webSocket } : {}),
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

  const publish = (event: CallEvent) => publishCallEvent(deps, event);

  return {
    get activeCalls() {
      return byCallerCallId.size;
    },

    async invite(request, tx, inbound) {
      const plan = await planCall(deps, request, tx, inbound);
      if (!plan) return;
      const { tenant } = plan;
      // A peer hop is the first replica's call: recorded there.
      const attempt: Attempt | undefined = plan.peerHop
        ? undefined
        : { ...plan.identity, tenantId: tenant.id };
      if (!plan.peerHop && tenant.maxCallsPerSecond !== null) {
        const rate = await deps.state.counters.hit(`gateway:cps:${tenant.id}`, 1);
        if (rate > tenant.maxCallsPerSecond) {
          refuse(
            deps,
            request,
            tx,
            {
              status: 503,
              phrase: 'Service Unavailable',
              reason: 'tenant-rate-limit',
              warning: 'Tenant call rate limit reached',
            },
            attempt,
          );
          return;
        }
      }
      if (!plan.peerHop && tenant.maxConcurrentCalls !== null) {
        const active = await deps.state.calls.count(tenant.id);
        if (active >= tenant.maxConcurrentCalls) {
          refuse(
            deps,
            request,
            tx,
            {
              status: 503,
              phrase: 'Service Unavailable',
              reason: 'tenant-concurrent-limit',
              warning: 'Tenant concurrent call limit reached',
            },
            attempt,
          );
          return;
        }
      }
      // §9.2: cancelled while it was planned (the CANCEL answered the INVITE 487).
      const cancelledMeanwhile = () => {
        if (attempt)
          recordAttempt(deps, request, attempt, { status: 487, reason: 'cancelled', hangupBy: 'caller' });
      };
      if (byCallerCallId.has(request.callId)) return; // a second INVITE of a call in progress
      if (tx.state !== 'proceeding') {
        cancelledMeanwhile();
        return;
      }
      const ttl = Math.ceil((deps.settings.maxDurationMs + deps.settings.ringTimeoutMs) / 1000) + 60;
      const held: string[] = [];
      const release = () => {
        for (const key of held.splice(0)) {
          deps.state.counters
            .incr(key, -1, ttl)
            .catch((err: unknown) => deps.warn({ err, key }, 'limit not released'));
        }
      };
      for (const limit of plan.limits) {
        const active = await deps.state.counters.incr(limit.key, 1, ttl);
        held.push(limit.key);
        if (active > limit.max) {
          release();
          refuse(
            deps,
            request,
            tx,
            {
              status: limit.status,
              phrase: limit.reasonPhrase,
              reason: limit.reason,
              warning: limit.warning,
            },
            attempt,
          );
          return;
        }
      }
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
            });
      const call: B2buaCall = new B2buaCall(
        request,
        tx,
        targetOf(inbound),
        { ...plan.identity, tenantId: tenant.id, gateway: deps.gatewayId },
        deps.outbound,
        media,
        deps.settings,
        {
          registerLeg: (callId) => byCalleeCallId.set(callId, call),
          event: plan.peerHop ? () => undefined : publish,
          ended: () => {
            release();
            byCallerCallId.delete(call.callId);
            byInviteTx.delete(tx);
            for (const id of call.legCallIds) byCalleeCallId.delete(id);
            if (byCallerCallId.size === 0) for (const wake of idle.splice(0)) wake();
          },
          warn: deps.warn,
          redirect: (uris) => redirectTargets(deps, plan.tenant, uris, fromValueOf(request)),
        },
      );
      byCallerCallId.set(request.callId, call);
      byInviteTx.set(tx, call);
      await call.start(plan.forks, plan.mode);
    },

    inDialog(request, tx) {
      // A request that fails inside the call is answered 500 (§21.5.1) rather than left to time out.
      const failed = (err: unknown) => {
        deps.warn({ err, callId: request.callId, method: request.method }, 'in-dialog request failed');
        tx.respond(500, 'Server Internal Error');
      };
      const asCaller = byCallerCallId.get(request.callId);
      if (asCaller && request.toTag === asCaller.callerTags.local) {
        asCaller.inDialog('caller', request, tx).catch(failed);
        return true;
      }
      const asCallee = byCalleeCallId.get(request.callId);
      if (asCallee?.sideOf(request.callId) === 'callee') {
        asCallee.inDialog('callee', request, tx).catch(failed);
        return true;
      }
      return false;
    },

    ack(request) {
      // An ACK is never answered (§17.2.1): a failure is only reported.
      const failed = (err: unknown) => deps.warn({ err, callId: request.callId }, 'ACK handling failed');
      const asCaller = byCallerCallId.get(request.callId);
      if (asCaller) {
        asCaller.ack('caller', request).catch(failed);
        return;
      }
      const asCallee = byCalleeCallId.get(request.callId);
      if (asCallee) asCallee.ack('callee', request).catch(failed);
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

    close() {
      for (const call of byCallerCallId.values()) call.abandon();
      byCallerCallId.clear();
      byCalleeCallId.clear();
      byInviteTx.clear();
    },

    async drain(deadline) {
      if (byCallerCallId.size > 0) {
        await Promise.race([
          new Promise<void>((resolve) => idle.push(resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref()),
        ]);
      }
      for (const call of [...byCallerCallId.values()]) call.hangup('system', 'gateway shutting down');
      // Each call's ended event is published once the relay has returned its stats: waited for (bounded by
      // the ng timeout) so that the worker, which stops after every drain, can still write their CDRs.
      if (byCallerCallId.size > 0) {
        await Promise.race([
          new Promise<void>((resolve) => idle.push(resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, ENDED_EVENTS_WAIT_MS).unref()),
        ]);
      }
    },
  };
}
