/**
 * Call planning: where an INVITE outside a dialog goes, or its refusal. A call another replica sends through
 * this one (signed peer hop) goes to the contact it names; a call from a trunk (by source CIDR, or by digest
 * with the trunk's credentials) rings the user its DID is assigned to; a call from an authenticated user rings
 * the dialled user's registered contacts, or — for a number — goes through the tenant's first matching route
 * to its trunks. The same route → trunks → From step serves a 3xx followed to a number (`call-redirect.ts`).
 */
import {
  formatHost,
  formatNameAddr,
  fromOf,
  parseHostPort,
  requestUriOf,
  SipParseError,
  uriOf,
  uriUser,
  type InboundContext,
  type KeyRing,
  type ServerTransaction,
  type SipRequest,
} from '../sip/index.js';
import { isDtls, offeredStreams, SdpParseError } from '../media/index.js';
import type {
  MediaEncryption,
  RecordingPolicy,
  SipCredentials,
  SipUserRepository,
  Tenant,
  TenantRepository,
} from '../store/index.js';
import type { Binding, SharedState } from '../store/shared-state/index.js';
import type { CallIdentity, ForkMode, ForkTarget } from './b2bua-call.js';
import { trunkLimit, userLimit, type Limit } from './call-admission.js';
import {
  asE164,
  normalizeNumber,
  selectRoute,
  type GatewayRoute,
  type GatewayTrunk,
  type RoutingDirectory,
} from './call-routing.js';
import {
  NOT_REGISTERED,
  recordAttempt,
  refuse,
  type Attempt,
  type CallRecordDeps,
  type Refusal,
} from './call-records.js';
import type { MediaProfile } from './media-anchor.js';
import { peerHopHeader, verifyPeerHop } from './peer-hop.js';
import { addressOfRecord } from './registrar.js';
import type { SipAuthenticator } from './sip-authenticator.js';
import { bindingTarget, type LegTarget, type SipOutbound } from './sip-outbound.js';
import type { TrunkLocator } from './trunk-locator.js';

export interface PlanningDeps extends CallRecordDeps {
  auth: SipAuthenticator;
  tenants: Pick<TenantRepository, 'findByDomain'>;
  users: Pick<SipUserRepository, 'findCredentials'>;
  state: Pick<SharedState, 'registrations' | 'calls' | 'events'>;
  outbound: SipOutbound;
  /** This instance's advertised SIP address (host:port), as registrations record it. */
  self?: () => string;
  /** The secret replicas share, signing calls one replica sends through another (peer-hop.ts); a ring when rotated. */
  peerSecret?: Buffer | KeyRing;
  /** Trunks, numbers and routes; without it only user-to-user calls are routed. */
  routing?: RoutingDirectory;
  /** Whether a trunk is in routing (its OPTIONS health check passes); default: always. */
  trunkUp?: (trunkId: string) => boolean;
  /** Where a trunk's requests go (RFC 3263, `trunk-locator.ts`); default: its host and port as written. */
  locateTrunk?: TrunkLocator;
}

export interface CallPlan {
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
  /**
   * The media each side gets from the relay, from the `mediaEncryption` of the parties: the callee's — the
   * dialled user's (all its contacts alike), or the route's unless `auto`, else the first trunk's — and `srtp`
   * for a caller (user or trunk) that requires it, whose plain offer is refused (`offersPlainRtp`).
   */
  profiles?: { readonly caller?: MediaProfile; readonly callee: MediaProfile };
  /** Whether the call is recorded (`recordingPolicy`): `always` from its first offer, `on-demand` by the API. */
  recording?: RecordingPolicy;
}

const RECORDING_STRENGTH: Record<RecordingPolicy, number> = { off: 0, 'on-demand': 1, always: 2 };

/**
 * The recording policy of a call: the most specific one set wins — the calling or called user's, the route's
 * (the strongest of those set: `always`, then `on-demand`, then `off`) — else the tenant's.
 */
export function recordingPolicy(
  tenant: RecordingPolicy | undefined,
  specific: readonly (RecordingPolicy | null | undefined)[],
): RecordingPolicy {
  let chosen: RecordingPolicy | undefined;
  for (const p of specific) {
    if (p && (chosen === undefined || RECORDING_STRENGTH[p] > RECORDING_STRENGTH[chosen])) chosen = p;
  }
  return chosen ?? tenant ?? 'off';
}

