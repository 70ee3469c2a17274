import type { MediaEncryption, RecordingPolicy } from '../store/index.js';
import type { RegisteringTrunk } from './trunk-registration.js';

/**
 * What the B2BUA needs to know about a tenant's carriers: which trunk an INVITE came from, who a dialled
 * number (DID) rings, and where a call to the outside goes. The platform binds it to the store's
 * repositories; the gateway only reads it.
 */
export interface GatewayTrunk {
  readonly id: string;
  readonly tenantId: string;
  readonly host: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp' | 'tls';
  /** Calls the trunk may carry at once; null or absent = no limit. */
  readonly maxConcurrentCalls?: number | null;
  /** Outbound digest credentials, when the carrier challenges us. */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** `sdes`: calls to the carrier are offered SRTP, and its calls must offer it; default `auto`. */
  readonly mediaEncryption?: MediaEncryption;
}

export interface GatewayRoute {
  /** A regular expression the dialled number must match entirely. */
  readonly pattern: string;
  /** Leading characters removed from the dialled number, then `prefix` prepended (number rewriting). */
  readonly stripDigits: number;
  readonly prefix: string;
  /** Tried in order; the next one on a timeout, 408 or 5xx. */
  readonly trunks: readonly GatewayTrunk[];
  /** Media of calls on this route is not anchored on a relay. */
  readonly mediaBypass?: boolean;
  /** The trunk leg's media: `sdes` SRTP, `none` plain RTP, `auto` (default) as the trunk says. */
  readonly mediaEncryption?: MediaEncryption;
  /** Calls on this route are recorded so; unset = the tenant's policy (`recordingPolicy`). */
  readonly recording?: RecordingPolicy | null;
}

export interface NumberOwner {
  readonly tenantId: string;
  readonly username: string;
  readonly sipDomain: string;
}

export interface RoutingDirectory {
  /** The enabled trunk of an active tenant whose inbound CIDRs contain `address`. */
  trunkBySource(address: string): Promise<GatewayTrunk | undefined>;
  /** The enabled trunk of an active tenant whose credentials have `username` (unique), for digest. */
  trunkByUsername(username: string): Promise<GatewayTrunk | undefined>;
  /** The user a DID rings (E.164, with its leading +). */
  numberOwner(e164: string): Promise<NumberOwner | undefined>;
  /** The tenant's routes, highest priority first. */
  routes(tenantId: string): Promise<readonly GatewayRoute[]>;
  /** Every enabled trunk, for the OPTIONS health checks. */
  allTrunks(): Promise<readonly Pick<GatewayTrunk, 'id' | 'host' | 'port' | 'transport'>[]>;
  /** Every enabled trunk with `register` set and credentials, for outbound registration. */
  registeringTrunks(): Promise<readonly RegisteringTrunk[]>;
}

/** Visual separators (RFC 3966 §5.1.1) removed; digits and a leading + kept. */
export function normalizeNumber(user: string): string {
  return user.replace(/[-.()\s]/g, '');
}

/** The E.164 form of a dialled DID: `+` added to bare digits. */
export function asE164(number: string): string {
  return number.startsWith('+') ? number : `+${number}`;
}

/** The first route whose pattern matches the whole number, and the number rewritten for it. */
export function selectRoute(
  routes: readonly GatewayRoute[],
  number: string,
): { route: GatewayRoute; dialled: string } | undefined {
  for (const route of routes) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${route.pattern})$`);
    } catch {
      continue; // the API validates patterns; a bad one never matches rather than failing every call
    }
    if (re.test(number)) return { route, dialled: route.prefix + number.slice(route.stripDigits) };
  }
  return undefined;
}
