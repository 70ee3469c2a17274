/*
 * RFC 3261 §25.1:
 *   Content-Type     =  ( "Content-Type" / "c" ) HCOLON media-type
 *   media-type       =  m-type SLASH m-subtype *(SEMI m-parameter)
 *   m-type           =  discrete-type / composite-type   (a token)
 *   m-subtype        =  extension-token / iana-token     (a token)
 *   m-parameter      =  m-attribute EQUAL m-value
 *   m-value          =  token / quoted-string
 * Accept (§20.1) lists media-ranges: ( "*" "/" "*" / ( m-type SLASH "*" ) / ( m-type SLASH m-subtype ) ).
 */
import { SipParseError } from '../errors.js';
import { parseParams, readToken, skipWs, type HeaderParam } from './params.js';

export interface MediaType {
  /** Lower-cased "type/subtype" (media types compare case-insensitively, RFC 2045 §5.1). */
  readonly type: string;
  readonly params: readonly HeaderParam[];
}

/**
 * Reads one media-type (or media-range) at `i`, stopping at a `,` or the end. Throws SIP_PARSE_HEADER.
 */
function readMediaType(value: string, i: number): { media: MediaType; end: number } {
  const start = skipWs(value, i);
  const typeEnd = readToken(value, start);
  const slash = skipWs(value, typeEnd);
  const subStart = skipWs(value, slash + 1);
  const subEnd = readToken(value, subStart);
  if (typeEnd === start || value[slash] !== '/' || subEnd === subStart) {
    throw new SipParseError('SIP_PARSE_HEADER', `malformed media type "${value.slice(0, 80)}"`);
  }
  const { params, end } = parseParams(value, subEnd, 'SIP_PARSE_HEADER');
  const type = `${value.slice(start, typeEnd)}/${value.slice(subStart, subEnd)}`.toLowerCase();
  return { media: { type, params }, end };
}

export function parseContentType(value: string): MediaType {
  const { media, end } = readMediaType(value, 0);
  if (end !== value.length) {
    throw new SipParseError('SIP_PARSE_HEADER', `Content-Type has one media type: "${value.slice(0, 80)}"`);
  }
  return media;
}

/** Every media-range of an Accept value; an empty Accept is an empty list (§20.1: it means "none"). */
export function parseAccept(value: string): MediaType[] {
  const out: MediaType[] = [];
  if (value.trim() === '') return out;
  let i = 0;
  for (;;) {
    const { media, end } = readMediaType(value, i);
    out.push(media);
    if (end >= value.length) return out;
    i = end + 1;
  }
}

/** Whether `type` ("a/b") falls in `range` ("a/b", "a/*" or "*\/*"). */
export function mediaRangeMatches(range: string, type: string): boolean {
  if (range === '*/*' || range === type) return true;
  return range.endsWith('/*') && type.startsWith(range.slice(0, -1));
}
