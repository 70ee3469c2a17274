/*
 * RFC 3261 §25.1:
 *   From          =  ( "From" / "f" ) HCOLON from-spec
 *   from-spec     =  ( name-addr / addr-spec ) *( SEMI from-param )
 *   To            =  ( "To" / "t" ) HCOLON ( name-addr / addr-spec ) *( SEMI to-param )
 *   from-param    =  tag-param / generic-param
 *   tag-param     =  "tag" EQUAL token
 *   name-addr     =  [ display-name ] LAQUOT addr-spec RAQUOT
 *   display-name  =  *(token LWS)/ quoted-string
 * §20.10: "Even if the "display-name" is empty, the "name-addr" form MUST be used if the "addr-spec" contains
 * a comma, semicolon, or question mark" — so a ";tag=" inside <> is the URI's, and one inside the quoted
 * display name is text: the header's tag is the first tag parameter after the address.
 */
import { genValueEnd, isParamEnd, quotedStringEnd, readToken, skipWs } from './params.js';
import { isPlainSipUri } from './plain-sip-uri.js';

/** What plainFromToTag returns for a value it does not read: the full parser (parseFrom/parseTo) decides. */
export const NOT_PLAIN: unique symbol = Symbol('voxgate.sip.not-plain');

function isTagName(s: string, i: number): boolean {
  return (
    (s.charCodeAt(i) | 0x20) === 0x74 &&
    (s.charCodeAt(i + 1) | 0x20) === 0x61 &&
    (s.charCodeAt(i + 2) | 0x20) === 0x67
  );
}

/**
 * The tag of a From or To value (undefined when it has none, '' when it has no value), read in one pass without
 * building the address: for values whose URI is a plain sip/sips URI (isPlainSipUri) and whose display name and
 * parameters are well-formed, which parseFrom/parseTo accept with the same tag. Anything else — a malformed
 * value, another scheme, an IPv6 host, a password, URI headers — is NOT_PLAIN, for the full parser to accept
 * or refuse. It walks the value — `value`, or its part `[from, to)` — as readNameAddr and parseParams do.
 */
export function plainFromToTag(
  value: string,
  from = 0,
  to = value.length,
): string | undefined | typeof NOT_PLAIN {
  let i = skipWs(value, from, to);
  if (i < to && value.charCodeAt(i) === 0x22) {
    const end = quotedStringEnd(value, i, to);
    if (end === -1) return NOT_PLAIN;
    i = skipWs(value, end, to);
    if (i >= to || value.charCodeAt(i) !== 0x3c) return NOT_PLAIN;
  } else {
    // *(token LWS) then "<", or else an addr-spec from the first token on.
    let j = i;
    for (let end = readToken(value, j, to); end !== j; end = readToken(value, j, to))
      j = skipWs(value, end, to);
    if (j < to && value.charCodeAt(j) === 0x3c) i = j;
  }
  let uriEnd: number;
  let next: number;
  const uriStart = i < to && value.charCodeAt(i) === 0x3c ? i + 1 : i;
  if (uriStart > i) {
    uriEnd = value.indexOf('>', uriStart);
    if (uriEnd === -1 || uriEnd >= to) return NOT_PLAIN;
    next = uriEnd + 1;
  } else {
    uriEnd = i;
    while (uriEnd < to && !isParamEnd(value.charCodeAt(uriEnd))) uriEnd++;
    next = uriEnd;
  }
  // A plain URI has neither whitespace (not allowed inside <>) nor "?" (an addr-spec with one needs <>).
  if (!isPlainSipUri(value, uriStart, uriEnd)) return NOT_PLAIN;
  return tagParam(value, next, to);
}

/** The first tag of `*( SEMI generic-param )` from `i` to `to`, or NOT_PLAIN. */
function tagParam(value: string, i: number, to: number): string | undefined | typeof NOT_PLAIN {
  let tag: string | undefined;
  for (;;) {
    i = skipWs(value, i, to);
    if (i >= to) return tag;
    // A "," (a second address) or anything else than ";" here: for the full parser to refuse.
    if (value.charCodeAt(i) !== 0x3b) return NOT_PLAIN;
    const name = skipWs(value, i + 1, to);
    const nameEnd = readToken(value, name, to);
    if (nameEnd === name) return NOT_PLAIN;
    const isTag = tag === undefined && nameEnd - name === 3 && isTagName(value, name);
    i = skipWs(value, nameEnd, to);
    if (i >= to || value.charCodeAt(i) !== 0x3d) {
      if (isTag) tag = '';
      continue;
    }
    const start = skipWs(value, i + 1, to);
    if (start < to && value.charCodeAt(start) === 0x22) {
      i = quotedStringEnd(value, start, to);
      if (i === -1) return NOT_PLAIN;
    } else {
      i = genValueEnd(value, start, to);
      if (i === -1) return NOT_PLAIN;
    }
    if (isTag) tag = value.slice(start, i);
  }
}
