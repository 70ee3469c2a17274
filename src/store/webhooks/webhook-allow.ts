import { BlockList, isIP } from 'node:net';

/**
 * Where webhooks may be sent: the operator's `VOXGATE_WEBHOOK_ALLOW`, a comma list of
 *
 * - `hooks.example.com`: that host name exactly;
 * - `.example.com` (or `*.example.com`): any name under example.com (not example.com itself);
 * - `203.0.113.7`, `2001:db8::7`, `203.0.113.0/24`, `2001:db8::/32`: addresses, as an IP literal in the URL or
 *   as the address a name resolves to when the request is made;
 * - `public`: any address outside loopback, private (RFC 1918, ULA), shared (RFC 6598), link-local, multicast,
 *   documentation and other special-purpose ranges (RFC 6890), i.e. the internet at large.
 *
 * Empty (the default) allows nothing: no webhook URL is accepted until the operator says where the platform
 * may send requests, so a tenant cannot make the worker reach into the platform's own network (request
 * forgery: the database, Redis, a cloud metadata service at 169.254.169.254, admin ports on loopback).
 *
 * A name allowed by name (exact or suffix) is trusted to resolve where the operator's DNS says. Any other name
 * is allowed only by the address it resolves to, and that address is checked again at every connection (the
 * resolved address is the one connected to), so a name that re-points to an internal address between the
 * check and the request (DNS rebinding) is still refused.
 */
export interface WebhookAllowList {
  readonly names: ReadonlySet<string>;
  readonly suffixes: readonly string[];
  readonly addresses: BlockList;
  readonly hasAddresses: boolean;
  readonly publicAddresses: boolean;
  /** The list as written, for logs and problem details. */
  readonly text: string;
}

const NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Parses `VOXGATE_WEBHOOK_ALLOW`; undefined when an entry is none of the forms above. */
export function parseWebhookAllow(raw: string): WebhookAllowList | undefined {
  const names = new Set<string>();
  const suffixes: string[] = [];
  const addresses = new BlockList();
  let hasAddresses = false;
  let publicAddresses = false;
  for (const part of raw.split(',')) {
    const entry = part.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === 'public') {
      publicAddresses = true;
      continue;
    }
    const slash = entry.indexOf('/');
    const ip = slash < 0 ? entry : entry.slice(0, slash);
    const family = isIP(ip);
    if (family !== 0) {
      const type = family === 4 ? 'ipv4' : 'ipv6';
      const max = family === 4 ? 32 : 128;
      const bits = slash < 0 ? String(max) : entry.slice(slash + 1);
      if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return undefined;
      addresses.addSubnet(ip, Number(bits), type);
      hasAddresses = true;
      continue;
    }
    const suffix = entry.startsWith('*.') ? entry.slice(1) : entry.startsWith('.') ? entry : undefined;
    if (suffix !== undefined) {
      if (!NAME.test(suffix.slice(1))) return undefined;
      suffixes.push(suffix);
      continue;
    }
    if (!NAME.test(entry)) return undefined;
    names.add(entry);
  }
  return { names, suffixes, addresses, hasAddresses, publicAddresses, text: raw.trim() };
}

/** Allows nothing: the default. */
export const NO_WEBHOOKS: WebhookAllowList = parseWebhookAllow('')!;

/** Special-purpose ranges (RFC 6890 and later): not "public" addresses. */
const SPECIAL = (() => {
  const list = new BlockList();
  for (const [net, prefix] of [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 3],
  ] as const)
    list.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of [
    // Unspecified, loopback and the deprecated IPv4-compatible block. Not ::ffff:0:0/96 (IPv4-mapped): Node's
    // BlockList matches every IPv4 address against it; mapped addresses are checked as their IPv4 instead.
    ['::', 96],
    ['64:ff9b::', 96],
    ['64:ff9b:1::', 48],
    ['100::', 64],
    ['2001::', 23],
    ['2001:db8::', 32],
    ['2002::', 16],
    ['3fff::', 20],
    ['fc00::', 7],
    ['fe80::', 10],
    ['fec0::', 10],
    ['ff00::', 8],
  ] as const)
    list.addSubnet(net, prefix, 'ipv6');
  return list;
})();

/** `::ffff:a.b.c.d` as `a.b.c.d`; other addresses unchanged. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

/** Whether `address` is outside every special-purpose range. */
export function isPublicAddress(address: string): boolean {
  const a = unmapped(address);
  const family = isIP(a);
  if (family === 0) return false;
  return !SPECIAL.check(a, family === 4 ? 'ipv4' : 'ipv6');
}

/** Whether the list allows `host` (lower case, no brackets) by its name alone. */
export function nameAllowed(allow: WebhookAllowList, host: string): boolean {
  if (isIP(host) !== 0) return false;
  return allow.names.has(host) || allow.suffixes.some((s) => host.endsWith(s));
}

/** Whether the list allows connecting to `address` (an IP address). */
export function addressAllowed(allow: WebhookAllowList, address: string): boolean {
  const a = unmapped(address);
  const family = isIP(a);
  if (family === 0) return false;
  if (allow.hasAddresses && allow.addresses.check(a, family === 4 ? 'ipv4' : 'ipv6')) return true;
  return allow.publicAddresses && isPublicAddress(a);
}

/** The host of a URL as it is connected to: lower case, without the brackets of an IPv6 literal. */
export function urlHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

/**
 * What is wrong with `raw` as a webhook URL under `allow`, or undefined when it may be used (a name not
 * allowed by name still has to resolve to an allowed address: `resolve` answers its addresses).
 */
export async function webhookUrlRefusal(
  raw: string,
  allow: WebhookAllowList,
  resolve: (host: string) => Promise<readonly string[]>,
): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'the url is not an absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'the url must be http or https';
  if (url.username !== '' || url.password !== '')
    return 'the url must not carry credentials (receivers check the signature instead)';
  if (url.hash !== '') return 'the url must not have a fragment';
  if (!allow.hasAddresses && !allow.publicAddresses && allow.names.size === 0 && allow.suffixes.length === 0)
    return 'webhooks are not enabled on this platform (the operator sets VOXGATE_WEBHOOK_ALLOW)';
  const host = urlHost(url);
  if (nameAllowed(allow, host)) return undefined;
  if (isIP(host) !== 0)
    return addressAllowed(allow, host) ? undefined : `the host ${host} is not an allowed webhook destination`;
  if (!allow.hasAddresses && !allow.publicAddresses)
    return `the host ${host} is not an allowed webhook destination`;
  let addresses: readonly string[];
  try {
    addresses = await resolve(host);
  } catch {
    return `the host ${host} does not resolve`;
  }
  if (addresses.length === 0) return `the host ${host} does not resolve`;
  const refused = addresses.find((a) => !addressAllowed(allow, a));
  return refused === undefined
    ? undefined
    : `the host ${host} resolves to ${refused}, which is not an allowed webhook destination`;
}
