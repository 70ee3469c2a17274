import { timingSafeEqual } from 'node:crypto';
import { detachString } from '../message/parse-message.js';
import { FifoQueue } from '../fifo-queue.js';
import { randomBase64url } from '../random-token.js';
import { formatAuthHeader, parseAuthHeader } from './auth-params.js';
import { computeResponse, DIGEST_ALGORITHMS, parseAlgorithm, type DigestAlgorithm } from './digest.js';
import { hmacSha256 } from './hmac.js';
import { keyRingOf, type KeyRing } from './key-ring.js';

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

/** The last use of a nonce: its nonce-count then, and the key that signed it. */
interface NonceUse {
  readonly nonce: string;
  readonly nc: number;
  readonly usedAt: number;
  readonly key: Buffer;
}

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
  /** Nonces whose last nonce-count is remembered now (at most `maxTrackedNonces`, none older than the TTL). */
  readonly trackedNonces: number;
}

/**
 * Digest authentication for a UAS or registrar (RFC 3261 §22.4, RFC 8760). Nonces are self-validating
 * (timestamp and random value under an HMAC of a server secret), expire after `nonceTtlMs`, and each nonce's
 * nonce-count must grow, so a captured request cannot be replayed. An unknown user is checked against a
 * derived HA1, so the answer and the work are the same as for a wrong password (no user enumeration).
 *
 * Memory: the last nonce-count of each used nonce is remembered while the nonce can still be used — entries
 * older than `nonceTtlMs` go (oldest first, at each new entry), and at most `maxTrackedNonces` are kept
 * (default 100,000: ~10 MiB). When the cap evicts a nonce that could still be used, every nonce issued up to it
 * that is no longer remembered is answered stale (the client retries with a fresh nonce), so eviction never
 * opens a replay. The nonces issued and not answered yet are remembered with their key too (at most
 * `maxIssuedNonces`, default 10,000: ~1 MiB, oldest first), so the first answer to a challenge is checked without
 * a second HMAC; a nonce no longer there, or issued by another replica, is checked by its HMAC.
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
  maxIssuedNonces?: number;
  /** The clock (epoch ms), for tests. */
  now?: () => number;
}): DigestServer {
  const ttl = options.nonceTtlMs ?? 300_000;
  const algorithms = options.algorithms ?? DIGEST_ALGORITHMS;
  const maxTracked = options.maxTrackedNonces ?? 100_000;
  const maxIssued = options.maxIssuedNonces ?? 10_000;
  const now = options.now ?? Date.now;
  // The last use of each used nonce, with the key that signed it: a later use is checked without its HMAC.
  const lastCount = new Map<string, NonceUse>();
  // Every use in the order made, so the least recently used nonce is found at the head: a use whose nonce was
  // used again since, or dropped, is stale there and skipped. Once its last use is older than the TTL, a nonce
  // has expired too. (A Map iterated from its start for its oldest entry walks V8's deleted slots there each
  // time: ~30 µs per answer at 100,000 remembered nonces, measured; this queue, ~1 µs.)
  const uses = new FifoQueue<NonceUse>();
  // Nonces issued here and not answered yet, with their key; and the order they were issued in (the answered
  // ones skipped when they come to the head).
  const issued = new Map<string, Buffer>();
  const issueOrder = new FifoQueue<string>();
  // Nonces issued at or before this time and no longer remembered were evicted while usable: answered stale.
  let evictedIssuedUpTo = -1;
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

  // The issue time in base 36, kept for the millisecond it names (challenges come several per millisecond).
  let stampedAt = Number.NaN;
  let stamp = '';
  const issueStamp = (t: number) => {
    if (t !== stampedAt) {
      stampedAt = t;
      stamp = t.toString(36);
    }
    return stamp;
  };
  const newNonce = (key: Buffer) => {
    const body = `${issueStamp(now())}.${randomBase64url(12)}`;
    const nonce = `${body}.${mac(body, key)}`;
    while (issued.size >= maxIssued && issueOrder.length > 0) issued.delete(issueOrder.shift()!);
    issued.set(nonce, key);
    issueOrder.push(nonce);
    // The answered nonces still in the queue are bounded by the ones waiting: at most twice as many (and 1,024).
    if (issueOrder.length > 2 * issued.size + 1024) issueOrder.retain((n) => issued.has(n));
    return nonce;
  };
  const issuedAt = (nonce: string) => parseInt(nonce.slice(0, nonce.indexOf('.')), 36);
  /** The key of the ring that signed the nonce, or undefined when none of those accepted now did. */
  const signerOf = (nonce: string): Buffer | undefined => {
    const accepted = ring.accepted;
    // The key recorded when this server issued the nonce or last accepted an answer to it: no HMAC to compute.
    // Not accepted any more, it is looked for by HMAC below (a key read again after a rotation is another Buffer).
    // The issued nonces first: the small map, and where the first answer to a challenge finds its nonce.
    const recorded = issued.get(nonce) ?? lastCount.get(nonce)?.key;
    if (recorded !== undefined && accepted.includes(recorded)) return recorded;
    const last = nonce.lastIndexOf('.');
    if (last <= 0) return undefined;
    const body = nonce.slice(0, last);
    const given = Buffer.from(nonce.slice(last + 1));
    return accepted.find((key) => {
      const expect = Buffer.from(mac(body, key));
      return given.length === expect.length && timingSafeEqual(given, expect);
    });
  };
  /** `remembered`: whether the nonce's last nonce-count is in `lastCount`. */
  const nonceState = (nonce: string, remembered: boolean): 'valid' | 'expired' => {
    const at = issuedAt(nonce);
    if (at <= evictedIssuedUpTo && !remembered) return 'expired';
    return now() - at < ttl ? 'valid' : 'expired';
  };
  const remember = (nonce: string, nc: number, key: Buffer) => {
    const t = now();
    issued.delete(nonce);
    lastCount.delete(nonce);
    for (let oldest = uses.peek(); oldest !== undefined; oldest = uses.peek()) {
      if (lastCount.get(oldest.nonce) !== oldest) {
        uses.shift(); // used again since, or dropped
        continue;
      }
      if (oldest.usedAt + ttl > t && lastCount.size < maxTracked) break;
      uses.shift();
      lastCount.delete(oldest.nonce);
      const at = issuedAt(oldest.nonce);
      if (t - at < ttl) evictedIssuedUpTo = Math.max(evictedIssuedUpTo, at);
    }
    // The nonce was cut from the Authorization header: kept, it would keep the request's header text alive.
    const use: NonceUse = { nonce: detachString(nonce), nc, usedAt: t, key };
    lastCount.set(use.nonce, use);
    uses.push(use);
    // Stale uses (nonces used again) are bounded by the live ones: at most twice as many (and 1,024).
    if (uses.length > 2 * lastCount.size + 1024) uses.retain((u) => lastCount.get(u.nonce) === u);
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
      return lastCount.size;
    },
    challenges(stale = false, offered = algorithms) {
      const key = ring.current;
      const nonce = newNonce(key);
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

      const signer = signerOf(p.nonce);
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
      // Read after the lookup's await, with no await from here to `remember`: a replay racing its original sees it.
      const tracked = lastCount.get(p.nonce);
      if (!signer || nonceState(p.nonce, tracked !== undefined) === 'expired')
        return { ok: false, reason: 'stale', stale: true };
      // RFC 2617 §3.2.2: the nonce-count "permits the server to detect request replays".
      const nc = parseInt(p.nc!, 16);
      const previous = tracked?.nc;
      if (previous !== undefined && nc <= previous) return { ok: false, reason: 'replay', stale: true };
      remember(p.nonce, nc, signer);
      return { ok: true, username: p.username, algorithm };
    },
  };
}
