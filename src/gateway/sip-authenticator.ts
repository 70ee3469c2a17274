import { channel } from 'node:diagnostics_channel';
import {
  computeHa1,
  createDigestServer,
  detachString,
  header,
  headerValues,
  uriOf,
  uriUser,
  type DigestAlgorithm,
  type DigestServer,
  type ExtraHeaders,
  type KeyRing,
  type SipRequest,
} from '../sip/index.js';
import type { RealmDigestAlgorithms, SipCredentials, SipUserRepository } from '../store/index.js';
import type { Counters } from '../store/shared-state/index.js';
import type { GatewayTrunk } from './call-routing.js';

/**
 * The realm trunks authenticate in: a trunk is no tenant user and its calls name no tenant domain. UAs take
 * the realm from the challenge (§22.4).
 */
export const TRUNK_REALM = 'voxgate';

/** Tracing hook: every authentication decision (`SipAuthEvent`). */
export const sipAuthChannel = channel('voxgate:gateway:sip-auth');

export interface SipAuthEvent {
  as: Challenger;
  /** ok; challenged (no or stale credentials); failed (wrong credentials, counted for the ban); banned. */
  outcome: 'ok' | 'challenged' | 'failed' | 'banned';
  /** The address the request came from (the ban's key). */
  source: string;
  realm: string;
  method: string;
  /** The username the credentials named, when there were any. */
  username?: string;
  /** Why the credentials were refused, when they were (bad-credentials, malformed, stale …). */
  reason?: string;
}

export type Reply = (status: number, reason: string, headers?: ExtraHeaders) => void;

export interface AuthPolicy {
  /** Failed authentications from one address within `banSeconds` before it is refused for `banSeconds`. */
  readonly banThreshold: number;
  readonly banSeconds: number;
  /**
   * HMAC key of the digest nonces; the same on every gateway replica so any of them can verify. A key ring while
   * it is rotated: nonces issued under the previous key verify until the ring drops it.
   */
  readonly nonceSecret: Buffer | KeyRing;
  /**
   * Challenges offered, in order (RFC 8760 §2.4: preferred first), where neither the tenant nor the user has
   * a list of its own.
   */
  readonly digestAlgorithms: readonly DigestAlgorithm[];
}

/**
 * Who sent a request: a registrar authenticates with 401/WWW-Authenticate (§22.2), a proxy or B2BUA
 * challenging a caller with 407/Proxy-Authenticate (§22.3).
 */
export type Challenger = 'registrar' | 'proxy';

export interface SipAuthenticator {
  /** Nonces remembered for replay detection, over every realm (each realm's digest server is bounded). */
  readonly trackedNonces: number;
  /** Realms with a digest server (at most `maxRealms`). */
  readonly realms: number;
  /**
   * Digest-verifies the request for the tenant realm `domain`. On success returns the user's credentials; on
   * failure it has answered (a challenge, or 403 while the source is banned) and returns undefined. An unknown
   * user is answered exactly like a wrong password (§22: no way to enumerate users).
   *
   * The challenges offered are those of the user the request names — To of a REGISTER (§10.3: the
   * address-of-record), From otherwise — when that user has a list of its own, else the tenant's, else the
   * platform's; an answer for any of them is accepted if it is also one the answering user may use. A user's
   * own list changes the challenge, so it tells a caller that the user exists; a tenant's list does not.
   * `named` is that user when the caller has already read it from the request (the registrar: the user part of
   * the address-of-record); otherwise it is read here.
   */
  authenticate(
    request: SipRequest,
    reply: Reply,
    sourceAddress: string,
    domain: string,
    as: Challenger,
    named?: string,
  ): Promise<SipCredentials | undefined>;
  /**
   * Digest-verifies an INVITE from a trunk that is not recognised by its source address (a PBX or carrier on
   * changing addresses), against the trunks' credentials in realm TRUNK_REALM, with the same challenge, ban
   * and no-enumeration rules as users (407, §22.3). Returns the trunk, or undefined once it has answered.
   */
  authenticateTrunk(
    request: SipRequest,
    reply: Reply,
    sourceAddress: string,
  ): Promise<GatewayTrunk | undefined>;
}

/**
 * Realms given a digest server at most: far above the tenants of one deployment; beyond it (REGISTERs naming
 * random domains) the oldest server is dropped.
 */
export const DEFAULT_MAX_REALMS = 10_000;

