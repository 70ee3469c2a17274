import { channel } from 'node:diagnostics_channel';
import {
  contactsOf,
  formatHostPort,
  header,
  headerValues,
  nameAddrParam,
  parseSipUri,
  sameUri,
  SipParseError,
  SlotMap,
  topViaOf,
  uriOf,
  type NameAddr,
  type SipRequest,
} from '../sip/index.js';
import type { SipUserRepository } from '../store/index.js';
import type { Binding, Counters, RegistrationStore } from '../store/shared-state/index.js';
import { decideReach, type NatMode, type NatReason } from './nat-detection.js';
import {
  createSipAuthenticator,
  type AuthPolicy,
  type Reply,
  type SipAuthenticator,
} from './sip-authenticator.js';
import { createSipDate } from './sip-date.js';

export type { Reply } from './sip-authenticator.js';

export interface RequestSource {
  readonly remote: { address: string; port: number };
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly flowId?: string;
  /** Set when the REGISTER came on a SIP WebSocket (RFC 7118): the binding's transport is then ws/wss. */
  readonly webSocket?: 'ws' | 'wss';
}

export interface RegistrarPolicy extends AuthPolicy {
  /** §10.3 step 7: shorter requested expirations get 423 Interval Too Brief with Min-Expires. */
  readonly minExpires: number;
  readonly maxExpires: number;
  readonly defaultExpires: number;
  /**
   * Contacts one AOR may have at once (default 10). Every call to the user forks to all of them, so without a
   * bound a client registering ever new Contacts would make each call to it cost without limit. A new contact
   * beyond the bound replaces the binding that expires first (a phone whose NAT binding changed keeps
   * registering; the stale contact goes).
   */
  readonly maxContacts?: number;
}

const DEFAULT_MAX_CONTACTS = 10;

/** A change of a user's registration, published on `registrationChannel` (the platform logs them). */
export interface RegistrationEvent {
  /**
   * `registered`: a new contact; `refreshed`: a contact registered again; `unregistered`: removed by its UA
   * (expires 0, `Contact: *`) or by the keepalive (no answer, flow closed; `reason` says which); `expired`: its
   * time ran out without a refresh (seen by the keepalive of the replica that accepted it).
   */
  readonly kind: 'registered' | 'refreshed' | 'unregistered' | 'expired';
  readonly aor: string;
  readonly contact: string;
  readonly tenantId?: string;
  /** Where the REGISTER came from (host:port). */
  readonly source?: string;
  readonly transport?: Binding['transport'];
  readonly userAgent?: string;
  /** Where calls to the contact go, and why (`nat-detection.ts`). */
  readonly reach?: 'source' | 'contact';
  readonly nat?: NatMode;
  readonly natReasons?: readonly NatReason[];
  readonly expiresInSeconds?: number;
  readonly reason?: string;
}

export const registrationChannel = channel('voxgate:gateway:registration');

export const publishRegistration = (event: RegistrationEvent): void => {
  if (registrationChannel.hasSubscribers) registrationChannel.publish(event);
};

const hostPort = (p: { address: string; port: number }) => formatHostPort(p.address, p.port);

export interface Registrar {
  handleRegister(request: SipRequest, reply: Reply, source: RequestSource): Promise<void>;
  /**
   * The registrar's own digest state (it authenticates REGISTERs with an authenticator of its own, apart from
   * the calls'): its nonces and realms, which the gateway's memory gauges count with the calls'.
   */
  readonly digest: Pick<SipAuthenticator, 'trackedNonces' | 'realms'>;
}

/** `sip:user@host` of a To/From value, lower-cased host, without parameters; undefined unless sip/sips. */
export function addressOfRecord(value: string): string | undefined {
  let uri;
  try {
    uri = parseSipUri(uriOf(value));
  } catch (err) {
    if (err instanceof SipParseError) return undefined;
    throw err;
  }
  return uri.user === undefined ? undefined : `${uri.scheme}:${uri.user}@${uri.host.toLowerCase()}`;
}

/**
 * The registrar of RFC 3261 §10.3 for the tenants' users: digest authentication against HA1 values in the
 * store (the realm is the tenant's SIP domain), bindings in shared state with the flow they came on.
 */
/** The binding a contact of the REGISTER names: the one it respells (§19.1.4), or its own text. */
const bindingOf = (w: { uri: string; respells?: string }) => w.respells ?? w.uri;

