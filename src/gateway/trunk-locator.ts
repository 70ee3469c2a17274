/**
 * Where requests to a trunk go (RFC 3263): a carrier given as a domain is located through DNS — SRV for the
 * trunk's transport, then A/AAAA — into an ordered list of addresses, tried one after the other like the trunks
 * of a route; a carrier given as an IP address is sent to as written, without DNS. Results are kept for a short
 * time (node's resolver does not report record TTLs), so a call does not wait for DNS each time.
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  formatHost,
  locateServer,
  SipTransportError,
  type DnsResolver,
  type LocateOptions,
} from '../sip/index.js';
import type { GatewayTrunk } from './call-routing.js';
import type { LegTarget } from './sip-outbound.js';

export type LocatableTrunk = Pick<GatewayTrunk, 'host' | 'port' | 'transport'>;

/** The ordered targets of a trunk; never empty (the trunk as written when DNS has nothing). */
export type TrunkLocator = (trunk: LocatableTrunk) => Promise<LegTarget[]>;

/** RFC 3261 §19.1.2: the default port of each transport. */
const DEFAULT_PORT = { udp: 5060, tcp: 5060, tls: 5061 } as const;

/** How long a located trunk's targets are kept. */
const DEFAULT_CACHE_MS = 30_000;

/** The trunk as written: its host (an address, or a name the endpoint resolves) and port. */
const asWritten = (trunk: LocatableTrunk): LegTarget => ({
  transport: trunk.transport,
  address: trunk.host,
  port: trunk.port,
});

/**
 * The SIP URI a trunk is located by. The store always holds a port (default 5060); a port at the default of
 * the trunk's transport is taken as none given, so that the carrier's SRV records are asked — any other port
 * is explicit. The transport is always explicit, so no NAPTR query is made: §4.2 "If it was not [performed],
 * because a transport was specified explicitly, the client performs an SRV query for that specific transport".
 */
function locationUri(trunk: LocatableTrunk): string {
  const port = trunk.port === DEFAULT_PORT[trunk.transport] ? '' : `:${trunk.port}`;
  return `sip:${formatHost(trunk.host)}${port};transport=${trunk.transport}`;
}

export function createTrunkLocator(
  options: {
    resolver?: DnsResolver;
    lookup?: LocateOptions['lookup'];
    cacheMs?: number;
    now?: () => number;
    warn?: (detail: Record<string, unknown>, message: string) => void;
  } = {},
): TrunkLocator {
  const cacheMs = options.cacheMs ?? DEFAULT_CACHE_MS;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { until: number; targets: Promise<LegTarget[]> }>();
  // A DNS server that does not answer holds a call's setup for about 4 s (2 tries of 2 s), not node's 4 tries.
  const resolver = options.resolver ?? new Resolver({ timeout: 2000, tries: 2 });

  const locate = async (trunk: LocatableTrunk): Promise<LegTarget[]> => {
    try {
      const located = await locateServer(locationUri(trunk), {
        transports: [trunk.transport],
        resolver,
        ...(options.lookup !== undefined ? { lookup: options.lookup } : {}),
      });
      return located.map((t) => ({
        transport: t.transport,
        address: t.address,
        port: t.port,
        ...(t.serverName ? { serverName: t.serverName } : {}),
      }));
    } catch (err) {
      if (!(err instanceof SipTransportError)) throw err;
      // Nothing in DNS (or a name it cannot ask for): the trunk as written, whose send fails as it did before.
      options.warn?.({ err, host: trunk.host }, 'trunk host not located');
      return [asWritten(trunk)];
    }
  };

  return (trunk) => {
    // §4.2: "If TARGET is a numeric IP address, the client uses that address."
    if (isIP(trunk.host) !== 0) return Promise.resolve([asWritten(trunk)]);
    const key = `${trunk.transport} ${trunk.host.toLowerCase()} ${trunk.port}`;
    const at = now();
    const cached = cache.get(key);
    if (cached && cached.until > at) return cached.targets;
    for (const [k, entry] of cache) if (entry.until <= at) cache.delete(k);
    const targets = locate(trunk);
    cache.set(key, { until: at + cacheMs, targets });
    // A failure is not kept: the next request asks again.
    targets.catch(() => cache.delete(key));
    return targets;
  };
}
