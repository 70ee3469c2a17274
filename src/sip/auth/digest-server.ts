import { timingSafeEqual } from 'node:crypto';
import { formatAuthHeader, parseAuthHeader } from './auth-params.js';
import { computeResponse, DIGEST_ALGORITHMS, parseAlgorithm, type DigestAlgorithm } from './digest.js';
import { hmacSha256 } from './hmac.js';
import { keyRingOf, type KeyRing } from './key-ring.js';
import { createNonceRing, nonceIssuedAt } from './nonce-ring.js';

export type Ha1Lookup = (
  username: string,
  algorithm: DigestAlgorithm,
) => Promise<string | undefined> | string | undefined;

export type DigestVerdict =
  | { ok: true; username: string; algorithm: DigestAlgorithm }
  | {
      ok: false;
      /** Why; never revealed to the client (an unknown user and a wrong password look the same). */
      reason:
        | 'missing'
        | 'malformed'
        | 'stale'
        | 'replay'
        | 'unsupported-algorithm'
        | 'uri-mismatch'
        | 'bad-credentials'
        /** The challenge offered qop and the credentials answered without it (RFC 2069 style). */
        | 'qop-required';
      /** Re-challenge with stale=true: the credentials were right but the nonce is no longer usable. */
      stale: boolean;
    };

export interface DigestServer {
  /**
   * One challenge per algorithm, preferred first (RFC 8760 §2.4), for WWW-/Proxy-Authenticate: the server's
   * algorithms, or `algorithms` for this request (a list chosen per user or tenant).
   */
  challenges(stale?: boolean, algorithms?: readonly DigestAlgorithm[]): string[];
  /** Accepts an answer for any of the server's algorithms, or of `algorithms` when given. */
  verify(
    method: string,
    authorization: readonly string[],
    lookup: Ha1Lookup,
    algorithms?: readonly DigestAlgorithm[],
  ): Promise<DigestVerdict>;
  /** Nonces remembered now, answered or not (at most `maxTrackedNonces`, none older than the TTL). */
  readonly trackedNonces: number;
}

/**
 * Digest authentication for a UAS or registrar (RFC 3261 §22.4, RFC 8760). Nonces are self-validating
 * (timestamp and random value under an HMAC of a server secret), expire after `nonceTtlMs`, and each nonce's
 * nonce-count must grow, so a captured request cannot be replayed. An unknown user is checked against a
 * derived HA1, so the answer and the work are the same as for a wrong password (no user enumeration).
 *
 * Memory: the last `maxTrackedNonces` nonces issued (default 100,000: ~6 MiB) are remembered in a ring of
 * typed arrays (`nonce-ring.ts`) — their key, so that an answer is checked without a second HMAC, and the last
 * nonce-count answered on each — the oldest forgotten first, whether answered or not; past them, one bit per
 * nonce for 32 times as many says whether it was answered. A forgotten nonce of this server's is checked by its
 * HMAC and taken once if never answered (an answer delayed by lost datagrams while the ring turned over), else
 * stale (the client retries with a fresh nonce), so forgetting never opens a replay. A nonce issued by another
 * replica (or before a restart) is checked by its HMAC, and remembered from its first answer on; one answered
 * and forgotten while usable makes every such nonce issued up to it stale.
 *
 * The secret may be a key ring: nonces and the opaque are made with its current key and checked against every
 * key it accepts, so a nonce issued before a rotation still verifies while the old key is accepted.
 */
