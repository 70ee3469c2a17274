import { headerParam, type SipHeader } from '../message/sip-message.js';
import type { Peer } from './inbound-context.js';

/**
 * RFC 3261 §18.2.1: "the server transport MUST add a 'received' parameter" when the sent-by host differs from
 * the packet's source address; RFC 3581 §4: with an `rport` parameter without value, the server "MUST set the
 * value of the parameter to the source port of the request". Returns headers with the top Via updated.
 */
export function stampTopVia(headers: readonly SipHeader[], remote: Peer): SipHeader[] {
  const index = headers.findIndex((h) => h.name === 'Via');
  if (index === -1) return [...headers];
  const via = headers[index]!;
  const comma = topLevelComma(via.value);
  let top = comma === -1 ? via.value : via.value.slice(0, comma);
  const rest = comma === -1 ? '' : via.value.slice(comma);
  const sentBy = /^SIP\s*\/\s*2\.0\s*\/\s*[A-Za-z0-9-]+\s+(\[[^\]]+\]|[^;:\s]+)/i.exec(top)?.[1];
  if (
    sentBy !== undefined &&
    sentBy.replace(/^\[|\]$/g, '') !== remote.address &&
    headerParam(top, 'received') === undefined
  ) {
    top = `${top};received=${remote.address}`;
  }
  if (headerParam(top, 'rport') === '') top = top.replace(/;\s*rport(?=\s*(;|$))/i, `;rport=${remote.port}`);
  const out = [...headers];
  out[index] = { name: 'Via', value: top + rest };
  return out;
}

/**
 * §18.2.2 for unreliable transports, with RFC 3581: with rport, answer the source address and port; else
 * the received address (the source) at the sent-by port, default 5060. Never the Via host itself: a response
 * is not sent to an address the request did not come from (RFC 4475 §3.3.14, bcast).
 */
export function responseDestination(topVia: string, remote: Peer): Peer {
  if (headerParam(topVia, 'rport') !== undefined) return remote;
  const port = /^SIP\s*\/\s*2\.0\s*\/\s*\S+\s+(?:\[[^\]]+\]|[^;:\s]+):(\d+)/i.exec(topVia)?.[1];
  return { address: remote.address, port: port ? Number(port) : 5060 };
}

function topLevelComma(value: string): number {
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) return i;
  }
  return -1;
}
