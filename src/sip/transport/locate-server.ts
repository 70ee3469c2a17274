import { lookup as systemLookup, Resolver } from 'node:dns/promises';
import type { NaptrRecord, SrvRecord } from 'node:dns';
import { isIP } from 'node:net';
import { SipParseError, SipTransportError } from '../errors.js';
import { parseSipUri, uriParam } from '../uri/parse-uri.js';
import type { SipUri } from '../uri/uri-types.js';
import type { Peer, TransportName } from './inbound-context.js';

/**
 * The part of node's `dns.promises` interface (a `Resolver` of `node:dns/promises`, or the module itself) that
 * server location uses; inject another one in tests.
 */
export interface DnsResolver {
  resolveNaptr(hostname: string): Promise<NaptrRecord[]>;
  resolveSrv(hostname: string): Promise<SrvRecord[]>;
  resolve4(hostname: string): Promise<string[]>;
  resolve6(hostname: string): Promise<string[]>;
}

type Lookup = (host: string) => Promise<readonly { address: string }[]>;

/** One place to send a request: usable as a `SendTarget` of the endpoint. */
export interface LocatedTarget extends Peer {
  readonly transport: TransportName;
  /**
   * For TLS: the name the server's certificate must match, the domain of the URI, not a NAPTR replacement or
   * SRV target (RFC 3263 §4.1: "the domain name in the query and the domain name in the replacement field MUST
   * both be valid based on the site certificate"; RFC 5922); undefined when the URI's host is an address.
   */
  readonly serverName?: string;
}

export interface LocateOptions {
  /** Default: node's resolver with the system's DNS servers. */
  readonly resolver?: DnsResolver;
  /**
   * The transports this client supports, in its order of preference where the domain states none (no NAPTR
   * records). Default udp, tcp, tls.
   */
  readonly transports?: readonly TransportName[];
  /**
   * When DNS has no A/AAAA record for a name: the system's resolver (getaddrinfo: /etc/hosts, mDNS …) is asked
   * next, so that names like `localhost` work. `false` turns that off. Default: node's `dns.promises.lookup`.
   */
  readonly lookup?: false | Lookup;
  /** Random numbers in [0, 1) for the RFC 2782 weighted choice among SRV records (default Math.random). */
  readonly random?: () => number;
}

/** RFC 3261 §19.1.2: 5060 for sip over UDP and TCP, 5061 for TLS. */
const DEFAULT_PORT: Record<TransportName, number> = { udp: 5060, tcp: 5060, tls: 5061 };

/** RFC 3263 §4.1 NAPTR services and the transports they name (D2U, D2T; SIPS+D2T is TLS over TCP). */
const NAPTR_SERVICES: Readonly<Record<string, TransportName>> = {
  'SIP+D2U': 'udp',
  'SIP+D2T': 'tcp',
  'SIPS+D2T': 'tls',
};

/** SRV owner name prefixes per transport (§4.1: "_sips" for TLS). */
const SRV_PREFIX: Record<TransportName, string> = {
  udp: '_sip._udp.',
  tcp: '_sip._tcp.',
  tls: '_sips._tcp.',
};

/**
 * RFC 3263 §4: the ordered list of (transport, address, port) to try for a request to `uri`. The caller tries
 * the first and, on a failure as §4.3 defines it (a transport error or a timeout of the client transaction, or
 * a 503), the next — "The client SHOULD try the first record. If an attempt should fail, based on the definition
 * of failure in Section 4.3, the next SHOULD be tried, and if that should fail, the next SHOULD be tried, and so
 * on." (§4.2). Numeric addresses and explicit ports need no DNS, or only A/AAAA. Throws SipTransportError
 * SIP_LOCATE_UNSUPPORTED for a URI it cannot resolve, SIP_LOCATE_NO_TARGET when DNS has nothing.
 */
