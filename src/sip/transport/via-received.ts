import { SipParseError } from '../errors.js';
import { parseVia, type Via } from '../headers/via.js';
import { cachedParse } from '../message/header-cache.js';
import { headerParam, topLevelComma, type SipHeader } from '../message/sip-message.js';
import { bareHost } from '../uri/host-port.js';
import type { Peer } from './inbound-context.js';

/** The top via-parm of a Via header, or undefined when the header does not parse (an unparsed datagram's). */
function topVia(header: SipHeader): Via | undefined {
  try {
    return cachedParse(header, parseVia)[0];
  } catch (err) {
    if (err instanceof SipParseError) return undefined;
    throw err;
  }
}

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
  const sentBy = topVia(via) ?? lenientSentBy(top);
  if (
    sentBy !== undefined &&
    bareHost(sentBy.host) !== remote.address &&
    headerParam(top, 'received') === undefined
  ) {
    top = `${top};received=${remote.address}`;
  }
  if (headerParam(top, 'rport') === '') top = top.replace(/;\s*rport(?=\s*(;|$))/i, `;rport=${remote.port}`);
  const out = [...headers];
  if (top + rest !== via.value) out[index] = { name: 'Via', value: top + rest };
  return out;
}

/**
 * The sent-by of a top via-parm the Via parser refuses, read leniently: the answer to a request that did not
 * parse still carries `received` and goes to the port its Via names, so that a port no socket can send to (0,
 * past 65535) is refused and counted by the transport rather than replaced by 5060.
 */
function lenientSentBy(topVia: string): { host: string; port: number | undefined } | undefined {
  const m = /^\s*SIP\s*\/\s*2\.0\s*\/\s*\S+\s+(\[[^\]]+\]|[^;:\s]+)(?:\s*:\s*(\d+))?/i.exec(topVia);
  return m ? { host: m[1]!, port: m[2] === undefined ? undefined : Number(m[2]) } : undefined;
}

/**
 * §18.2.2 for unreliable transports, with RFC 3581: with rport, answer the source address and port; else
 * the received address (the source) at the sent-by port, default 5060. Never the Via host itself: a response
 * is not sent to an address the request did not come from (RFC 4475 §3.3.14, bcast).
 */
export function responseDestination(via: SipHeader, remote: Peer): Peer {
  const top = topVia(via);
  const comma = topLevelComma(via.value);
  const topText = comma === -1 ? via.value : via.value.slice(0, comma);
  const rport = top ? top.rport : headerParam(topText, 'rport');
  if (rport !== undefined) return remote;
  return { address: remote.address, port: (top ? top.port : lenientSentBy(topText)?.port) ?? 5060 };
}
