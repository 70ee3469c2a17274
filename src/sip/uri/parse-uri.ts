/*
 * RFC 3261 §25.1:
 *   SIP-URI          =  "sip:" [ userinfo ] hostport uri-parameters [ headers ]
 *   SIPS-URI         =  "sips:" [ userinfo ] hostport uri-parameters [ headers ]
 *   userinfo         =  ( user / telephone-subscriber ) [ ":" password ] "@"
 *   user             =  1*( unreserved / escaped / user-unreserved )
 *   user-unreserved  =  "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
 *   password         =  *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
 *   hostport         =  host [ ":" port ]
 *   host             =  hostname / IPv4address / IPv6reference
 *   uri-parameters   =  *( ";" uri-parameter )
 *   other-param      =  pname [ "=" pvalue ]
 *   paramchar        =  param-unreserved / unreserved / escaped
 *   param-unreserved =  "[" / "]" / "/" / ":" / "&" / "+" / "$"
 *   headers          =  "?" header *( "&" header )
 *   header           =  hname "=" hvalue
 *   hnv-unreserved   =  "[" / "]" / "/" / "?" / ":" / "+" / "$"
 *   absoluteURI      =  scheme ":" ( hier-part / opaque-part )
 *   scheme           =  ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
 * RFC 3966 §3:
 *   telephone-uri    =  "tel:" telephone-subscriber
 */
import { SipParseError } from '../errors.js';
import {
  HNV_CHARS,
  hostnameEnd,
  isEscapedRun,
  isHex,
  PARAM_CHARS,
  PASSWORD_CHARS,
  URIC_CHARS,
  USER_CHARS,
} from './char-classes.js';
import type { AbsoluteUri, SipUri, TelUri, Uri, UriParam } from './uri-types.js';

