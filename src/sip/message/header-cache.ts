import type { SipHeader } from './sip-message.js';

/**
 * Parsed forms of header values, kept on the header object under a symbol: a header is parsed at most once,
 * on first access (or eagerly by the message parser, which stores what it already parsed). A header object
 * replaced by a new one (e.g. the top Via after the transport stamps `received`) is parsed afresh. A symbol
 * slot instead of a WeakMap: a property read costs nothing and leaves no work for the garbage collector.
 */
export const PARSED: unique symbol = Symbol('voxgate.sip.parsed');

type Cached = SipHeader & { [PARSED]?: unknown };

/** The Request-URI's parse and the text it was parsed from, on the request (`requestUriOf`). */
export const REQUEST_URI: unique symbol = Symbol('voxgate.sip.request-uri');

/** A header as the parser creates it: the slot exists from the start, so every header has one shape. */
export function newHeader(name: string, value: string): SipHeader {
  const h: Cached = { name, value, [PARSED]: undefined };
  return h;
}

export function cachedParse<T>(header: SipHeader, parse: (value: string) => T): T {
  const h = header as Cached;
  if (h[PARSED] !== undefined) return h[PARSED] as T;
  const value = parse(header.value);
  rememberParse(header, value);
  return value;
}

export function rememberParse(header: SipHeader, value: unknown): void {
  // Header objects handed in from outside may be frozen; then they are simply parsed again next time.
  if (Object.isExtensible(header)) (header as Cached)[PARSED] = value;
}
