/**
 * Whether a Request-URI (or any URI) is a SIPS URI: RFC 3261 §19.1 — "sips" as the scheme, matched
 * case-insensitively (§19.1.4). A dialog whose request was sent to one is secure (§12.1.1).
 */
export function isSipsUri(uri: string): boolean {
  return uri.length >= 5 && uri.slice(0, 5).toLowerCase() === 'sips:';
}