export async function locateServer(
  uri: string | SipUri,
  options: LocateOptions = {},
): Promise<LocatedTarget[]> {
  const parsed = typeof uri === 'string' ? parseTarget(uri) : uri;
  const supported = options.transports ?? (['udp', 'tcp', 'tls'] as const);
  const dns = new DnsQueries(options);
  const secure = parsed.scheme === 'sips';
  // §4: "We define TARGET as the value of the maddr parameter of the URI, if present, otherwise, the host value
  // of the hostport component of the URI."
  const target = stripBrackets(uriParam(parsed, 'maddr') || parsed.host);
  const numeric = isIP(target) !== 0;
  const serverName = numeric ? undefined : target.toLowerCase();
  const port = parsed.port;
  const explicit = explicitTransport(parsed, secure);
  if (explicit !== undefined && !supported.includes(explicit)) {
    throw new SipTransportError(
      'SIP_LOCATE_UNSUPPORTED',
      `${parsed.text}: transport ${explicit} is not among ${supported.join(', ')}`,
    );
  }
  // §4.1: "if no transport protocol is specified, but the TARGET is a numeric IP address, the client SHOULD use
  // UDP for a SIP URI, and TCP for a SIPS URI. Similarly, if no transport protocol is specified, and the TARGET
  // is not numeric, but an explicit port is provided, the client SHOULD use UDP for a SIP URI, and TCP for a SIPS
  // URI." (TCP for SIPS is TLS over TCP.) UDP is replaced by TCP when the client has no UDP.
  const fallback: TransportName = secure ? 'tls' : supported.includes('udp') ? 'udp' : 'tcp';
  const located = (transport: TransportName, address: string, p: number): LocatedTarget => ({
    transport,
    address,
    port: p,
    ...(transport === 'tls' && serverName !== undefined ? { serverName } : {}),
  });

  // §4.2: "If TARGET is a numeric IP address, the client uses that address. If the URI also contains a port,
  // it uses that port. If no port is specified, it uses the default port for the particular transport
  // protocol."
  if (numeric) {
    const transport = explicit ?? fallback;
    return [located(transport, target, port ?? DEFAULT_PORT[transport])];
  }
  // §4.2: "If the TARGET was not a numeric IP address, but a port is present in the URI, the client performs an
  // A or AAAA record lookup of the domain name."
  if (port !== undefined) {
    const transport = explicit ?? fallback;
    return nonEmpty(
      parsed,
      (await dns.addresses(target)).map((a) => located(transport, a, port)),
      dns,
    );
  }

  const services: { transport: TransportName; srv: string }[] = [];
  if (explicit !== undefined) {
    // §4.2: "If it was not [performed], because a transport was specified explicitly, the client performs an SRV
    // query for that specific transport, using the service identifier "_sips" for SIPS URIs."
    services.push({ transport: explicit, srv: SRV_PREFIX[explicit] + target });
  } else {
    // §4.1: "Otherwise, if no transport protocol or port is specified, and the target is not a numeric IP
    // address, the client SHOULD perform a NAPTR query for the domain in the URI."
    // RFC 2915 (via §4.1): records are taken by ascending order, then ascending preference.
    const naptrs = (await dns.naptr(target)).sort((a, b) => a.order - b.order || a.preference - b.preference);
    for (const naptr of naptrs) {
      const transport = NAPTR_SERVICES[naptr.service.toUpperCase()];
      // §4.1: "a client resolving a SIPS URI MUST discard any services that do not contain "SIPS" as the
      // protocol in the service field", and "a client MUST discard any service fields that identify a
      // resolution service whose value is not "D2X", for values of X that indicate transport protocols supported
      // by the client". Only terminal "s" records lead to SRV.
      if (transport === undefined || !supported.includes(transport) || (secure && transport !== 'tls'))
        continue;
      if (naptr.flags.toLowerCase() !== 's' || naptr.replacement === '' || naptr.replacement === '.')
        continue;
      services.push({ transport, srv: naptr.replacement });
    }
    if (services.length === 0) {
      // §4.1: "If no NAPTR records are found, the client constructs SRV queries for those transport protocols it
      // supports, and does a query for each. Queries are done using the service identifier "_sip" for SIP URIs
      // and "_sips" for SIPS URIs."
      for (const transport of supported) {
        if (secure && transport !== 'tls') continue;
        services.push({ transport, srv: SRV_PREFIX[transport] + target });
      }
    }
  }
  const targets: LocatedTarget[] = [];
  for (const service of services) {
    // §4.2: "the procedures of RFC 2782, as described in the section titled "Usage rules" are followed".
    for (const srv of orderSrv(await dns.srv(service.srv), options.random ?? Math.random)) {
      const addresses = isIP(srv.name) !== 0 ? [srv.name] : await dns.addresses(srv.name);
      for (const address of addresses) targets.push(located(service.transport, address, srv.port));
    }
  }
  if (targets.length > 0) return dedupe(targets);
  // §4.2: "If no SRV records were found, the client performs an A or AAAA record lookup of the domain name. The
  // result will be a list of IP addresses, each of which can be contacted using the transport protocol
  // determined previously, at the default port for that transport." With no transport determined, §4.1: "If no
  // SRV records are found, the client SHOULD use TCP for a SIPS URI, and UDP for a SIP URI."
  const transport = explicit ?? fallback;
  return nonEmpty(
    parsed,
    (await dns.addresses(target)).map((a) => located(transport, a, DEFAULT_PORT[transport])),
    dns,
  );
}

