import { SipParseError } from '../errors.js';
import { parseUri } from './parse-uri.js';

/**
 * The user a URI names: a sip/sips URI's user part as written (escapes kept), a tel URI's number (RFC 3966
 * telephone-subscriber, visual separators kept). Undefined for a sip URI without a user part — §19.1.1: "If
 * the @ sign is present in a SIP or SIPS URI, the user field MUST NOT be empty", and `sip:host` names a host,
 * not a user — for any other scheme, and for text that is not a URI.
 */
export function uriUser(uri: string): string | undefined {
  let parsed;
  try {
    parsed = parseUri(uri);
  } catch (err) {
    if (err instanceof SipParseError) return undefined;
    throw err;
  }
  if (parsed.scheme === 'sip' || parsed.scheme === 'sips') return 'user' in parsed ? parsed.user : undefined;
  if (parsed.scheme === 'tel' && 'number' in parsed) return parsed.number;
  return undefined;
}
