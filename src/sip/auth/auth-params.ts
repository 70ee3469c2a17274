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

/** RFC 3261 §25.1 token characters (alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"). */
const TOKEN = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!%*_+`'~.-")
  TOKEN[c.charCodeAt(0)] = 1;
const isToken = (c: number) => c < 128 && TOKEN[c] === 1;
/** What `\s` matches in a regular expression: ECMAScript WhiteSpace and LineTerminator. */
const isSpace = (c: number) =>
  c === 0x20 ||
  (c >= 0x09 && c <= 0x0d) ||
  (c >= 0xa0 &&
    (c === 0xa0 ||
      c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x202f ||
      c === 0x205f ||
      c === 0x3000 ||
      c === 0xfeff));
/** LineTerminator: what a quoted-pair's `\` may not escape here. */
const isLineEnd = (c: number) => c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;

/**
 * `params[name.toLowerCase()] = value`, the names digest uses (RFC 7616 §3.3, §3.4) stored by a constant name:
 * a store under a computed key interns the key and looks for the property each time, most of the cost of a
 * header's parse.
 */
function setParam(params: Record<string, string>, name: string, value: string): void {
  switch (name) {
    case 'username':
      params.username = value;
      return;
    case 'realm':
      params.realm = value;
      return;
    case 'nonce':
      params.nonce = value;
      return;
    case 'uri':
      params.uri = value;
      return;
    case 'response':
      params.response = value;
      return;
    case 'algorithm':
      params.algorithm = value;
      return;
    case 'cnonce':
      params.cnonce = value;
      return;
    case 'opaque':
      params.opaque = value;
      return;
    case 'qop':
      params.qop = value;
      return;
    case 'nc':
      params.nc = value;
      return;
    default:
      params[name.toLowerCase()] = value;
  }
}

/**
 * Parses `Scheme k=v, k2="v 2"` (names lower-cased, quotes and escapes removed); undefined if malformed. One
 * scan over the text (a regular expression only to unescape a quoted-pair): the scheme, white space, then `name = ( token / quoted-string )`
 * pairs separated by commas (white space around each part; a trailing comma allowed), the whole text consumed.
 * A later parameter of the same name replaces an earlier one.
 */
export function parseAuthHeader(value: string): AuthHeader | undefined {
  const n = value.length;
  let i = 0;
  while (i < n && isSpace(value.charCodeAt(i))) i++;
  const schemeStart = i;
  while (i < n && isToken(value.charCodeAt(i))) i++;
  if (i === schemeStart || i === n || !isSpace(value.charCodeAt(i))) return undefined;
  const scheme = value.slice(schemeStart, i);
  while (i < n && isSpace(value.charCodeAt(i))) i++;
  const params: Record<string, string> = {};
  // Most headers have no `\` at all: their quoted strings end at the next `"`.
  const anyEscape = value.includes('\\');
  // `i` is where the text consumed so far ends: after the last comma, or the end once a pair ends the text.
  while (i < n) {
    let j = i;
    while (j < n && isSpace(value.charCodeAt(j))) j++;
    const nameStart = j;
    while (j < n && isToken(value.charCodeAt(j))) j++;
    if (j === nameStart) break;
    const name = value.slice(nameStart, j);
    while (j < n && isSpace(value.charCodeAt(j))) j++;
    if (value.charCodeAt(j) !== 0x3d /* = */) break;
    j++;
    while (j < n && isSpace(value.charCodeAt(j))) j++;
    let param: string;
    if (value.charCodeAt(j) === 0x22 /* " */) {
      // quoted-string: any character but `"` and `\`, or `\` and the character it escapes (not a line end).
      let k = value.indexOf('"', j + 1);
      const escape = anyEscape ? value.indexOf('\\', j + 1) : -1;
      const escaped = escape !== -1 && (k === -1 || escape < k);
      if (escaped) {
        for (k = escape; k < n;) {
          const c = value.charCodeAt(k);
          if (c === 0x22) break;
          if (c !== 0x5c /* \ */) k++;
          else if (k + 1 < n && !isLineEnd(value.charCodeAt(k + 1))) k += 2;
          else k = n;
        }
      }
      if (k === -1 || k >= n) break; // unterminated
      param = value.slice(j + 1, k);
      if (escaped) param = param.replace(/\\(.)/g, '$1');
      j = k + 1;
    } else {
      const start = j;
      for (; j < n; j++) {
        const c = value.charCodeAt(j);
        if (c === 0x2c /* , */ || c === 0x22 || isSpace(c)) break;
      }
      if (j === start) break;
      param = value.slice(start, j);
    }
    while (j < n && isSpace(value.charCodeAt(j))) j++;
    if (j < n && value.charCodeAt(j) !== 0x2c) break;
    setParam(params, name, param);
    i = j < n ? j + 1 : n;
  }
  if (i !== n) return undefined;
  return { scheme, params };
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