export function createDigestServer(options: {
  realm: string;
  /** The HMAC key of nonces and the opaque, or a ring of them (a key being rotated). */
  secret: Buffer | KeyRing;
  nonceTtlMs?: number;
  algorithms?: readonly DigestAlgorithm[];
  maxTrackedNonces?: number;
  /**
   * Nonces issued at or before this time (epoch ms) that this server does not remember are answered stale: for a
   * server made again for a realm whose earlier server, and what it remembered, was dropped — a nonce answered
   * there must not be taken for a first answer here.
   */
  staleUpTo?: number;
  /** The clock (epoch ms), for tests. */
  now?: () => number;
}): DigestServer {
  const ttl = options.nonceTtlMs ?? 300_000;
  const algorithms = options.algorithms ?? DIGEST_ALGORITHMS;
  const now = options.now ?? Date.now;
  const nonces = createNonceRing({
    capacity: options.maxTrackedNonces ?? 100_000,
    ttlMs: ttl,
    forgottenUpTo: options.staleUpTo,
  });
  const ring = keyRingOf(options.secret);
  // One HMAC function per key (its padded key made once), dropped with the keys rotated out.
  const macs = new Map<Buffer, (text: string) => string>();
  const mac = (text: string, key: Buffer) => {
    let keyed = macs.get(key);
    if (keyed === undefined) {
      if (macs.size >= ring.accepted.length + 1) macs.clear();
      keyed = hmacSha256(key);
      macs.set(key, keyed);
    }
    return keyed(text).slice(0, 22);
  };

  /** The key of the ring that signed the nonce, or undefined when none of those accepted now did. */
  const signerOf = (nonce: string, slot: number): Buffer | undefined => {
    const accepted = ring.accepted;
    // The key recorded when this server issued the nonce or first accepted an answer to it: no HMAC to compute.
    // Not accepted any more, it is looked for by HMAC below (a key read again after a rotation is another Buffer).
    if (slot >= 0 && accepted.includes(nonces.keyAt(slot))) return nonces.keyAt(slot);
    const last = nonce.lastIndexOf('.');
    if (last <= 0) return undefined;
    const body = nonce.slice(0, last);
    const given = Buffer.from(nonce.slice(last + 1));
    return accepted.find((key) => {
      const expect = Buffer.from(mac(body, key));
      return given.length === expect.length && timingSafeEqual(given, expect);
    });
  };
  // RFC 7616 §3.3: opaque "SHOULD be returned by the client unchanged in the Authorization header field of
  // subsequent requests with URIs in the same protection space". One per realm and key: a nonce and the opaque
  // of the same challenge are made with the same key.
  // Computed once per key (an HMAC per challenge and per answer otherwise).
  const opaques = new Map<Buffer, string>();
  const opaqueOf = (key: Buffer) => {
    let opaque = opaques.get(key);
    if (opaque === undefined) {
      if (opaques.size >= ring.accepted.length + 1) opaques.clear(); // keys rotated out are not kept
      opaque = mac(`opaque:${options.realm}`, key);
      opaques.set(key, opaque);
    }
    return opaque;
  };

  const realmPart = formatAuthHeader('Digest', { realm: options.realm }, 'challenge');

  return {
    get trackedNonces() {
      return nonces.remembered(now());
    },
    challenges(stale = false, offered = algorithms) {
      const key = ring.current;
      const nonce = nonces.issue(key, now(), mac);
      const opaque = opaqueOf(key);
      // §25.1 / RFC 8760 §2.4: one challenge per algorithm, in the configured order. What formatAuthHeader
      // writes for { realm, nonce, opaque, algorithm, qop: 'auth', stale }, the realm quoted once: nonce and
      // opaque are base36/base64url and dots, nothing to escape in a quoted-string.
      // RFC 2617 §3.2.1: "stale … If stale is TRUE, the client may wish to simply retry the request with a new
      // encrypted response, without reprompting the user for a new username and password."
      const tail = `, qop="auth"${stale ? ', stale=TRUE' : ''}`;
      return offered.map(
        (algorithm) => `${realmPart}, nonce="${nonce}", opaque="${opaque}", algorithm=${algorithm}${tail}`,
      );
    },
    async verify(method, authorization, lookup, accepted = algorithms) {
      // §22.4 / RFC 4475 §3.3.9 (regaut01): credentials of an unknown scheme or another realm are ignored.
      const ours = authorization
        .map(parseAuthHeader)
        .find((a) => a?.scheme.toLowerCase() === 'digest' && a.params.realm === options.realm);
      if (!ours) return { ok: false, reason: 'missing', stale: false };
      const p = ours.params;
      if (!p.username || !p.nonce || !p.uri || !p.response)
        return { ok: false, reason: 'malformed', stale: false };
      const algorithm = parseAlgorithm(p.algorithm);
      if (!algorithm || !accepted.includes(algorithm)) {
        return { ok: false, reason: 'unsupported-algorithm', stale: false };
      }
      const qop = p.qop === undefined ? undefined : p.qop === 'auth' ? 'auth' : null;
      if (qop === null || (qop === 'auth' && (!p.cnonce || !/^[0-9a-fA-F]{8}$/.test(p.nc ?? '')))) {
        return { ok: false, reason: 'malformed', stale: false };
      }
      // RFC 7616 §3.4: "If the qop parameter is present in the challenge, the client MUST … send … qop, cnonce
      // and nc" — every challenge here offers qop="auth", so an answer without it is an RFC 2069 downgrade that
      // drops the client nonce and nonce count guarding against replay: refused.
      if (qop === undefined) return { ok: false, reason: 'qop-required', stale: false };

      const signer = signerOf(p.nonce, nonces.find(p.nonce));
      // The opaque is checked when the client sends it: a different one is not an answer to our challenge.
      if (signer && p.opaque !== undefined && p.opaque !== opaqueOf(signer))
        return { ok: false, reason: 'malformed', stale: false };

      const known = await lookup(p.username, algorithm);
      const ha1 = known ?? mac(`no-such-user:${p.username}`, ring.current);
      const expected = computeResponse(algorithm, {
        ha1,
        nonce: p.nonce,
        method,
        uri: p.uri,
        qop,
        nc: p.nc,
        cnonce: p.cnonce,
      });
      const matches =
        expected.length === p.response.length &&
        timingSafeEqual(Buffer.from(expected), Buffer.from(p.response.toLowerCase()));
      if (!matches || known === undefined) return { ok: false, reason: 'bad-credentials', stale: false };
      // RFC 2617 §3.2.1: "stale … indicating that the previous request from the client was rejected because the
      // nonce value was stale" — the client may retry with the new nonce without asking the user again; "The server
      // should only set stale to TRUE if it receives a request for which the nonce is invalid but with a valid
      // digest for that nonce". So a nonce no accepted key signed (its key rotated out, or signed by a replica with
      // a key this one does not know yet) answered with the right password is stale too; nothing is granted on it.
      // Found after the lookup's await, with no await from here to the count's record: a replay racing its
      // original sees it.
      const slot = nonces.find(p.nonce);
      const issuedAt = nonceIssuedAt(p.nonce);
      if (!signer || !(now() - issuedAt < ttl)) return { ok: false, reason: 'stale', stale: true };
      // RFC 2617 §3.2.2: the nonce-count "permits the server to detect request replays".
      const nc = parseInt(p.nc!, 16);
      if (slot >= 0) {
        if (nc <= nonces.countAt(slot)) return { ok: false, reason: 'replay', stale: true };
        nonces.answered(slot, nc);
        return { ok: true, username: p.username, algorithm };
      }
      // Not remembered. One of ours is taken at its first answer only (its answered bit), its count no longer
      // known after: later uses are stale and the client takes a new nonce.
      const forgotten = nonces.answerForgotten(p.nonce);
      if (forgotten === 'answered') return { ok: false, reason: 'stale', stale: true };
      if (forgotten === 'foreign') {
        // Another replica's, or an earlier server's: taken and remembered from its first answer, unless an
        // adopted nonce answered as late as its issue was forgotten here (its answer could be a replay).
        if (issuedAt <= nonces.evictedIssuedUpTo) return { ok: false, reason: 'stale', stale: true };
        nonces.adopt(p.nonce, issuedAt, signer, nc, now());
      }
      return { ok: true, username: p.username, algorithm };
    },
  };
}
