import { parseContact } from '../headers/contact.js';
import { parseAccept, parseContentType, type MediaType } from '../headers/content-type.js';
import { parseOptionTags } from '../headers/option-tags.js';
import { parseFrom, type FromTo } from '../headers/from.js';
import { parseMaxForwards } from '../headers/max-forwards.js';
import type { NameAddr } from '../headers/name-addr.js';
import { parseTo } from '../headers/to.js';
import { parseVia, type Via } from '../headers/via.js';
import { parseUri } from '../uri/parse-uri.js';
import type { Uri } from '../uri/uri-types.js';
import { cachedParse, REQUEST_URI } from './header-cache.js';
import type { SipHeader, SipRequest } from './sip-message.js';

/*
 * Typed, lazily parsed views of a message's headers. Each throws SipParseError when the header is malformed;
 * the result is cached per header object, so asking twice costs a property read.
 */

type WithHeaders = { readonly headers: readonly SipHeader[] };

function first(message: WithHeaders, name: string): SipHeader | undefined {
  for (const h of message.headers) if (h.name === name) return h;
  return undefined;
}

/** The first `name` header as `parse` reads it (cached), or undefined when there is none. */
function firstParsed<T>(message: WithHeaders, name: string, parse: (value: string) => T): T | undefined {
  const h = first(message, name);
  return h && cachedParse(h, parse);
}

/** Every via-parm of every Via header, topmost first. */
export function viaOf(message: WithHeaders): Via[] {
  const out: Via[] = [];
  for (const h of message.headers) {
    if (h.name !== 'Via') continue;
    const vias = cachedParse(h, parseVia);
    for (let i = 0; i < vias.length; i++) out.push(vias[i]!);
  }
  return out;
}

/** The topmost via-parm. */
export function topViaOf(message: WithHeaders): Via | undefined {
  return firstParsed(message, 'Via', parseVia)?.[0];
}

export function fromOf(message: WithHeaders): FromTo | undefined {
  return firstParsed(message, 'From', parseFrom);
}

export function toOf(message: WithHeaders): FromTo | undefined {
  return firstParsed(message, 'To', parseTo);
}

/** Every contact of every Contact header; '*' for a wildcard; [] when there is none. */
export function contactsOf(message: WithHeaders): '*' | NameAddr[] {
  const out: NameAddr[] = [];
  for (const h of message.headers) {
    if (h.name !== 'Contact') continue;
    const parsed = cachedParse(h, parseContact);
    if (parsed === '*') return '*';
    out.push(...parsed);
  }
  return out;
}

export function maxForwardsOf(message: WithHeaders): number | undefined {
  return firstParsed(message, 'Max-Forwards', parseMaxForwards);
}

/** The Content-Type's media type, or undefined when there is none. */
export function contentTypeOf(message: WithHeaders): MediaType | undefined {
  return firstParsed(message, 'Content-Type', parseContentType);
}

/** Every media-range of every Accept header; undefined when the message has no Accept. */
export function acceptOf(message: WithHeaders): MediaType[] | undefined {
  const hs = message.headers.filter((h) => h.name === 'Accept');
  return hs.length === 0 ? undefined : hs.flatMap((h) => cachedParse(h, parseAccept));
}

/** Every option tag of every header `name` (Require, Proxy-Require, Supported, Unsupported). */
export function optionTagsOf(
  message: WithHeaders,
  name: 'Require' | 'Proxy-Require' | 'Supported' | 'Unsupported',
): string[] {
  return message.headers.filter((h) => h.name === name).flatMap((h) => cachedParse(h, parseOptionTags));
}

/**
 * Whether header `name` lists option tag `tag` (compared without case, as the §8.2.2.3 check does). A
 * malformed list counts as not listing it: the question is asked of headers no §8.2 check has parsed.
 */
export function hasOptionTag(
  message: WithHeaders,
  name: 'Require' | 'Proxy-Require' | 'Supported' | 'Unsupported',
  tag: string,
): boolean {
  try {
    return optionTagsOf(message, name).some((t) => t.toLowerCase() === tag);
  } catch {
    return false;
  }
}

/**
 * The Request-URI's parse, on the request under a symbol with the text it was parsed from: a copy made with
 * `{ ...request, uri }` carries the slot along, and parses its own URI again. A slot instead of a WeakMap, as
 * for headers (`header-cache.ts`): a property read, and no weak table for the collector to walk.
 */
type WithParsedUri = Pick<SipRequest, 'uri'> & { [REQUEST_URI]?: { text: string; uri: Uri } };

/** The parsed Request-URI (sip, sips, tel, or any other scheme as an absolute URI). */
export function requestUriOf(request: Pick<SipRequest, 'uri'>): Uri {
  const r = request as WithParsedUri;
  const parsed = r[REQUEST_URI];
  if (parsed !== undefined && parsed.text === request.uri) return parsed.uri;
  const uri = parseUri(request.uri);
  // Requests handed in from outside may be frozen; then they are simply parsed again next time.
  if (Object.isExtensible(request)) r[REQUEST_URI] = { text: request.uri, uri };
  return uri;
}