/** Digest authentication of the tenants' SIP users, with a temporary ban of sources that keep failing. */
export function createSipAuthenticator(deps: {
  users: Pick<SipUserRepository, 'findCredentials' | 'digestAlgorithms'>;
  /** Trunks by credentials username; without it no trunk authenticates with digest. */
  trunkByUsername?: (username: string) => Promise<GatewayTrunk | undefined>;
  counters: Counters;
  policy: AuthPolicy;
  /** Realms with a digest server at most (default `DEFAULT_MAX_REALMS`). */
  maxRealms?: number;
}): SipAuthenticator {
  const { policy } = deps;
  const maxRealms = deps.maxRealms ?? DEFAULT_MAX_REALMS;
  // A digest server per realm, the realm taken from the request before any tenant is known to have it: bounded,
  // or REGISTERs naming ever new domains would grow it for ever. The oldest made goes first.
  const digests = new Map<string, DigestServer>();
  // When a server was last dropped: one made after it answers stale every nonce issued up to then that it does
  // not remember, so a nonce answered on the dropped server is never taken for a first answer (a replay).
  let droppedAt: number | undefined;
  const digestFor = (realm: string) => {
    let d = digests.get(realm);
    if (!d) {
      if (digests.size >= maxRealms) {
        digests.delete(digests.keys().next().value!);
        droppedAt = Date.now();
      }
      // A copy of the realm: cut from the request, it would keep the request's text alive with the server.
      const kept = detachString(realm);
      d = createDigestServer({
        realm: kept,
        secret: policy.nonceSecret,
        algorithms: policy.digestAlgorithms,
        ...(droppedAt === undefined ? {} : { staleUpTo: droppedAt }),
      });
      digests.set(kept, d);
    }
    return d;
  };
  /**
   * The digest exchange for one realm: 403 while the source is banned; a challenge when credentials are
   * missing, stale or wrong (the failure counted towards the ban); otherwise what `find` said of the verified
   * username (looked up once, by the digest check). An unknown username, or an algorithm its `ha1` does not
   * give, fails exactly like a wrong password (§22: no way to enumerate). `offered` are the challenges of this
   * request, read after the ban check.
   */
  const verify = async <T>(
    request: SipRequest,
    reply: Reply,
    sourceAddress: string,
    realm: string,
    as: Challenger,
    offered: () => Promise<readonly DigestAlgorithm[]>,
    find: (
      username: string,
    ) => Promise<{ ha1(algorithm: DigestAlgorithm): string | undefined; value: T } | undefined>,
  ): Promise<T | undefined> => {
    const banKey = `sip-auth-fail:${sourceAddress}`;
    let claimed: string | undefined;
    const report = (outcome: SipAuthEvent['outcome'], reason?: string) => {
      if (!sipAuthChannel.hasSubscribers) return;
      const event: SipAuthEvent = { as, outcome, source: sourceAddress, realm, method: request.method };
      if (claimed !== undefined) event.username = claimed;
      if (reason !== undefined) event.reason = reason;
      sipAuthChannel.publish(event);
    };
    if ((await deps.counters.get(banKey)) >= policy.banThreshold) {
      report('banned');
      reply(403, 'Forbidden', { Warning: '399 voxgate "Too many failed authentications; try later"' });
      return undefined;
    }
    const digest = digestFor(realm);
    const algorithms = await offered();
    let found: { value: T } | undefined;
    const verdict = await digest.verify(
      request.method,
      headerValues(request, as === 'registrar' ? 'Authorization' : 'Proxy-Authorization'),
      async (username, algorithm) => {
        claimed = username;
        const known = await find(username);
        const ha1 = known?.ha1(algorithm);
        found = ha1 === undefined ? undefined : known;
        return ha1;
      },
      algorithms,
    );
    const challenge = (stale: boolean) =>
      as === 'registrar'
        ? reply(401, 'Unauthorized', { 'WWW-Authenticate': digest.challenges(stale, algorithms) })
        : reply(407, 'Proxy Authentication Required', {
            'Proxy-Authenticate': digest.challenges(stale, algorithms),
          });
    if (!verdict.ok) {
      const failed =
        verdict.reason === 'bad-credentials' ||
        verdict.reason === 'malformed' ||
        verdict.reason === 'qop-required';
      if (failed) await deps.counters.incr(banKey, 1, policy.banSeconds);
      report(failed ? 'failed' : 'challenged', verdict.reason);
      challenge(verdict.stale);
      return undefined;
    }
    if (!found) challenge(false);
    report(found ? 'ok' : 'challenged');
    return found?.value;
  };

  const platform = async () => policy.digestAlgorithms;
  /** A user's list, else the tenant's, else the platform's. */
  const algorithmsOf = (realm: RealmDigestAlgorithms | undefined, username: string | undefined) =>
    (username === undefined ? undefined : realm?.users.get(username)) ??
    realm?.tenant ??
    policy.digestAlgorithms;

  return {
    get trackedNonces() {
      let n = 0;
      for (const d of digests.values()) n += d.trackedNonces;
      return n;
    },
    get realms() {
      return digests.size;
    },
    authenticate(request, reply, sourceAddress, domain, as, named) {
      // Read once for the request (the directory cache keeps it per realm): the challenges and the check of the
      // answering user's algorithm both come from it.
      let realm: Promise<RealmDigestAlgorithms | undefined> | undefined;
      const realmAlgorithms = () => (realm ??= deps.users.digestAlgorithms(domain));
      return verify(
        request,
        reply,
        sourceAddress,
        domain,
        as,
        async () => algorithmsOf(await realmAlgorithms(), named ?? namedUser(request)),
        async (username) => {
          const creds = await deps.users.findCredentials(domain, username);
          if (!creds?.enabled || !creds.tenantActive) return undefined;
          // The answering user's own list holds whatever user the request names (From may name another).
          const allowed = algorithmsOf(await realmAlgorithms(), username);
          return {
            ha1: (a) => (!allowed.includes(a) ? undefined : a === 'MD5' ? creds.ha1Md5 : creds.ha1Sha256),
            value: creds,
          };
        },
      );
    },

    authenticateTrunk(request, reply, sourceAddress) {
      return verify(request, reply, sourceAddress, TRUNK_REALM, 'proxy', platform, async (username) => {
        const trunk = await deps.trunkByUsername?.(username);
        const credentials = trunk?.credentials;
        if (!trunk || !credentials) return undefined;
        // Trunk passwords are kept in clear (we answer carriers' challenges with them): the HA1 is derived,
        // for the one algorithm the credentials use.
        return { ha1: (a) => computeHa1(a, username, TRUNK_REALM, credentials.password), value: trunk };
      });
    },
  };
}

/** The user a request is about: To of a REGISTER (§10.3: the address-of-record), From of anything else. */
function namedUser(request: SipRequest): string | undefined {
  const value = header(request, request.method === 'REGISTER' ? 'To' : 'From');
  return value === undefined ? undefined : uriUser(uriOf(value));
}
