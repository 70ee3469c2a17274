/** A `host:port` address; the host of an IPv6 address without its brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/**
 * Reads `host:port`, an IPv6 address bracketed (`[::1]:5060`); undefined for anything else, a port over
 * 65535 included. The one place configuration splits an address.
 */
export function parseHostPort(value: string): HostPort | undefined {
  const match = HOST_PORT.exec(value);
  if (!match) return undefined;
  const port = Number(match[3]);
  const host = match[1] ?? match[2];
  return host !== undefined && port <= 65535 ? { host, port } : undefined;
}

/** A comma list of `host:port` addresses; undefined when one of them is not one. */
export function parseHostPortList(value: string): HostPort[] | undefined {
  const items = value.split(',').map(parseHostPort);
  return items.every((item) => item !== undefined) ? items : undefined;
}
