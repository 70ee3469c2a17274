/** A `;name[=value]` parameter as written (name case kept; compare names case-insensitively). */
export interface UriParam {
  readonly name: string;
  /** undefined for a parameter without `=value`. */
  readonly value: string | undefined;
}

/** RFC 3261 §19.1: a sip: or sips: URI. Components keep their escapes; see unescapeUri. */
export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** Hostname, IPv4 address, or IPv6 reference with its brackets. */
  readonly host: string;
  readonly port: number | undefined;
  readonly params: readonly UriParam[];
  readonly headers: readonly UriParam[];
  /** The URI exactly as it was written. */
  readonly text: string;
}

/** RFC 3966: a tel: URI. */
export interface TelUri {
  readonly scheme: 'tel';
  /** The telephone-subscriber number (global "+…" or local), visual separators kept. */
  readonly number: string;
  readonly params: readonly UriParam[];
  readonly text: string;
}

/**
 * RFC 3261 §25.1 absoluteURI of any other scheme, kept so that a UAS can answer 416 (Unsupported URI Scheme,
 * §8.2.2.1) instead of 400.
 */
export interface AbsoluteUri {
  readonly scheme: string;
  readonly opaque: string;
  readonly text: string;
}

export type Uri = SipUri | TelUri | AbsoluteUri;

export function isSipUri(uri: Uri): uri is SipUri {
  return uri.scheme === 'sip' || uri.scheme === 'sips';
}
