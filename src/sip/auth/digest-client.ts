import { randomBytes } from 'node:crypto';
import { formatAuthHeader, parseAuthHeader } from './auth-params.js';
import {
  computeHa1,
  computeResponse,
  DIGEST_ALGORITHMS,
  parseAlgorithm,
  type DigestAlgorithm,
} from './digest.js';

/**
 * Answers 401/407 challenges as a UAC (§22.2, §22.3): picks the strongest algorithm offered that we support
 * (RFC 8760 §2.4), uses qop=auth when offered, and counts nonce uses. Returns undefined when no challenge is
 * one we can answer.
 */
export function answerChallenge(input: {
  challenges: readonly string[];
  method: string;
  uri: string;
  username: string;
  password: string;
  /** How many times this nonce was used before (nonce-count). */
  previousUses?: number;
  cnonce?: string;
}): { authorization: string; nonce: string; algorithm: DigestAlgorithm } | undefined {
  const offered = input.challenges
    .map(parseAuthHeader)
    .filter((c) => c?.scheme.toLowerCase() === 'digest' && c.params.nonce && c.params.realm)
    .map((c) => ({ params: c!.params, algorithm: parseAlgorithm(c!.params.algorithm) }))
    .filter(
      (c): c is { params: Record<string, string>; algorithm: DigestAlgorithm } => c.algorithm !== undefined,
    )
    .sort((a, b) => DIGEST_ALGORITHMS.indexOf(a.algorithm) - DIGEST_ALGORITHMS.indexOf(b.algorithm));
  const chosen = offered[0];
  if (!chosen) return undefined;
  const { realm, nonce, opaque } = chosen.params as { realm: string; nonce: string; opaque?: string };
  const qop = (chosen.params.qop ?? '')
    .split(',')
    .map((q) => q.trim())
    .includes('auth')
    ? 'auth'
    : undefined;
  const nc = ((input.previousUses ?? 0) + 1).toString(16).padStart(8, '0');
  const cnonce = input.cnonce ?? randomBytes(12).toString('hex');
  const ha1 = computeHa1(chosen.algorithm, input.username, realm, input.password);
  const response = computeResponse(chosen.algorithm, {
    ha1,
    nonce,
    method: input.method,
    uri: input.uri,
    qop,
    nc: qop ? nc : undefined,
    cnonce: qop ? cnonce : undefined,
  });
  const authorization = formatAuthHeader('Digest', {
    username: input.username,
    realm,
    nonce,
    uri: input.uri,
    response,
    algorithm: chosen.algorithm,
    cnonce: qop ? cnonce : undefined,
    opaque,
    qop,
    nc: qop ? nc : undefined,
  });
  return { authorization, nonce, algorithm: chosen.algorithm };
}
