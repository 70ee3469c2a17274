import { SipParseError } from '../errors.js';
import type { HeaderParam } from '../headers/params.js';
import { parseVia, type Via } from '../headers/via.js';
import { cachedParse, newHeader, rememberParse } from '../message/header-cache.js';
import { headerParam, topLevelComma, type SipHeader } from '../message/sip-message.js';
import { bareHost } from '../uri/host-port.js';
import type { Peer } from './inbound-context.js';

/** The via-parms of a Via header, or undefined when the header does not parse (an unparsed datagram's). */
function viaParms(header: SipHeader): Via[] | undefined {
  try {
    return cachedParse(header, parseVia);
  } catch (err) {
    if (err instanceof SipParseError) return undefined;
    throw err;
  }
}

/** A Via value's top via-parm and the rest (from its comma on, or ''). */
function splitTop(value: string): [top: string, rest: string] {
  const comma = topLevelComma(value);
  return comma === -1 ? [value, ''] : [value.slice(0, comma), value.slice(comma)];
}

/** The top via-parm of a Via header, or undefined when the header does not parse. */
function topVia(header: SipHeader): Via | undefined {
  return viaParms(header)?.[0];
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
  const parms = viaParms(via);
  const first = parms?.[0];
  if (!parms || !first) return stampUnparsed(headers, index, remote);
  const addReceived = first.received === undefined && bareHost(first.host) !== remote.address;
  const setRport = first.rport === '';
  const out = [...headers];
  if (!addReceived && !setRport) return out;
  const [topText, rest] = splitTop(via.value);
  let top = topText;
  if (addReceived) top = `${top};received=${remote.address}`;
  if (setRport) top = top.replace(/;\s*rport(?=\s*(;|$))/i, `;rport=${remote.port}`);
  const stamped = newHeader('Via', top + rest);
  out[index] = stamped;
  // A quoted parameter value may hold what the rport edit above matched: such a Via is parsed again when read.
  if (top.includes('"')) return out;
  // The stamped via-parm as parsing the new text would give it, so it is not parsed again: the value-less
  // rport (the first, as the text's, its name written anew in lower case) takes the port, and received comes
  // last, as appended.
  let rportSet = !setRport;
  const params: HeaderParam[] = [];
  for (const p of first.params) {
    if (!rportSet && p.value === undefined && p.name.toLowerCase() === 'rport') {
      params.push({ name: 'rport', value: String(remote.port) });
      rportSet = true;
    } else params.push(p);
  }
  if (addReceived) params.push({ name: 'received', value: remote.address });
  const stampedTop: Via = {
    ...first,
    params,
    received: addReceived ? remote.address : first.received,
    rport: setRport ? String(remote.port) : first.rport,
  };
  rememberParse(stamped, [stampedTop, ...parms.slice(1)]);
  return out;
}

/** stampTopVia for a Via header the parser refuses: the same stamps, with its sent-by read leniently. */
function stampUnparsed(headers: readonly SipHeader[], index: number, remote: Peer): SipHeader[] {
  const via = headers[index]!;
  const [topText, rest] = splitTop(via.value);
  let top = topText;
  const sentBy = lenientSentBy(top);
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
  const [topText] = splitTop(via.value);
  const rport = top ? top.rport : headerParam(topText, 'rport');
  if (rport !== undefined) return remote;
  return { address: remote.address, port: (top ? top.port : lenientSentBy(topText)?.port) ?? 5060 };
}
