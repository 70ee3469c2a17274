/**
 * What a REFER's Refer-To (RFC 3515 §2.1) and a Replaces header (RFC 3891 §6.1) name, parsed for the call's
 * transfers (`call-transfers.ts`) and the B2BUA's INVITE with Replaces.
 *
 *   Refer-To  = ("Refer-To" / "r") HCOLON ( name-addr / addr-spec ) *(SEMI refer-param)
 *   Replaces  = "Replaces" HCOLON callid *(SEMI replaces-param)
 *   replaces-param = to-tag / from-tag / early-flag / generic-param
 */
import { parseUri, SipParseError, uriOf } from '../../sip/index.js';
import type { DialogId } from './call-types.js';

/**
 * The target of a Refer-To value: its URI without URI headers, and whether it embeds a Replaces (an attended
 * transfer, RFC 3891 §4). Undefined when it is no sip/sips/tel URI or its Replaces is malformed.
 */
export function referTarget(value: string): { uri: string; replaces?: DialogId } | undefined {
  const text = uriOf(value);
  try {
    const uri = parseUri(text);
    if (uri.scheme === 'tel') return { uri: text };
    if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return undefined;
    const headers = 'headers' in uri ? uri.headers : [];
    const query = text.indexOf('?');
    const embedded = headers.find((h) => h.name.toLowerCase() === 'replaces')?.value;
    const replaces = embedded === undefined ? undefined : parseReplaces(decodeURIComponent(embedded));
    if (embedded !== undefined && !replaces) return undefined;
    return { uri: query < 0 ? text : text.slice(0, query), ...(replaces ? { replaces } : {}) };
  } catch (err) {
    if (err instanceof SipParseError || err instanceof URIError) return undefined;
    throw err;
  }
}

/**
 * The dialog a Replaces header names (RFC 3891 §6.1: "exactly one to-tag and exactly one from-tag"), as the
 * receiving UAS sees it: the to-tag is its local tag, the from-tag the remote one. Undefined when malformed.
 */
export function parseReplaces(value: string): DialogId | undefined {
  const [callId, ...params] = value.split(';').map((p) => p.trim());
  const tags = (name: string) =>
    params.filter((p) => p.toLowerCase().startsWith(`${name}=`)).map((p) => p.slice(name.length + 1));
  const to = tags('to-tag');
  const from = tags('from-tag');
  if (!callId || to.length !== 1 || from.length !== 1 || !to[0] || !from[0]) return undefined;
  return { callId, localTag: to[0], remoteTag: from[0] };
}
