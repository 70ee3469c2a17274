/*
 * RFC 3261 §19.1.4 Equivalence of SIP and SIPS URIs:
 *   "A SIP and SIPS URI are never equivalent."
 *   "Comparison of the userinfo of SIP and SIPS URIs is case-sensitive. … Comparison of all other components of
 *    the URI is case-insensitive unless explicitly defined otherwise."
 *   "The ordering of parameters and header fields is not significant in comparing SIP and SIPS URIs."
 *   "Characters other than those in the 'reserved' set (see RFC 2396) are equivalent to their '"%" HEX HEX'
 *    encoding."
 *   "An IP address that is the result of a DNS lookup of a host name does not match that host name."
 *   "For two URIs to be equal, the user, password, host, and port components must match. A URI omitting the
 *    user component will not match a URI that includes one. … A URI omitting any component with a default value
 *    will not match a URI explicitly containing that component with its default value."
 *   "Any uri-parameter appearing in both URIs must match. A user, ttl, or method uri-parameter appearing in only
 *    one URI never matches, even if it contains the default value. A URI that includes an maddr parameter will
 *    not match a URI that contains no maddr parameter. All other uri-parameters appearing in only one URI are
 *    ignored when comparing the URIs."
 *   "URI header components are never ignored. Any present header component MUST be present in both URIs and
 *    match for the URIs to match."
 * The relation is not transitive (the RFC's own example: sip:carol@chicago.com equals both
 * sip:carol@chicago.com;newparam=5 and sip:carol@chicago.com;security=on, which differ).
 */
import { parseSipUri } from './parse-uri.js';
import type { SipUri, UriParam } from './uri-types.js';

/** RFC 2396 §2.2 reserved = ";" | "/" | "?" | ":" | "@" | "&" | "=" | "+" | "$" | "," */
const RESERVED = ';/?:@&=+$,';
const ESCAPE = /%([0-9A-Fa-f]{2})/g;

/** Escapes of unreserved characters undone, the others' hex digits in upper case: one spelling per meaning. */
function canonicalEscapes(text: string): string {
  if (!text.includes('%')) return text;
  return text.replace(ESCAPE, (escape: string, hex: string) => {
    const code = parseInt(hex, 16);
    const char = String.fromCharCode(code);
    return code < 0x80 && code > 0x20 && !RESERVED.includes(char) && char !== '%'
      ? char
      : `%${hex.toUpperCase()}`;
  });
}

/** A component compared case-insensitively (everything but userinfo). */
const folded = (text: string | undefined) =>
  text === undefined ? undefined : canonicalEscapes(text).toLowerCase();

/** Parameters by lower-cased name (the first of a repeated name), values folded; a bare name has value null. */
function byName(params: readonly UriParam[]): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const p of params) {
    const name = p.name.toLowerCase();
    if (!out.has(name)) out.set(name, p.value === undefined ? null : folded(p.value)!);
  }
  return out;
}

/**
 * The uri-parameters that must appear in both URIs or neither: those the rules name, and transport, which the
 * section's examples add ("sip:bob@biloxi.com (can resolve to different transports)" is not
 * "sip:bob@biloxi.com;transport=udp").
 */
const NEVER_IGNORED = new Set(['user', 'ttl', 'method', 'maddr', 'transport']);

/** Whether two SIP or SIPS URIs are equivalent by RFC 3261 §19.1.4. */
export function sipUrisEqual(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  // Userinfo: case-sensitive, escapes of unreserved characters equivalent.
  if (a.user === undefined ? b.user !== undefined : b.user === undefined) return false;
  if (a.user !== undefined && canonicalEscapes(a.user) !== canonicalEscapes(b.user!)) return false;
  if (a.password === undefined ? b.password !== undefined : b.password === undefined) return false;
  if (a.password !== undefined && canonicalEscapes(a.password) !== canonicalEscapes(b.password!))
    return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase() || a.port !== b.port) return false;
  const pa = byName(a.params);
  const pb = byName(b.params);
  for (const [name, value] of pa) {
    if (pb.has(name)) {
      if (pb.get(name) !== value) return false;
    } else if (NEVER_IGNORED.has(name)) return false;
  }
  for (const name of pb.keys()) if (!pa.has(name) && NEVER_IGNORED.has(name)) return false;
  const ha = byName(a.headers);
  const hb = byName(b.headers);
  if (ha.size !== hb.size) return false;
  for (const [name, value] of ha) if (!hb.has(name) || hb.get(name) !== value) return false;
  return true;
}

/**
 * Whether two URIs as written are the same: §19.1.4 when both are SIP or SIPS URIs, otherwise (another scheme,
 * or text that does not parse) the same text.
 */
export function sameUri(a: string, b: string): boolean {
  if (a === b) return true;
  let ua: SipUri;
  let ub: SipUri;
  try {
    ua = parseSipUri(a);
    ub = parseSipUri(b);
  } catch {
    return false;
  }
  return sipUrisEqual(ua, ub);
}
