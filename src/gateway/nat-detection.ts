import { BlockList, isIP } from 'node:net';
import {
  bareHost,
  headerParam,
  isSipUri,
  nameAddrParam,
  parseSipUri,
  uriOf,
  uriParam,
  type NameAddr,
  type SipUri,
} from '../sip/index.js';

/**
 * Where requests to a registered contact go (per user and per trunk): `auto` decides from the REGISTER (below),
 * `force` always to the REGISTER's source address and flow, `off` always to the Contact.
 */
export type NatMode = 'auto' | 'force' | 'off';

export const NAT_MODES: readonly NatMode[] = ['auto', 'force', 'off'];

/** Why a REGISTER was judged to come from behind a NAT (or to need its flow); empty when it was not. */
export type NatReason =
  | 'websocket'
  | 'stream-flow'
  | 'outbound'
  | 'contact-private'
  | 'via-address'
  | 'via-port'
  | 'contact-not-address';

export interface RegisterFacts {
  /** Where the REGISTER came from. */
  readonly source: { readonly address: string; readonly port: number };
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly webSocket?: 'ws' | 'wss';
  /**
   * The Contact of the binding: its header field value (name-addr and its parameters), or its parse (the
   * registrar has the one the request's validation made).
   */
  readonly contact: string | NameAddr;
  /** The top Via's sent-by (host with IPv6 brackets, port when given). */
  readonly via?: { readonly host: string; readonly port: number | undefined };
}

export interface ReachDecision {
  readonly reach: 'source' | 'contact';
  /** The evidence `auto` found (also given for `force` and `off`, for the log). */
  readonly reasons: readonly NatReason[];
}

