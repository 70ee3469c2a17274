/**
 * Topology hiding: the few headers a B2BUA copies from one leg to the other. Everything else (Via, Contact,
 * Record-Route, Route, Call-ID, tags, User-Agent, Supported/Require …) stays on its leg.
 */
import type { SipHeader } from '../../sip/index.js';

export const REQUEST_PASSTHROUGH = [
  'Allow',
  'Subject',
  'Priority',
  'Alert-Info',
  'Call-Info',
  'Event',
  'Subscription-State',
  'Info-Package',
  'Content-Disposition',
  'Reason',
];
export const RESPONSE_PASSTHROUGH = ['Allow', 'Warning', 'Reason', 'Retry-After', 'Unsupported'];
/** §21.4.16 / RFC 3262 §3: a 421 (Extension Required) "MUST contain a Require header field listing the
 * required extensions" — the caller needs them to retry. */
export const EXTENSION_REQUIRED_PASSTHROUGH = [...RESPONSE_PASSTHROUGH, 'Require'];

export function copied(message: { headers: readonly SipHeader[] }, names: readonly string[]): SipHeader[] {
  return message.headers.filter((h) => names.includes(h.name));
}

export function asExtra(headers: readonly SipHeader[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const h of headers) (out[h.name] ??= []).push(h.value);
  return out;
}
