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
import { codesOf, genValueEndAt, isParamEndByte, quotedEndAt, skipWsAt, tokenEndAt } from './byte-scan.js';
import { isPlainSipUriAt, plainSipUriEnd } from './plain-sip-uri-at.js';

/** What plainFromToTag returns for a value it does not read: the full parser (parseFrom/parseTo) decides. */
export const NOT_PLAIN: unique symbol = Symbol('voxgate.sip.not-plain');

/** What fromToTagAt returns: the value is not plain (for the full parser), it has no tag, or it has one (TAG). */
export const TAG_NOT_PLAIN = 0;
export const TAG_NONE = 1;
export const TAG_FOUND = 2;

/** Where the tag that fromToTagAt found starts and ends (TAG[0], TAG[1]); rewritten by the next call. */
export const TAG = new Int32Array(2);

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
  const found = fromToTagAt(codesOf(value), from, to);
  if (found === TAG_NOT_PLAIN) return NOT_PLAIN;
  return found === TAG_NONE ? undefined : value.slice(TAG[0], TAG[1]);
}

/**
 * plainFromToTag over the codes `b` of a From or To value `[from, to)` (the message's bytes where its head is
 * all ASCII): TAG_NOT_PLAIN, TAG_NONE, or TAG_FOUND with the tag's place in TAG.
 */
export function fromToTagAt(b: Uint8Array, from: number, to: number): number {
  let i = skipWsAt(b, from, to);
  if (i < to && b[i] === 0x22) {
    const end = quotedEndAt(b, i, to);
    if (end === -1) return TAG_NOT_PLAIN;
    i = skipWsAt(b, end, to);
    if (i >= to || b[i] !== 0x3c) return TAG_NOT_PLAIN;
  } else {
    // *(token LWS) then "<", or else an addr-spec from the first token on.
    let j = i;
    for (let end = tokenEndAt(b, j, to); end !== j; end = tokenEndAt(b, j, to)) j = skipWsAt(b, end, to);
    if (j < to && b[j] === 0x3c) i = j;
  }
  // A plain URI has neither whitespace (not allowed inside <>) nor "?" (an addr-spec with one needs <>).
  if (i < to && b[i] === 0x3c) {
    // Inside <>: the URI up to the first ">", read in the same pass (no code of a plain URI is ">").
    const uriEnd = plainSipUriEnd(b, i + 1, to);
    if (uriEnd === -1 || uriEnd >= to || b[uriEnd] !== 0x3e) return TAG_NOT_PLAIN;
    return tagParam(b, uriEnd + 1, to);
  }
  let uriEnd = i;
  while (uriEnd < to && !isParamEndByte(b[uriEnd]!)) uriEnd++;
  if (!isPlainSipUriAt(b, i, uriEnd)) return TAG_NOT_PLAIN;
  return tagParam(b, uriEnd, to);
}

/** The first tag of `*( SEMI generic-param )` from `i` to `to` (into TAG), TAG_NONE or TAG_NOT_PLAIN. */
function tagParam(b: Uint8Array, i: number, to: number): number {
  let found = TAG_NONE;
  for (;;) {
    i = skipWsAt(b, i, to);
    if (i >= to) return found;
    // A "," (a second address) or anything else than ";" here: for the full parser to refuse.
    if (b[i] !== 0x3b) return TAG_NOT_PLAIN;
    const name = skipWsAt(b, i + 1, to);
    const nameEnd = tokenEndAt(b, name, to);
    if (nameEnd === name) return TAG_NOT_PLAIN;
    const isTag =
      found === TAG_NONE &&
      nameEnd - name === 3 &&
      (b[name]! | 0x20) === 0x74 &&
      (b[name + 1]! | 0x20) === 0x61 &&
      (b[name + 2]! | 0x20) === 0x67;
    i = skipWsAt(b, nameEnd, to);
    if (i >= to || b[i] !== 0x3d) {
      if (isTag) {
        found = TAG_FOUND;
        TAG[0] = TAG[1] = i;
      }
      continue;
    }
    const start = skipWsAt(b, i + 1, to);
    if (start < to && b[start] === 0x22) {
      i = quotedEndAt(b, start, to);
      if (i === -1) return TAG_NOT_PLAIN;
    } else {
      i = genValueEndAt(b, start, to);
      if (i === -1) return TAG_NOT_PLAIN;
    }
    if (isTag) {
      found = TAG_FOUND;
      TAG[0] = start;
      TAG[1] = i;
    }
  }
}