/** RFC 3966 telephone-subscriber: global-number-digits / local-number-digits, then par. */
const TEL_NUMBER = /^(?:\+[0-9\-.()]*[0-9][0-9\-.()]*|[0-9A-Fa-f*#\-.()]*[0-9A-Fa-f*#][0-9A-Fa-f*#\-.()]*)$/;

function fail(text: string, why: string): SipParseError {
  return new SipParseError('SIP_PARSE_URI', `${why} in URI "${text.slice(0, 80)}"`);
}

/**
 * The `;`-separated parameters of `text[from, to)` (from just past the first `;`): `pname [ "=" pvalue ]`, each
 * of `table` characters and escapes, the name not empty.
 */
function readUriParams(text: string, from: number, to: number, table: Uint8Array): UriParam[] {
  const out: UriParam[] = [];
  for (let i = from; ;) {
    let semi = text.indexOf(';', i);
    if (semi === -1 || semi > to) semi = to;
    let eq = text.indexOf('=', i);
    if (eq === -1 || eq > semi) eq = semi;
    if (
      !isEscapedRun(text, i, eq, table, true) ||
      (eq < semi && !isEscapedRun(text, eq + 1, semi, table, false))
    ) {
      // An "=" is no paramchar: a second one in a parameter is malformed too (eq + 1 .. semi holds it).
      throw fail(text, `malformed parameter "${text.slice(i, Math.min(semi, i + 40))}"`);
    }
    out.push({ name: text.slice(i, eq), value: eq === semi ? undefined : text.slice(eq + 1, semi) });
    if (semi === to) return out;
    i = semi + 1;
  }
}

/** headers = "?" header *( "&" header ); header = hname "=" hvalue: of `text[from, end)`, from just past "?". */
function readUriHeaders(text: string, from: number): UriParam[] {
  const out: UriParam[] = [];
  const end = text.length;
  for (let i = from; ;) {
    let amp = text.indexOf('&', i);
    if (amp === -1) amp = end;
    let eq = text.indexOf('=', i);
    if (eq === -1 || eq > amp) eq = amp;
    if (
      eq === amp ||
      !isEscapedRun(text, i, eq, HNV_CHARS, true) ||
      !isEscapedRun(text, eq + 1, amp, HNV_CHARS, false)
    ) {
      throw fail(text, `malformed header "${text.slice(i, Math.min(amp, i + 40))}"`);
    }
    out.push({ name: text.slice(i, eq), value: text.slice(eq + 1, amp) });
    if (amp === end) return out;
    i = amp + 1;
  }
}

/** `text[0, colon)` as "sip" or "sips" whatever its case, or undefined. */
function sipScheme(text: string, colon: number): 'sip' | 'sips' | undefined {
  if (colon !== 3 && colon !== 4) return undefined;
  if ((text.charCodeAt(0) | 0x20) !== 0x73 || (text.charCodeAt(1) | 0x20) !== 0x69) return undefined;
  if ((text.charCodeAt(2) | 0x20) !== 0x70) return undefined;
  if (colon === 3) return 'sip';
  return (text.charCodeAt(3) | 0x20) === 0x73 ? 'sips' : undefined;
}

/** IPv6reference, `text[start, end)` with its brackets: RFC 5118 §4.10 asks to tolerate the "3 colons" form, so the check is by characters: [0-9A-Fa-f:.], at least one ":". */
function isIpv6Reference(text: string, start: number, end: number): boolean {
  let colon = false;
  for (let i = start + 1; i < end - 1; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) colon = true;
    else if (c !== 0x2e && !isHex(c)) return false;
  }
  return colon;
}

/**
 * Parses a sip:/sips: URI per §25.1 (escapes kept) in one scan from left to right, each component checked by
 * its character table. Throws SipParseError SIP_PARSE_URI.
 */
export function parseSipUri(text: string): SipUri {
  const colon = text.indexOf(':');
  const scheme = sipScheme(text, colon);
  if (scheme === undefined) throw fail(text, 'not a sip or sips scheme');
  const end = text.length;
  let i = colon + 1;
  let user: string | undefined;
  let password: string | undefined;
  // userinfo = ( user / telephone-subscriber ) [ ":" password ] "@": "@" is in neither uri-parameters nor
  // headers, so the first one ends the userinfo.
  const at = text.indexOf('@', i);
  if (at !== -1) {
    let pw = text.indexOf(':', i);
    if (pw === -1 || pw > at) pw = at;
    if (!isEscapedRun(text, i, pw, USER_CHARS, true)) throw fail(text, 'malformed user');
    user = text.slice(i, pw);
    if (pw < at) {
      if (!isEscapedRun(text, pw + 1, at, PASSWORD_CHARS, false)) throw fail(text, 'malformed password');
      password = text.slice(pw + 1, at);
    }
    i = at + 1;
  }
  // hostport = host [ ":" port ]; host = hostname / IPv4address / IPv6reference
  let hostEnd: number;
  if (text.charCodeAt(i) === 0x5b) {
    hostEnd = text.indexOf(']', i) + 1;
    if (hostEnd === 0) throw fail(text, 'unterminated IPv6 reference');
    if (!isIpv6Reference(text, i, hostEnd)) throw fail(text, 'malformed host');
  } else {
    // The host ends at ":", ";", "?" or the end, none of which a hostname holds: what hostnameEnd reads must end
    // there.
    hostEnd = hostnameEnd(text, i, end);
    const c = text.charCodeAt(hostEnd);
    if (hostEnd === -1 || (hostEnd < end && c !== 0x3a && c !== 0x3b && c !== 0x3f)) {
      throw fail(text, 'malformed host');
    }
  }
  const host = text.slice(i, hostEnd);
  i = hostEnd;
  let port: number | undefined;
  if (i < end && text.charCodeAt(i) === 0x3a) {
    // port = 1*DIGIT, read as at most 5 digits, followed by the parameters, the headers or the end.
    const digits = ++i;
    let n = 0;
    for (let c = text.charCodeAt(i); i < end && c >= 0x30 && c <= 0x39; c = text.charCodeAt(++i)) {
      n = n * 10 + (c - 0x30);
    }
    const next = text.charCodeAt(i);
    if (i === digits || i - digits > 5 || n > 65535 || (i < end && next !== 0x3b && next !== 0x3f)) {
      throw fail(text, 'malformed port');
    }
    port = n;
  }
  let q = text.indexOf('?', i);
  if (q === -1) q = end;
  if (i < q && text.charCodeAt(i) !== 0x3b) throw fail(text, 'unexpected characters after host');
  const params = i < q ? readUriParams(text, i + 1, q, PARAM_CHARS) : [];
  const headers = q < end ? readUriHeaders(text, q + 1) : [];
  return { scheme, user, password, host, port, params, headers, text };
}

/** Parses a tel: URI (RFC 3966). Throws SipParseError SIP_PARSE_URI. */
export function parseTelUri(text: string): TelUri {
  const start = text.indexOf(':') + 1;
  let semi = text.indexOf(';', start);
  if (semi === -1) semi = text.length;
  const number = text.slice(start, semi);
  if (!TEL_NUMBER.test(number)) throw fail(text, 'malformed telephone-subscriber');
  const params = semi < text.length ? readUriParams(text, semi + 1, text.length, PARAM_CHARS) : [];
  return { scheme: 'tel', number, params, text };
}

/** scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
function isScheme(text: string, end: number): boolean {
  if (end <= 0 || (text.charCodeAt(0) | 0x20) < 0x61 || (text.charCodeAt(0) | 0x20) > 0x7a) return false;
  for (let i = 1; i < end; i++) {
    const c = text.charCodeAt(i);
    const alpha = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
    if (!alpha && !(c >= 0x30 && c <= 0x39) && c !== 0x2b && c !== 0x2d && c !== 0x2e) return false;
  }
  return true;
}

/**
 * Parses any URI of §25.1: sip, sips and tel in full, any other scheme as an absoluteURI (so 416 can be
 * answered for it). Throws SipParseError SIP_PARSE_URI.
 */
export function parseUri(text: string): Uri {
  const colon = text.indexOf(':');
  if (!isScheme(text, colon)) throw fail(text, 'missing or malformed scheme');
  if (sipScheme(text, colon) !== undefined) return parseSipUri(text);
  const scheme = text.slice(0, colon).toLowerCase();
  if (scheme === 'tel') return parseTelUri(text);
  if (!isEscapedRun(text, colon + 1, text.length, URIC_CHARS, true))
    throw fail(text, 'malformed absoluteURI');
  const uri: AbsoluteUri = { scheme, opaque: text.slice(colon + 1), text };
  return uri;
}

/** A URI parameter's value by case-insensitive name: undefined when absent, '' when present without value. */
export function uriParam(uri: { params: readonly UriParam[] }, name: string): string | undefined {
  const lower = name.toLowerCase();
  const p = uri.params.find((x) => x.name.toLowerCase() === lower);
  return p === undefined ? undefined : (p.value ?? '');
}