/**
 * RFC 2782 "Usage rules": lowest priority first; within a priority, a weighted random order ("arrange all SRV
 * RRs (that have not been ordered yet) in any order, except that all those with weight 0 are placed at the
 * beginning of the list", then pick by running sum). A target of "." means the service is not available.
 */
export function orderSrv(records: readonly SrvRecord[], random: () => number = Math.random): SrvRecord[] {
  const usable = records.filter((r) => r.name !== '' && r.name !== '.');
  const priorities = [...new Set(usable.map((r) => r.priority))].sort((a, b) => a - b);
  const ordered: SrvRecord[] = [];
  for (const priority of priorities) {
    const pending = usable
      .filter((r) => r.priority === priority)
      .sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (pending.length > 0) {
      const total = pending.reduce((sum, r) => sum + r.weight, 0);
      const pick = Math.floor(random() * (total + 1));
      let running = 0;
      let index = pending.findIndex((r) => (running += r.weight) >= pick);
      if (index === -1) index = pending.length - 1;
      ordered.push(pending.splice(index, 1)[0]!);
    }
  }
  return ordered;
}

function parseTarget(text: string): SipUri {
  try {
    return parseSipUri(text);
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    throw new SipTransportError(
      'SIP_LOCATE_UNSUPPORTED',
      `cannot locate a server for "${text}": ${err.message}`,
    );
  }
}

/** The transport= parameter as a transport of ours; sips with transport=tcp is TLS over TCP (§26.2.2). */
function explicitTransport(uri: SipUri, secure: boolean): TransportName | undefined {
  const value = uriParam(uri, 'transport')?.toLowerCase();
  if (value === undefined || value === '') return undefined;
  if (value === 'udp') {
    if (secure) throw new SipTransportError('SIP_LOCATE_UNSUPPORTED', `${uri.text}: TLS cannot run over UDP`);
    return 'udp';
  }
  if (value === 'tcp') return secure ? 'tls' : 'tcp';
  if (value === 'tls') return 'tls';
  throw new SipTransportError('SIP_LOCATE_UNSUPPORTED', `${uri.text}: transport ${value} is not supported`);
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function dedupe(targets: readonly LocatedTarget[]): LocatedTarget[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    const key = `${t.transport} ${t.address} ${t.port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function nonEmpty(uri: SipUri, targets: readonly LocatedTarget[], dns: DnsQueries): LocatedTarget[] {
  if (targets.length > 0) return dedupe(targets);
  throw new SipTransportError(
    'SIP_LOCATE_NO_TARGET',
    `no server found for ${uri.text}${dns.lastError ? ` (last DNS error ${dns.lastError})` : ''}`,
  );
}

/** DNS queries where "no such record" and a failing server both mean "nothing here" (§4.3: try the next). */
class DnsQueries {
  lastError: string | undefined;
  private readonly resolver: DnsResolver;
  private readonly lookup: false | Lookup;

  constructor(options: LocateOptions) {
    this.resolver = options.resolver ?? new Resolver();
    this.lookup = options.lookup ?? ((host) => systemLookup(host, { all: true }));
  }

  naptr(name: string): Promise<NaptrRecord[]> {
    return this.query(() => this.resolver.resolveNaptr(name));
  }

  srv(name: string): Promise<SrvRecord[]> {
    return this.query(() => this.resolver.resolveSrv(name));
  }

  /** A then AAAA records of a name; the system resolver when DNS has neither. */
  async addresses(name: string): Promise<string[]> {
    const [v4, v6] = await Promise.all([
      this.query(() => this.resolver.resolve4(name)),
      this.query(() => this.resolver.resolve6(name)),
    ]);
    if (v4.length + v6.length > 0 || this.lookup === false) return [...v4, ...v6];
    const lookup = this.lookup;
    return (await this.query(() => lookup(name))).map((a) => a.address);
  }

  private async query<T>(run: () => Promise<readonly T[]>): Promise<T[]> {
    try {
      return [...(await run())];
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'string') throw err;
      this.lastError = code;
      return [];
    }
  }
}