/** §21.4.26 488: a caller that must send SRTP (`mediaEncryption: sdes`) offered plain RTP. */
export const SRTP_REQUIRED = {
  status: 488,
  phrase: 'Not Acceptable Here',
  reason: 'media-encryption',
  warning: 'SRTP (RTP/SAVP with a=crypto) is required of this caller; the offer is plain RTP/AVP',
} as const satisfies Refusal;

/** §21.4.26 488: a caller that must send DTLS-SRTP (`mediaEncryption: dtls`) offered something else. */
export const DTLS_REQUIRED = {
  status: 488,
  phrase: 'Not Acceptable Here',
  reason: 'media-encryption',
  warning: 'DTLS-SRTP (UDP/TLS/RTP/SAVP with a=fingerprint) is required of this caller; the offer is not',
  recorded: 'DTLS-SRTP required',
} as const satisfies Refusal;

/** The profile a party is offered: SRTP for `sdes`, DTLS-SRTP for `dtls`, plain RTP for `none` and `auto`. */
const offeredTo = (setting: MediaEncryption | undefined): MediaProfile =>
  setting === 'sdes' ? 'srtp' : setting === 'dtls' ? 'webrtc' : 'rtp';

/** The profiles of a call: the callee's, and the caller's when it requires SRTP or DTLS-SRTP. */
function profilesOf(caller: MediaEncryption | undefined, callee: MediaProfile): CallPlan['profiles'] {
  const required = caller === 'sdes' || caller === 'dtls' ? offeredTo(caller) : undefined;
  return { ...(required ? { caller: required } : {}), callee };
}

/**
 * Why a caller's offer is refused for its encryption (its `mediaEncryption` requires what the offer lacks), or
 * undefined. A late offer (no body) is never refused: the relay offers the caller its profile.
 */
export function encryptionRefusal(required: MediaProfile | undefined, body: Buffer): Refusal | undefined {
  if (required === 'srtp' && offersPlainRtp(body)) return SRTP_REQUIRED;
  if (required === 'webrtc' && offersUnlessDtls(body)) return DTLS_REQUIRED;
  return undefined;
}

/** Whether an offer has a stream in use that is not DTLS-SRTP. */
function offersUnlessDtls(body: Buffer): boolean {
  if (body.length === 0) return false;
  try {
    return offeredStreams(body.toString('latin1')).some((s) => !s.disabled && !isDtls(s));
  } catch (err) {
    if (err instanceof SdpParseError) return false;
    throw err;
  }
}

/**
 * Whether an INVITE's offer has an RTP stream in use with a plain profile (RTP/AVP, RTP/AVPF). No body (a late
 * offer: the relay then offers the caller its profile) or a body that is no SDP is not such an offer.
 */
export function offersPlainRtp(body: Buffer): boolean {
  if (body.length === 0) return false;
  try {
    return offeredStreams(body.toString('latin1')).some(
      (s) => !s.disabled && ['RTP/AVP', 'RTP/AVPF'].includes(s.protocol.toUpperCase()),
    );
  } catch (err) {
    if (err instanceof SdpParseError) return false;
    throw err;
  }
}

/** The Request-URI's scheme, lower-cased; undefined when it does not parse (§8.2 has answered such a one). */
function schemeOf(request: SipRequest): string | undefined {
  try {
    return requestUriOf(request).scheme;
  } catch (err) {
    if (err instanceof SipParseError) return undefined;
    throw err;
  }
}

/**
 * A user's registered contacts as fork targets: through the flow each registered on (RFC 5626) when it came
 * through this replica, else through the replica it came through, with a signed peer hop.
 */