const PRIVATE = new BlockList();
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4'); // RFC 1918
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4'); // RFC 1918
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4'); // RFC 1918
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4'); // RFC 6598 shared address space (carrier-grade NAT)
PRIVATE.addSubnet('169.254.0.0', 16, 'ipv4'); // RFC 3927 link-local
PRIVATE.addSubnet('192.0.0.0', 29, 'ipv4'); // RFC 7335 DS-Lite B4 (nathelper counts it too)
PRIVATE.addSubnet('fc00::', 7, 'ipv6'); // RFC 4193 unique local
PRIVATE.addSubnet('fe80::', 10, 'ipv6'); // RFC 4291 link-local

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** An IP literal without brackets, IPv4-mapped IPv6 as IPv4, IPv6 in its canonical form; undefined otherwise. */
export function normalizeAddress(host: string): string | undefined {
  const bare = bareHost(host);
  const kind = isIP(bare);
  if (kind === 4) return bare;
  if (kind !== 6) return undefined;
  const canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(canonical);
  if (mapped) return mapped[1];
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(canonical);
  if (hexMapped) {
    const hi = parseInt(hexMapped[1]!, 16);
    const lo = parseInt(hexMapped[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return canonical;
}

const family = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');
const isLoopback = (address: string) => LOOPBACK.check(address, family(address));

/**
 * A private address as nathelper's flag 1 means it (RFC 1918, RFC 6598, link-local, IPv6 ULA), or loopback
 * seen from a source that is not: either way nobody but the UA's own network can reach it.
 */
function isPrivateFor(address: string, source: string): boolean {
  if (PRIVATE.check(address, family(address))) return true;
  return isLoopback(address) && !isLoopback(source);
}

/** The default port of a URI or sent-by without one (RFC 3261 §19.1.2: 5060, 5061 for sips/TLS). */
const defaultPort = (secure: boolean) => (secure ? 5061 : 5060);

function sipUri(text: string): SipUri | undefined {
  try {
    return parseSipUri(text);
  } catch {
    return undefined;
  }
}

/** The URI of a Contact header field value (a name-addr or an addr-spec, §20.10). */
const contactUri = (contact: string) => sipUri(uriOf(contact));

/**
 * The `auto` rule: the evidence that requests must go back to where the REGISTER came from rather than to its
 * Contact. Kamailio's `nat_uac_test(1 + 2 + 16 + 64)` plus the flows that only the UA can open:
 *
 * - `websocket` (flag 64): a SIP WebSocket client cannot accept connections (RFC 7118 §5); always its flow.
 * - `stream-flow`: a TCP/TLS REGISTER's connection is reused (RFC 5626 §3.3, RFC 5923): a UA behind NAT or a
 *   firewall can be reached on no other.
 * - `outbound`: RFC 5626 §6 — a Contact with `+sip.instance` and `reg-id` (or the `ob` URI parameter) asks for
 *   the flow; "If the Contact header field does not contain a "+sip.instance" Contact header field parameter,
 *   the registrar processes the request using the Contact binding rules in [RFC3261]".
 * - `contact-private` (flag 1): the Contact host is a private, shared (CGN), link-local or unique-local address
 *   — or loopback from elsewhere — other than the source address.
 * - `via-address` (flag 2): the top Via's sent-by host is not the source address (a NAT rewrote it; RFC 3261
 *   §18.2.1 would add `received`).
 * - `via-port` (flag 16): the top Via's sent-by port (5060 when absent, 5061 for TLS) is not the source port
 *   (the NAT mapped the port; RFC 3581's `rport` case).
 * - `contact-not-address`: the Contact host is a name, not an address; voxgate does not resolve Contacts
 *   (RFC 3263), so the source is the only place known to reach.
 *
 * The Contact's port differing from the source port (nathelper flag 128) is not evidence on its own: a UA
 * whose own view of its address (the Via) matches what we see is not behind NAT, and its Contact may name
 * another socket or host on purpose (RFC 3261 §10.2.1's third-party or multi-socket registrations).
 */
export function natEvidence(facts: RegisterFacts): NatReason[] {
  const reasons: NatReason[] = [];
  if (facts.webSocket) reasons.push('websocket');
  else if (facts.transport !== 'udp') reasons.push('stream-flow');
  const { contact } = facts;
  const parsed = typeof contact !== 'string';
  const uri = parsed ? (isSipUri(contact.uri) ? contact.uri : undefined) : contactUri(contact);
  const instance = parsed ? nameAddrParam(contact, '+sip.instance') : headerParam(contact, '+sip.instance');
  const regId = parsed ? nameAddrParam(contact, 'reg-id') : headerParam(contact, 'reg-id');
  if ((instance !== undefined && regId !== undefined) || (uri && uriParam(uri, 'ob') !== undefined)) {
    reasons.push('outbound');
  }
  const source = normalizeAddress(facts.source.address) ?? facts.source.address;
  const contactHost = uri && normalizeAddress(uri.host);
  if (!contactHost) reasons.push('contact-not-address');
  else if (contactHost !== source && isPrivateFor(contactHost, source)) reasons.push('contact-private');
  if (facts.via) {
    const viaHost = normalizeAddress(facts.via.host);
    if (viaHost !== source) reasons.push('via-address');
    if ((facts.via.port ?? defaultPort(facts.transport === 'tls')) !== facts.source.port)
      reasons.push('via-port');
  }
  return reasons;
}

/**
 * Where requests to a contact go under a NAT mode: `force` the source, `off` the Contact (unless the Contact
 * cannot be reached at all: a WebSocket client, or a Contact host that is not an address), `auto` the source
 * when `natEvidence` finds any, else the Contact.
 */
export function decideReach(mode: NatMode, facts: RegisterFacts): ReachDecision {
  const reasons = natEvidence(facts);
  switch (mode) {
    case 'force':
      return { reach: 'source', reasons };
    case 'off':
      return {
        reach:
          reasons.includes('websocket') || reasons.includes('contact-not-address') ? 'source' : 'contact',
        reasons,
      };
    case 'auto':
      return { reach: reasons.length > 0 ? 'source' : 'contact', reasons };
  }
}

/**
 * The transport, address and port a Contact URI (a binding's `contact`) names (RFC 3263 §4.1 for an address: the `transport`
 * parameter, else UDP for sip and TLS for sips; the port, else 5060/5061); undefined unless its host is an IP
 * address.
 */
export function contactDestination(
  contactUriText: string,
): { transport: 'udp' | 'tcp' | 'tls'; address: string; port: number } | undefined {
  const uri = sipUri(contactUriText);
  const address = uri && normalizeAddress(uri.host);
  if (!uri || !address) return undefined;
  const param = uriParam(uri, 'transport')?.toLowerCase();
  const secure = uri.scheme === 'sips' || param === 'tls';
  const transport = secure
    ? 'tls'
    : param === 'tcp'
      ? 'tcp'
      : param === undefined || param === 'udp'
        ? 'udp'
        : undefined;
  if (!transport) return undefined;
  return { transport, address, port: uri.port ?? defaultPort(secure) };
}
