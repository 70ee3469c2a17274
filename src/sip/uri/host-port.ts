/*
 * RFC 3261 §25.1:
 *   hostport       =  host [ ":" port ]
 *   host           =  hostname / IPv4address / IPv6reference
 *   IPv6reference  =  "[" IPv6address "]"
 * An IPv6 address is written bracketed wherever a host goes into a URI, a Via sent-by or a host:port.
 */

/** `host` as it is written in a URI or a sent-by: an IPv6 address bracketed, anything else as is. */
export function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** `host:port`, an IPv6 address bracketed (`[2001:db8::1]:5060`). */
export function formatHostPort(host: string, port: number): string {
  return `${formatHost(host)}:${port}`;
}

/** A host without the brackets of an IPv6reference (`[::1]` → `::1`). */
export function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Reads `host:port` (`[v6]:port` for IPv6) as `formatHostPort` writes it; the host without brackets. Undefined
 * without a port, or with a port that is not 1–5 digits.
 */
export function parseHostPort(value: string): { host: string; port: number } | undefined {
  const colon = value.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const digits = value.slice(colon + 1);
  if (digits.length === 0 || digits.length > 5) return undefined;
  for (let i = 0; i < digits.length; i++) {
    const c = digits.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  const host = value.slice(0, colon);
  // An unbracketed IPv6 address has no port to split off ("::1" is not "::" port 1).
  if (!host.startsWith('[') && host.includes(':')) return undefined;
  return { host: bareHost(host), port: Number(digits) };
}