export function createRegistrar(deps: {
  users: Pick<SipUserRepository, 'findCredentials' | 'digestAlgorithms'>;
  registrations: RegistrationStore;
  counters: Counters;
  policy: RegistrarPolicy;
  /** This instance's advertised SIP address (host:port), recorded in each binding. */
  self?: () => string;
  /** Told of every binding accepted or removed here (the NAT keepalive). */
  observer?: { track(aor: string, binding: Binding): void; untrack(aor: string, contact: string): void };
}): Registrar {
  const { policy } = deps;
  const auth = createSipAuthenticator(deps);
  const maxContacts = policy.maxContacts ?? DEFAULT_MAX_CONTACTS;
  const sipDate = createSipDate();

  /**
   * Removes the bindings that expire first until the contacts this REGISTER adds fit under `maxContacts`
   * (those it refreshes or removes are counted as they will be).
   */
  const makeRoom = async (
    aor: string,
    before: readonly Binding[],
    wanted: readonly { uri: string; expires: number; respells?: string }[],
    tenantId: string,
  ): Promise<readonly Binding[]> => {
    // What this REGISTER removes, and the old spelling of each contact it writes anew.
    const removing = new Set<string>();
    for (const w of wanted) {
      if (w.expires === 0) removing.add(bindingOf(w));
      else if (w.respells) removing.add(w.respells);
    }
    const adding = new Set(wanted.filter((w) => w.expires > 0).map((w) => w.uri));
    const kept = before.filter((b) => !removing.has(b.contact) && !adding.has(b.contact));
    const excess = kept.length + adding.size - maxContacts;
    if (excess <= 0) return [];
    const evicted = [...kept].sort((a, b) => a.expiresAt - b.expiresAt).slice(0, excess);
    for (const b of evicted) {
      await deps.registrations.remove(aor, b.contact);
      deps.observer?.untrack(aor, b.contact);
      publishRegistration({
        kind: 'unregistered',
        aor,
        contact: b.contact,
        tenantId,
        source: hostPort(b.source),
        transport: b.transport,
        ...(b.userAgent ? { userAgent: b.userAgent } : {}),
        reason: `replaced: more than ${maxContacts} contacts`,
      });
    }
    return evicted;
  };

  /**
   * §10.3 steps 6 and 7: a REGISTER older than a binding its Call-ID made fails, whole. The RFC names no code for
   * it ("the request fails"; its 500 is for a binding update the server could not commit); the request is what
   * is wrong, so 400, as Kamailio's registrar answers it ("Invalid CSeq number"). The Warning says which binding
   * is newer, for whoever reads the trace.
   */
  const outOfOrder = (reply: Reply, cseq: number, newer: Binding) =>
    reply(400, 'Bad Request', {
      Warning: `399 voxgate "CSeq ${cseq} is not higher than ${newer.cseq}, the CSeq of this Call-ID's registration of <${newer.contact}>"`,
    });

  /** The REGISTER of each address-of-record being handled, or the last one waiting for it. */
  const inOrder = new SlotMap<string, Promise<void>>();

  /** One REGISTER for `aor`, once those received before it for the same AOR are done. */
  const register = async (
    aor: string,
    request: SipRequest,
    reply: Reply,
    source: RequestSource,
  ): Promise<void> => {
    const domain = aor.slice(aor.indexOf('@') + 1);
    const user = aor.slice(aor.indexOf(':') + 1, aor.indexOf('@'));

    // §10.3 step 6 and §22: authenticate; an unknown user is indistinguishable from a wrong password.
    const creds = await auth.authenticate(request, reply, source.remote.address, domain, 'registrar', user);
    if (!creds) return;
    if (creds.username !== user) {
      // §10.3 step 6: "the registrar MUST determine if the authenticated user is authorized to modify
      // registrations for this address-of-record"; users only register themselves.
      reply(403, 'Forbidden', {
        Warning: '399 voxgate "Authenticated user may not register this address"',
      });
      return;
    }

    const userAgent = header(request, 'User-Agent');
    const transport = source.webSocket ?? source.transport;
    // What every registration event of this REGISTER says besides its kind: whose contact, from where, how
    // (written out in the event of a contact registered, the one made for every REGISTER).
    const about = (contact: string) => ({
      aor,
      contact,
      tenantId: creds.tenantId,
      source: hostPort(source.remote),
      transport,
      userAgent,
    });
    // The Contacts as the request's validation parsed them (§8.2: a malformed one was answered 400 there, but
    // a request may come here unvalidated).
    let contacts: '*' | NameAddr[];
    try {
      contacts = contactsOf(request);
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      reply(400, 'Bad Request', { Warning: '399 voxgate "Malformed Contact"' });
      return;
    }
    const expiresHeader = header(request, 'Expires');
    const headerExpires =
      expiresHeader !== undefined && /^\d+$/.test(expiresHeader) ? Number(expiresHeader) : undefined;
    if (contacts === '*') {
      // §10.3 step 6: "If the request has additional Contact fields or an expiration time other than zero, the
      // request is invalid, and the server MUST return a 400 (Invalid Request)".
      if (headerValues(request, 'Contact').length !== 1 || headerExpires !== 0) {
        reply(400, 'Invalid Request', {
          Warning: '399 voxgate "Contact: * needs Expires: 0 and no other contact"',
        });
        return;
      }
      const removed = await deps.registrations.list(aor);
      // §10.3 step 6: "If it does agree, it MUST remove the binding only if the CSeq in the request is higher
      // than the value stored for that binding. Otherwise, the update MUST be aborted and the request fails."
      const newer = removed.find((b) => b.callId === request.callId && b.cseq >= request.cseq.seq);
      if (newer) {
        outOfOrder(reply, request.cseq.seq, newer);
        return;
      }
      await deps.registrations.removeAll(aor);
      for (const b of removed) {
        deps.observer?.untrack(aor, b.contact);
        publishRegistration({ kind: 'unregistered', ...about(b.contact), reason: 'Contact: *' });
      }
      reply(200, 'OK', { Date: sipDate(Date.now()) });
      return;
    }
    let wanted: { contact: NameAddr; uri: string; expires: number; respells?: string }[] = contacts.map(
      (contact) => {
        const param = nameAddrParam(contact, 'expires');
        const asked =
          param !== undefined && /^\d+$/.test(param)
            ? Number(param)
            : (headerExpires ?? policy.defaultExpires);
        return { contact, uri: contact.uriText, expires: asked };
      },
    );
    // §10.3 step 7: "If and only if the requested expiration interval is greater than zero AND smaller than
    // one hour AND less than a registrar-configured minimum, the registrar MAY reject the registration with a
    // response of 423 (Interval Too Brief)" — we always do, below our minimum.
    if (wanted.some((w) => w.expires > 0 && w.expires < policy.minExpires)) {
      reply(423, 'Interval Too Brief', { 'Min-Expires': String(policy.minExpires) });
      return;
    }
    const now = Date.now();
    if (
      wanted.length > maxContacts &&
      new Set(wanted.filter((w) => w.expires > 0).map((w) => w.uri)).size > maxContacts
    ) {
      // One REGISTER naming more contacts than a user may have: refused whole, nothing changed.
      reply(403, 'Forbidden', {
        Warning: `399 voxgate "At most ${maxContacts} contacts may be registered for one user"`,
      });
      return;
    }
    const before = await deps.registrations.list(aor);
    // §10.3 step 7: "For each address, the registrar then searches the list of current bindings using the URI
    // comparison rules." A contact written otherwise than its binding (case, escapes, parameters in another
    // order or one more that §19.1.4 ignores) is that binding: `respells` names it, and the binding takes the
    // contact as the UA writes it now.
    // The same text is looked for first: a refresh parses no other binding's contact.
    for (const w of wanted) {
      if (before.some((b) => b.contact === w.uri)) continue;
      const bound = before.find((b) => sameUri(b.contact, w.uri));
      if (bound) w.respells = bound.contact;
    }
    // §10.3 step 7: "If the Call-ID value in the existing binding differs from the Call-ID value in the request,
    // the binding MUST be removed if the expiration time is zero and updated otherwise. If they are the same,
    // the registrar compares the CSeq value. If the value is higher than that of the existing binding, it MUST
    // update or remove the binding as above. If not, the update MUST be aborted and the request fails." A
    // lower CSeq (a REGISTER overtaken by a later one of the same UA) fails the whole request before anything
    // changes ("all binding updates and additions" commit together or not at all). The same CSeq is this very
    // request again (a retransmission the transaction layer no longer holds: past Timer J, or on another
    // replica): it changes nothing and is answered with the bindings as they are — the RFC's letter would fail
    // it, but failing a repeat of a request that succeeded tells the UA its registration failed; Kamailio's
    // usrloc likewise passes a repeated CSeq over (within its `cseq_delay`).
    const sameRequest = new Set<string>();
    for (const b of before) {
      if (b.callId !== request.callId || !wanted.some((w) => bindingOf(w) === b.contact)) continue;
      if (b.cseq > request.cseq.seq) {
        outOfOrder(reply, request.cseq.seq, b);
        return;
      }
      if (b.cseq === request.cseq.seq) sameRequest.add(b.contact);
    }
    if (sameRequest.size > 0) wanted = wanted.filter((w) => !sameRequest.has(bindingOf(w)));
    // The bindings after this REGISTER, by contact: those before it, changed below as the store is (a refreshed
    // contact keeps its place, a new one comes last, as the stores list them).
    const current = new Map<string, Binding>();
    for (const b of before) current.set(b.contact, b);
    // Room whatever this REGISTER adds, nothing to count (a phone refreshing its one contact): no eviction.
    if (before.length + wanted.length > maxContacts)
      for (const b of await makeRoom(aor, before, wanted, creds.tenantId)) current.delete(b.contact);
    const via = topViaOf(request);
    const nat = creds.nat ?? 'auto';
    for (const w of wanted) {
      if (w.expires === 0) {
        // §10.3 step 7: an expiration of zero removes the binding (logged only when there was one).
        const bound = bindingOf(w);
        const removed = await deps.registrations.remove(aor, bound);
        current.delete(bound);
        deps.observer?.untrack(aor, bound);
        if (removed) {
          publishRegistration({ kind: 'unregistered', ...about(bound), reason: 'expires 0' });
        }
        continue;
      }
      // Where calls to this contact will go: its Contact, or back where the REGISTER came from when the UA is
      // behind NAT or needs its flow (`nat-detection.ts`, the user's `nat` setting).
      const decision = decideReach(nat, {
        source: source.remote,
        transport: source.transport,
        webSocket: source.webSocket,
        contact: w.contact,
        via,
      });
      const instance = nameAddrParam(w.contact, '+sip.instance');
      const q = nameAddrParam(w.contact, 'q');
      const binding: Binding = {
        contact: w.uri,
        expiresAt: now + Math.min(w.expires, policy.maxExpires) * 1000,
        source: source.remote,
        transport,
        flowId: source.flowId,
        instanceId: instance?.replace(/^"|"$/g, ''),
        q: q === undefined ? undefined : Number(q),
        callId: request.callId,
        cseq: request.cseq.seq,
        userAgent,
        tenantId: creds.tenantId,
        ...(deps.self ? { gateway: deps.self() } : {}),
        reach: decision.reach,
      };
      // What was there before tells a new registration from a refresh (for the log).
      const refreshed = w.respells !== undefined || before.some((b) => b.contact === w.uri);
      await deps.registrations.put(aor, binding);
      if (w.respells !== undefined) {
        // Put first, then the old spelling removed: a call routed meanwhile finds one of the two.
        await deps.registrations.remove(aor, w.respells);
        current.delete(w.respells);
        deps.observer?.untrack(aor, w.respells);
      }
      current.set(w.uri, binding);
      deps.observer?.track(aor, binding);
      publishRegistration({
        kind: refreshed ? 'refreshed' : 'registered',
        aor,
        contact: w.uri,
        tenantId: creds.tenantId,
        source: hostPort(source.remote),
        transport,
        userAgent,
        reach: decision.reach,
        nat,
        natReasons: decision.reasons,
        expiresInSeconds: Math.round((binding.expiresAt - now) / 1000),
      });
    }
    // §10.3 step 8: "The response SHOULD contain a Contact header field enumerating all current bindings."
    // They are those listed before, with this REGISTER's changes made to them above: not listed again.
    const answeredAt = Date.now();
    const contactValues: string[] = [];
    for (const b of current.values())
      contactValues.push(
        `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - answeredAt) / 1000))}`,
      );
    reply(200, 'OK', {
      Contact: contactValues,
      Date: sipDate(Date.now()),
    });
  };

  return {
    digest: auth,
    handleRegister(request, reply, source) {
      // §10.3 step 5: the address-of-record comes from To; an AOR is a SIP or SIPS URI (RFC 4475 §3.3.5).
      const aor = addressOfRecord(header(request, 'To') ?? '');
      if (!aor) {
        reply(400, 'Bad Request', {
          Warning: '399 voxgate "The address-of-record must be a sip: or sips: URI"',
        });
        return Promise.resolve();
      }
      // §10.3: "REGISTER requests MUST be processed by a registrar in the order that they are received." Each
      // one waits for the AOR's earlier ones (their store reads and writes, and their authentication, are
      // asynchronous: a later REGISTER could otherwise read the bindings before an earlier one wrote them).
      const earlier = inOrder.get(aor);
      const handled = earlier
        ? earlier.then(() => register(aor, request, reply, source))
        : register(aor, request, reply, source);
      // The next one waits for this one to end, whether it failed or not (its failure is the caller's, through
      // `handled`); the last one to end leaves nothing behind.
      const settle = () => {
        if (inOrder.get(aor) === done) inOrder.delete(aor);
      };
      const done: Promise<void> = handled.then(settle, settle);
      inOrder.set(aor, done);
      return handled;
    },
  };
}