export function contactsOf(deps: PlanningDeps, bindings: readonly Binding[], aor: string): ForkTarget[] {
  const self = deps.self?.();
  return bindings.map((b) => {
    const peer =
      b.gateway && self && deps.peerSecret && b.gateway !== self ? parseHostPort(b.gateway) : undefined;
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

/** A trunk as the target of an outbound call to `dialled`, sent to `target` (one of its located addresses). */
function trunkTarget(trunk: GatewayTrunk, dialled: string, from: string, target: LegTarget): ForkTarget {
  const host = formatHost(trunk.host);
  const scheme = trunk.transport === 'tls' ? 'sips' : 'sip';
  return {
    uri: `${scheme}:${dialled}@${host}:${trunk.port}${trunk.transport === 'tcp' ? ';transport=tcp' : ''}`,
    to: `<${scheme}:${dialled}@${host}>`,
    from,
    target,
    trunkId: trunk.id,
    ...(trunk.credentials ? { credentials: trunk.credentials } : {}),
  };
}

interface RoutedNumber {
  /** The first of the tenant's routes matching the number, and the number rewritten for it. */
  selected?: { route: GatewayRoute; dialled: string };
  /** The route's trunks in routing (up), in order; empty when there is no route or none is up. */
  trunks: GatewayTrunk[];
  /** The trunks as targets tried one after the other: each trunk's located addresses in order (RFC 3263
   * §4.3: "If an attempt should fail … the next SHOULD be tried"), then the next trunk's. */
  forks: ForkTarget[];
}

/**
 * A number through the tenant's routes: the first matching route, its trunks that are up, and those as
 * targets whose From is the caller's identity towards the carrier — its user part (the caller id) at our
 * address on the first trunk's transport.
 */
export async function routeNumber(
  deps: PlanningDeps,
  tenantId: string,
  number: string,
  caller: { user: string; displayName?: string | undefined },
): Promise<RoutedNumber> {
  const selected = deps.routing ? selectRoute(await deps.routing.routes(tenantId), number) : undefined;
  const trunks = selected?.route.trunks.filter((t) => deps.trunkUp?.(t.id) ?? true) ?? [];
  if (!selected || trunks.length === 0) return { ...(selected ? { selected } : {}), trunks: [], forks: [] };
  const { host } = deps.outbound.address(trunks[0]!.transport);
  const from = formatNameAddr(caller.displayName, `sip:${caller.user}@${formatHost(host)}`);
  const located = await Promise.all(
    trunks.map(async (trunk) => ({
      trunk,
      targets: deps.locateTrunk
        ? await deps.locateTrunk(trunk)
        : [{ transport: trunk.transport, address: trunk.host, port: trunk.port }],
    })),
  );
  const forks = located.flatMap(({ trunk, targets }) =>
    targets.map((target) => trunkTarget(trunk, selected.dialled, from, target)),
  );
  return { selected, trunks, forks };
}

/** A callee leg another replica sent through this one (a signed peer hop) to a contact registered here. */
async function peerHopPlan(
  deps: PlanningDeps,
  request: SipRequest,
  tx: ServerTransaction,
  peerAor: string,
): Promise<CallPlan | undefined> {
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
    identity: { direction: 'internal', from: fromOf(request)?.uriText ?? '', to: peerAor },
    forks: contactsOf({ ...deps, peerSecret: undefined }, bindings, peerAor),
    mode: 'parallel',
    limits: [],
  };
}

/**
 * Where an INVITE goes, or undefined when it has been answered already (challenge, 404, 480 …):
 * - from a trunk (matched by source address): the dialled DID rings the user it is assigned to;
 * - from an authenticated user to a user of the tenant: that user's registered contacts, in parallel;
 * - from an authenticated user to anything else: the first matching route's trunks, one after the other.
 */
export async function planCall(
  deps: PlanningDeps,
  request: SipRequest,
  tx: ServerTransaction,
  inbound: InboundContext,
): Promise<CallPlan | undefined> {
  const dialledUser = uriUser(request.uri);
  if (!dialledUser) {
    // A sip/sips URI naming a host only has no user to ring (§19.1.1): "the user does not exist at the domain
    // specified in the Request-URI" (§21.4.4, 404); any scheme other than sip, sips and tel is not routed (416).
    if (schemeOf(request) === 'sip' || schemeOf(request) === 'sips') tx.respond(404, 'Not Found');
    else tx.respond(416, 'Unsupported URI Scheme');
    return undefined;
  }
  const from = fromOf(request);
  const fromValue = request.headers.find((h) => h.name === 'From')?.value ?? '';

  const peerAor = deps.peerSecret ? verifyPeerHop(deps.peerSecret, request) : undefined;
  if (peerAor) return peerHopPlan(deps, request, tx, peerAor);

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

  const planned = await planUserCall(deps, tenant, caller, {
    aor: fromAor,
    displayName: from?.displayName,
    dialled: dialledUser,
  });
  if ('refusal' in planned) {
    refuse(deps, request, tx, planned.refusal, planned.attempt);
    return undefined;
  }
  return planned;
}

/** A call a user may not place, and the attempt it is recorded as. */
export interface PlanRefusal {
  refusal: Refusal;
  attempt: Attempt;
}

/**
 * Where a call from the user `caller` of the active `tenant` to `dialled` goes: the dialled user's registered
 * contacts, or the tenant's first matching route to its trunks — or why it may not be placed. The one
 * authorization of a user's calls: an INVITE from the user (after its digest) and a transfer the user asks for
 * (REFER, `call-transfer.ts`) both come here.
 */
export async function planUserCall(
  deps: PlanningDeps,
  tenant: Tenant,
  caller: SipCredentials,
  party: { aor: string; displayName?: string | undefined; dialled: string },
): Promise<CallPlan | PlanRefusal> {
  const fromAor = party.aor;
  const dialledUser = party.dialled;
  const calleeAor = `sip:${dialledUser}@${tenant.sipDomain}`;
  const callee = await deps.users.findCredentials(tenant.sipDomain, dialledUser);
  if (callee?.enabled) {
    const bindings = await deps.state.registrations.list(calleeAor);
    if (bindings.length === 0) {
      return {
        refusal: NOT_REGISTERED,
        attempt: { tenantId: tenant.id, direction: 'internal', from: fromAor, to: calleeAor },
      };
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
      profiles: profilesOf(caller.mediaEncryption, offeredTo(callee.mediaEncryption)),
      recording: recordingPolicy(tenant.recording, [caller.recording, callee.recording]),
    };
  }

  const number = normalizeNumber(dialledUser);
  const { selected, trunks, forks } = await routeNumber(deps, tenant.id, number, {
    user: caller.username,
    displayName: party.displayName,
  });
  if (!selected || trunks.length === 0) {
    return {
      refusal: {
        status: 404,
        phrase: 'Not Found',
        reason: 'not-found',
        ...(selected ? { warning: 'No trunk of the route is up' } : {}),
      },
      attempt: { tenantId: tenant.id, direction: 'outbound', from: fromAor, to: selected?.dialled ?? number },
    };
  }
  return {
    tenant,
    identity: { direction: 'outbound', from: fromAor, to: selected.dialled, trunkId: trunks[0]!.id },
    forks,
    mode: 'sequential',
    ...(selected.route.mediaBypass ? { mediaBypass: true } : {}),
    // The call counts against the first trunk tried (a failover does not move the count).
    limits: [...userLimit(caller.userId, caller.maxConcurrentCalls, 'caller'), ...trunkLimit(trunks[0]!)],
    // One offer serves every trunk the call fails over to: the first trunk tried decides with the route.
    profiles: profilesOf(
      caller.mediaEncryption,
      offeredTo(
        selected.route.mediaEncryption && selected.route.mediaEncryption !== 'auto'
          ? selected.route.mediaEncryption
          : trunks[0]!.mediaEncryption,
      ),
    ),
    recording: recordingPolicy(tenant.recording, [caller.recording, selected.route.recording]),
  };
}

/** A call from a trunk (matched by source address or digest): the dialled DID rings the user it is assigned to. */
async function inboundPlan(
  deps: PlanningDeps,
  request: SipRequest,
  tx: ServerTransaction,
  trunk: GatewayTrunk,
  dialledUser: string,
): Promise<CallPlan | undefined> {
  const routing = deps.routing;
  if (!routing) return undefined;
  const from = fromOf(request)?.uriText ?? '';
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
    from,
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
    identity: { direction: 'inbound', from, to: did, trunkId: trunk.id },
    forks: contactsOf(deps, bindings, aor),
    mode: 'parallel',
    limits: [
      ...trunkLimit(trunk),
      ...userLimit(callee?.userId ?? owner.username, callee?.maxConcurrentCalls, 'callee'),
    ],
    profiles: profilesOf(trunk.mediaEncryption, offeredTo(callee?.mediaEncryption)),
    recording: recordingPolicy(tenant.recording, [callee?.recording]),
  };
}
