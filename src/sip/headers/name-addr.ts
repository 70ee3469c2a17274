/*
 * RFC 3261 §25.1:
 *   name-addr      =  [ display-name ] LAQUOT addr-spec RAQUOT
 *   addr-spec      =  SIP-URI / SIPS-URI / absoluteURI
 *   display-name   =  *(token LWS)/ quoted-string
 *   LAQUOT         =  SWS "<"
 *   RAQUOT         =  ">" SWS
 * §20.10: "Even if the "display-name" is empty, the "name-addr" form MUST be used if the "addr-spec" contains
 * a comma, semicolon, or question mark."
 */
import { SipParseError } from '../errors.js';
import { parseUri } from '../uri/parse-uri.js';
import type { Uri } from '../uri/uri-types.js';
import { isParamEnd, parseParams, quotedStringEnd, readToken, skipWs, type HeaderParam } from './params.js';

export interface NameAddr {
  /** The display name without quotes and quoted-pair escapes; undefined when none was given. */
  readonly displayName: string | undefined;
  /** The URI text as written between <> (or the bare addr-spec). */
  readonly uriText: string;
  readonly uri: Uri;
  /** Header parameters after the address (tag, expires, q, …), not the URI's own. */
  readonly params: readonly HeaderParam[];
  /** Whether the <> form was used. */
  readonly bracketed: boolean;
}

function bad(header: string, value: string, why: string): SipParseError {
  return new SipParseError('SIP_PARSE_ADDRESS', `${header}: ${why} in "${value.slice(0, 80)}"`);
}

/** Whether `text[start, end)` holds a character of JavaScript's `\s` (what a URI cannot hold unescaped). */
function hasWhitespace(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (
      c <= 0x20
        ? c === 0x20 || (c >= 0x09 && c <= 0x0d)
        : c === 0xa0 || (c > 0xff && WHITESPACE.test(text[i]!))
    )
      return true;
  }
  return false;
}

const WHITESPACE = /\s/;

/** The tokens of `*(token LWS)` in `value[from, to)`, joined by single spaces. */
function displayWords(value: string, from: number, to: number): string {
  const words: string[] = [];
  for (let j = from, end = readToken(value, j, to); end !== j; end = readToken(value, j, to)) {
    words.push(value.slice(j, end));
    j = skipWs(value, end, to);
  }
  return words.join(' ');
}

/**
 * parseUri of the addr-spec `uriText` of `value`. No SWS inside the brackets: LAQUOT is SWS "<", RAQUOT is ">"
 * SWS (RFC 4475 §3.1.2.14, badaspec) — refused as the address's error, not the URI's. No URI holds whitespace
 * (none of its character classes has any), so it is looked for only in a URI that parseUri refused.
 */
function parseAddrSpec(header: string, value: string, uriText: string, bracketed: boolean): Uri {
  try {
    return parseUri(uriText);
  } catch (err) {
    if (bracketed && hasWhitespace(uriText, 0, uriText.length))
      throw bad(header, value, 'whitespace inside <>');
    throw err;
  }
}

/**
 * Reads `( name-addr / addr-spec ) *( SEMI generic-param )` from `value` at `i`, stopping at a top-level `,`
 * (Contact lists) or the end. Throws SipParseError SIP_PARSE_ADDRESS (or SIP_PARSE_URI for the URI).
 */
export function readNameAddr(header: string, value: string, i: number): { addr: NameAddr; end: number } {
  i = skipWs(value, i);
  let displayName: string | undefined;
  if (value[i] === '"') {
    const end = quotedStringEnd(value, i);
    if (end === -1) throw bad(header, value, 'unterminated quoted string');
    displayName = value.slice(i + 1, end - 1);
    if (displayName.includes('\\')) displayName = displayName.replace(/\\(.)/gs, '$1');
    i = skipWs(value, end);
    if (value[i] !== '<') throw bad(header, value, 'quoted display name without <URI>');
  } else {
    // *(token LWS) then "<", or an addr-spec (whose scheme reads as a first token): the words are cut out only
    // when a "<" follows them.
    let j = i;
    for (let end = readToken(value, j); end !== j; end = readToken(value, j)) j = skipWs(value, end);
    if (value.charCodeAt(j) === 0x3c) {
      displayName = j > i ? displayWords(value, i, j) : undefined;
      i = j;
    }
  }
  let uriText: string;
  const bracketed = value.charCodeAt(i) === 0x3c;
  if (bracketed) {
    const gt = value.indexOf('>', i);
    if (gt === -1) throw bad(header, value, 'missing >');
    uriText = value.slice(i + 1, gt);
    i = gt + 1;
  } else {
    let end = i;
    while (end < value.length && !isParamEnd(value.charCodeAt(end))) end++;
    uriText = value.slice(i, end);
    if (uriText.includes('?')) throw bad(header, value, 'an addr-spec with "?" needs <> (§20.10)');
    i = end;
  }
  const uri = parseAddrSpec(header, value, uriText, bracketed);
  const { params, end } = parseParams(value, i, 'SIP_PARSE_ADDRESS');
  return { addr: { displayName, uriText, uri, params, bracketed }, end };
}

/** Parses a single-address header value (From, To, Reply-To, …): anything after the address is an error. */
export function parseNameAddr(header: string, value: string): NameAddr {
  const { addr, end } = readNameAddr(header, value, 0);
  if (end !== value.length) throw bad(header, value, 'unexpected text after the address');
  return addr;
}

/**
 * A From/To value without its `tag` parameter (§19.3), as a B2BUA's new leg or a dialog's stored URI needs it.
 * Only the header parameters after the `<…>` are looked at: a `;tag=` inside the URI is the URI's own.
 */
export function withoutTag(value: string): string {
  const gt = value.lastIndexOf('>');
  const params = value.slice(gt + 1);
  const stripped = params.replace(/;\s*tag\s*=[^;,\s]*/i, '');
  return stripped === params ? value : value.slice(0, gt + 1) + stripped;
}

/**
 * The value of header parameter `name` (compared without case, §7.3.1) of a parsed name-addr, as `headerParam`
 * gives it from the text: quotes kept, '' for a parameter without a value, undefined when it is absent.
 */
export function nameAddrParam(addr: NameAddr, name: string): string | undefined {
  for (const p of addr.params) {
    if (p.name.length === name.length && p.name.toLowerCase() === name.toLowerCase()) return p.value ?? '';
  }
  return undefined;
}

/**
 * A name-addr (§20.10) for `uri` with `displayName` (unquoted, as `NameAddr.displayName` holds it), written as a
 * quoted-string with `"` and `\` escaped (§25.1 quoted-pair), which any display name may be; without a display
 * name, `<uri>`.
 */
export function formatNameAddr(displayName: string | undefined, uri: string): string {
  return displayName ? `"${displayName.replace(/["\\]/g, '\\$&')}" <${uri}>` : `<${uri}>`;
}
