/**
 * The URI parser as it was before the one-pass URI scanner: one regular expression per component. Kept here,
 * unchanged in behaviour, as the oracle of uri-differential.test.ts: src/sip/uri/parse-uri.ts must accept exactly
 * what this one accepts and read the same components.
 */
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
import { SipParseError } from '../../../src/sip/errors.js';
import type { AbsoluteUri, SipUri, TelUri, Uri, UriParam } from '../../../src/sip/uri/uri-types.js';

const ESC = '%[0-9A-Fa-f]{2}';
const UNRESERVED = "A-Za-z0-9\\-_.!~*'()";
const USER = new RegExp(`^(?:[${UNRESERVED}&=+$,;?/]|${ESC})+$`);
const PASSWORD = new RegExp(`^(?:[${UNRESERVED}&=+$,]|${ESC})*$`);
const PARAM = new RegExp(`^(?:[${UNRESERVED}\\[\\]/:&+$]|${ESC})+$`);
const HNV = new RegExp(`^(?:[${UNRESERVED}\\[\\]/?:+$]|${ESC})*$`);
/** hostname / IPv4address: labels of alphanum and "-", optional trailing dot. */
const HOSTNAME =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;
/** IPv6reference; RFC 5118 §4.10 asks to tolerate the "3 colons" form, so the check is by characters. */
const IPV6_REFERENCE = /^\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
const URIC = new RegExp(`^(?:[${UNRESERVED};/?:@&=+$,]|${ESC})+$`);
/** RFC 3966 telephone-subscriber: global-number-digits / local-number-digits, then par. */
const TEL_NUMBER = /^(?:\+[0-9\-.()]*[0-9][0-9\-.()]*|[0-9A-Fa-f*#\-.()]*[0-9A-Fa-f*#][0-9A-Fa-f*#\-.()]*)$/;

function fail(text: string, why: string): SipParseError {
  return new SipParseError('SIP_PARSE_URI', `${why} in URI "${text.slice(0, 80)}"`);
}

function params(text: string, parts: readonly string[], check: RegExp): UriParam[] {
  return parts.map((part) => {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? undefined : part.slice(eq + 1);
    if (!check.test(name) || (value !== undefined && value !== '' && !check.test(value))) {
      throw fail(text, `malformed parameter "${part.slice(0, 40)}"`);
    }
    return { name, value };
  });
}

/** Parses a sip:/sips: URI per §25.1 (escapes kept). Throws SipParseError SIP_PARSE_URI. */
export function refParseSipUri(text: string): SipUri {
  const colon = text.indexOf(':');
  const scheme = text.slice(0, colon).toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') throw fail(text, 'not a sip or sips scheme');
  let rest = text.slice(colon + 1);
  let user: string | undefined;
  let password: string | undefined;
  // "@" is in neither uri-parameters nor headers, so the first one ends the userinfo.
  const at = rest.indexOf('@');
  if (at !== -1) {
    const userinfo = rest.slice(0, at);
    const pw = userinfo.indexOf(':');
    user = pw === -1 ? userinfo : userinfo.slice(0, pw);
    password = pw === -1 ? undefined : userinfo.slice(pw + 1);
    if (!USER.test(user)) throw fail(text, 'malformed user');
    if (password !== undefined && !PASSWORD.test(password)) throw fail(text, 'malformed password');
    rest = rest.slice(at + 1);
  }
  let hostEnd: number;
  if (rest.startsWith('[')) {
    hostEnd = rest.indexOf(']') + 1;
    if (hostEnd === 0) throw fail(text, 'unterminated IPv6 reference');
  } else {
    hostEnd = rest.search(/[:;?]/);
    if (hostEnd === -1) hostEnd = rest.length;
  }
  const host = rest.slice(0, hostEnd);
  if (!(IPV6_REFERENCE.test(host) || HOSTNAME.test(host))) throw fail(text, 'malformed host');
  rest = rest.slice(hostEnd);
  let port: number | undefined;
  if (rest.startsWith(':')) {
    const m = /^:(\d{1,5})(?=[;?]|$)/.exec(rest);
    if (!m?.[1] || Number(m[1]) > 65535) throw fail(text, 'malformed port');
    port = Number(m[1]);
    rest = rest.slice(m[0].length);
  }
  const q = rest.indexOf('?');
  const paramText = q === -1 ? rest : rest.slice(0, q);
  const headerText = q === -1 ? undefined : rest.slice(q + 1);
  if (paramText !== '' && !paramText.startsWith(';')) throw fail(text, 'unexpected characters after host');
  const uriParams = paramText === '' ? [] : params(text, paramText.slice(1).split(';'), PARAM);
  const headers =
    headerText === undefined
      ? []
      : headerText.split('&').map((h) => {
          const eq = h.indexOf('=');
          if (eq <= 0 || !HNV.test(h.slice(0, eq)) || !HNV.test(h.slice(eq + 1))) {
            throw fail(text, `malformed header "${h.slice(0, 40)}"`);
          }
          return { name: h.slice(0, eq), value: h.slice(eq + 1) };
        });
  return { scheme, user, password, host, port, params: uriParams, headers, text };
}

/** Parses a tel: URI (RFC 3966). Throws SipParseError SIP_PARSE_URI. */
function refParseTelUri(text: string): TelUri {
  const [number = '', ...rest] = text.slice(text.indexOf(':') + 1).split(';');
  if (!TEL_NUMBER.test(number)) throw fail(text, 'malformed telephone-subscriber');
  return { scheme: 'tel', number, params: params(text, rest, PARAM), text };
}

/**
 * Parses any URI of §25.1: sip, sips and tel in full, any other scheme as an absoluteURI (so 416 can be
 * answered for it). Throws SipParseError SIP_PARSE_URI.
 */
export function refParseUri(text: string): Uri {
  const colon = text.indexOf(':');
  if (colon <= 0 || !SCHEME.test(text.slice(0, colon))) throw fail(text, 'missing or malformed scheme');
  const scheme = text.slice(0, colon).toLowerCase();
  if (scheme === 'sip' || scheme === 'sips') return refParseSipUri(text);
  if (scheme === 'tel') return refParseTelUri(text);
  const opaque = text.slice(colon + 1);
  if (!URIC.test(opaque)) throw fail(text, 'malformed absoluteURI');
  const uri: AbsoluteUri = { scheme, opaque, text };
  return uri;
}
