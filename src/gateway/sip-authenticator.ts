import { channel } from 'node:diagnostics_channel';
import {
  createDigestServer,
  headerValues,
  type DigestAlgorithm,
  type DigestServer,
  type ExtraHeaders,
  type SipRequest,
} from '../sip/index.js';
import type { SipCredentials, SipUserRepository } from '../store/index.js';
import type { Counters } from '../store/shared-state/index.js';

/** Tracing hook: every authentication decision (`SipAuthEvent`). */
export const sipAuthChannel = channel('voxgate:gateway:sip-auth');

export interface SipAuthEvent {
  as: Challenger;
  /** ok; challenged (no or stale credentials); failed (wrong credentials, counted for the ban); banned. */
  outcome: 'ok' | 'challenged' | 'failed' | 'banned';
}

export type Reply = (status: number, reason: string, headers?: ExtraHeaders) => void;

export interface AuthPolicy {
  /** Failed authentications from one address within `banSeconds` before it is refused for `banSeconds`. */
  readonly banThreshold: number;
  readonly banSeconds: number;
  /** HMAC key of the digest nonces; the same on every gateway replica so any of them can verify. */
  readonly nonceSecret: Buffer;
  /** Challenges offered, in order (RFC 8760 §2.4: preferred first). */
  readonly digestAlgorithms: readonly DigestAlgorithm[];
}

/**
 * Who sent a request: a registrar authenticates with 401/WWW-Authenticate (§22.2), a proxy or B2BUA
 * challenging a caller with 407/Proxy-Authenticate (§22.3).
 */
export type Challenger = 'registrar' | 'proxy';

export interface SipAuthenticator {
  /**
   * Digest-verifies the request for the tenant realm `domain`. On success returns the user's credentials; on
   * failure it has answered (a challenge, or 403 while the source is banned) and returns undefined. An unknown
   * user is answered exactly like a wrong password (§22: no way to enumerate users).
   */
  authenticate(
    request: SipRequest,
    reply: Reply,
    sourceAddress: string,
    domain: string,
    as: Challenger,
  ): Promise<SipCredentials | undefined>;
}

/** Digest authentication of the tenants' SIP users, with a temporary ban of sources that keep failing. */
export function createSipAuthenticator(deps: {
  users: Pick<SipUserRepository, 'findCredentials'>;
  counters: Counters;
  policy: AuthPolicy;
}): SipAuthenticator {
  const { policy } = deps;
  const digests = new Map<string, DigestServer>();
  const digestFor = (realm: string) => {
    let d = digests.get(realm);
    if (!d) {
      d = createDigestServer({ realm, secret: policy.nonceSecret, algorithms: policy.digestAlgorithms });
      digests.set(realm, d);
    }
    return d;
  };
  return {
    async authenticate(request, reply, sourceAddress, domain, as) {
      const banKey = `sip-auth-fail:${sourceAddress}`;
      const report = (outcome: SipAuthEvent['outcome']) => {
        if (sipAuthChannel.hasSubscribers) sipAuthChannel.publish({ as, outcome } satisfies SipAuthEvent);
      };
      if ((await deps.counters.get(banKey)) >= policy.banThreshold) {
        report('banned');
        reply(403, 'Forbidden', { Warning: '399 voxgate "Too many failed authentications; try later"' });
        return undefined;
      }
      const digest = digestFor(domain);
      const verdict = await digest.verify(
        request.method,
        headerValues(request, as === 'registrar' ? 'Authorization' : 'Proxy-Authorization'),
        async (username, algorithm) => {
          const creds = await deps.users.findCredentials(domain, username);
          if (!creds?.enabled || !creds.tenantActive) return undefined;
          return algorithm === 'MD5' ? creds.ha1Md5 : creds.ha1Sha256;
        },
      );
      const challenge = (stale: boolean) =>
        as === 'registrar'
          ? reply(401, 'Unauthorized', { 'WWW-Authenticate': digest.challenges(stale) })
          : reply(407, 'Proxy Authentication Required', { 'Proxy-Authenticate': digest.challenges(stale) });
      if (!verdict.ok) {
        const failed = verdict.reason === 'bad-credentials' || verdict.reason === 'malformed';
        if (failed) await deps.counters.incr(banKey, 1, policy.banSeconds);
        report(failed ? 'failed' : 'challenged');
        challenge(verdict.stale);
        return undefined;
      }
      const creds = await deps.users.findCredentials(domain, verdict.username);
      if (!creds) challenge(false);
      report(creds ? 'ok' : 'challenged');
      return creds;
    },
  };
}
