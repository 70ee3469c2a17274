/*
 * RFC 3261 §25.1:
 *   challenge   = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
 *   credentials = ("Digest" LWS digest-response) / other-response
 *   auth-param  = auth-param-name EQUAL ( token / quoted-string )
 */

export interface AuthHeader {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Scheme k=v, k2="v 2"` (names lower-cased, quotes and escapes removed); undefined if malformed. */
export function parseAuthHeader(value: string): AuthHeader | undefined {
  const m = /^\s*([A-Za-z0-9!%*_+`'~.-]+)\s+(.*)$/s.exec(value);
  if (!m?.[1]) return undefined;
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9!%*_+`'~.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*(,|$)/gy;
  const rest = m[2] ?? '';
  let consumed = 0;
  for (let p = re.exec(rest); p; p = re.exec(rest)) {
    const quoted = p[2];
    params[p[1]!.toLowerCase()] =
      quoted === undefined ? p[3]! : quoted.includes('\\') ? quoted.replace(/\\(.)/g, '$1') : quoted;
    consumed = re.lastIndex;
    if (p[4] === '') break;
  }
  if (consumed !== rest.length) return undefined;
  return { scheme: m[1], params };
}

/*
 * Which parameters are tokens, by §25.1 (RFC 7616 §3.3/§3.4 alike):
 *   challenge:   algorithm = "algorithm" EQUAL ( "MD5" / "MD5-sess" / token )
 *                stale     = "stale" EQUAL ( "true" / "false" )
 *                qop-options = "qop" EQUAL LDQUOT qop-value *("," qop-value) RDQUOT   — quoted
 *   credentials: algorithm, message-qop = "qop" EQUAL qop-value, nonce-count = "nc" EQUAL 8LHEX — tokens
 * Strict clients ignore a bare `qop=auth` in a challenge and fall back to RFC 2069 digest without cnonce or
 * nonce count.
 */
const TOKEN_PARAMS = {
  challenge: new Set(['algorithm', 'stale']),
  credentials: new Set(['algorithm', 'qop', 'nc']),
} as const;

/**
 * Formats a Digest challenge (WWW-/Proxy-Authenticate) or credentials (Authorization); token-valued parameters
 * unquoted and the others quoted, as §25.1 requires for each.
 */
export function formatAuthHeader(
  scheme: string,
  params: Record<string, string | undefined>,
  kind: 'challenge' | 'credentials' = 'credentials',
): string {
  const tokens = TOKEN_PARAMS[kind];
  const parts = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => (tokens.has(k) ? `${k}=${v}` : `${k}="${v.replace(/(["\\])/g, '\\$1')}"`));
  return `${scheme} ${parts.join(', ')}`;
}
