import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  paramValue,
  parseNameAddr,
  SipParseError,
  type NameAddr,
  type SipHeader,
  type SipRequest,
} from '../sip/index.js';

/**
 * Gateway replicas share one location service, but a UA behind NAT (or on a TCP/TLS flow) is reachable only
 * through the replica it registered on. A replica that handles a call for such a contact sends the callee leg
 * to that replica, which forwards it on the flow. The hop carries this header, signed with the secret every
 * replica shares (VOXGATE_SIP_NONCE_SECRET), so that nobody else can make a replica ring its users.
 */
export const PEER_HOP_HEADER = 'X-Voxgate-Peer';

const MAX_AGE_MS = 30_000;

function mac(secret: Buffer, aor: string, ts: number): string {
  return createHmac('sha256', secret).update(`${aor}\u0000${ts}`).digest('base64url');
}

/** The header a replica adds to a callee leg it sends through another replica. */
export function peerHopHeader(secret: Buffer, aor: string, now = Date.now()): SipHeader {
  return { name: PEER_HOP_HEADER, value: `<${aor}>;ts=${now};mac=${mac(secret, aor, now)}` };
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
export function verifyPeerHop(secret: Buffer, request: SipRequest, now = Date.now()): string | undefined {
  const value = request.headers.find((h) => h.name.toLowerCase() === 'x-voxgate-peer')?.value;
  const hop = value === undefined ? undefined : nameAddrOf(value);
  if (!hop?.bracketed) return undefined;
  const aor = hop.uriText;
  const tsText = paramValue(hop.params, 'ts');
  const given = paramValue(hop.params, 'mac');
  if (!tsText || !/^\d+$/.test(tsText) || !given) return undefined;
  const ts = Number(tsText);
  if (Math.abs(now - ts) > MAX_AGE_MS) return undefined;
  const expected = Buffer.from(mac(secret, aor, ts));
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual) ? aor : undefined;
}
