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
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
    consumed = re.lastIndex;
    if (p[4] === '') break;
  }
  if (consumed !== rest.length) return undefined;
  return { scheme: m[1], params };
}

const TOKEN_PARAMS = new Set(['algorithm', 'qop', 'nc', 'stale']);

/** Formats a Digest challenge or credentials; token-valued parameters unquoted as §25.1 requires. */
export function formatAuthHeader(scheme: string, params: Record<string, string | undefined>): string {
  const parts = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => (TOKEN_PARAMS.has(k) ? `${k}=${v}` : `${k}="${v.replace(/(["\\])/g, '\\$1')}"`));
  return `${scheme} ${parts.join(', ')}`;
}
