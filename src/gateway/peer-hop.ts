import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  keyRingOf,
  paramValue,
  parseNameAddr,
  SipParseError,
  type NameAddr,
  type KeyRing,
  type SipHeader,
  type SipRequest,
} from '../sip/index.js';

/**
 * Gateway replicas share one location service, but a UA behind NAT (or on a TCP/TLS flow) is reachable only
 * through the replica it registered on. A replica that handles a call for such a contact sends the callee leg
 * to that replica, which forwards it on the flow. The hop carries this header, signed with the secret every
 * replica shares (VOXGATE_SIP_PEER_SECRET), so that nobody else can make a replica ring its users. The secret
 * may be a key ring being rotated: hops are signed with its current key, and one signed with any key it still
 * accepts verifies, so a replica that has the new key and one that does not yet still hand calls to each other.
 */
export const PEER_HOP_HEADER = 'X-Voxgate-Peer';

const MAX_AGE_MS = 30_000;

function mac(secret: Buffer, aor: string, ts: number): string {
  return createHmac('sha256', secret).update(`${aor}\u0000${ts}`).digest('base64url');
}

/** The header a replica adds to a callee leg it sends through another replica. */
export function peerHopHeader(secret: Buffer | KeyRing, aor: string, now = Date.now()): SipHeader {
  const key = keyRingOf(secret).current;
  return { name: PEER_HOP_HEADER, value: `<${aor}>;ts=${now};mac=${mac(key, aor, now)}` };
}

/** The header's `<aor>;ts=…;mac=…`, or undefined when it is no name-addr. */
function nameAddrOf(value: string): NameAddr | undefined {
  try {
    return parseNameAddr(PEER_HOP_HEADER, value);
  } catch (err) {
    if (err instanceof SipParseError) return undefined;
    throw err;
  }
}

/** The AOR a valid peer hop is for; undefined without the header or when it is forged or stale. */
export function verifyPeerHop(
  secret: Buffer | KeyRing,
  request: SipRequest,
  now = Date.now(),
): string | undefined {
  const value = request.headers.find((h) => h.name.toLowerCase() === 'x-voxgate-peer')?.value;
  const hop = value === undefined ? undefined : nameAddrOf(value);
  if (!hop?.bracketed) return undefined;
  const aor = hop.uriText;
  const tsText = paramValue(hop.params, 'ts');
  const given = paramValue(hop.params, 'mac');
  if (!tsText || !/^\d+$/.test(tsText) || !given) return undefined;
  const ts = Number(tsText);
  if (Math.abs(now - ts) > MAX_AGE_MS) return undefined;
  const actual = Buffer.from(given);
  const signed = keyRingOf(secret).accepted.some((key) => {
    const expected = Buffer.from(mac(key, aor, ts));
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  });
  return signed ? aor : undefined;
}
