/*
 * RFC 3261 §25.1:
 *   Via               =  ( "Via" / "v" ) HCOLON via-parm *(COMMA via-parm)
 *   via-parm          =  sent-protocol LWS sent-by *( SEMI via-params )
 *   via-params        =  via-ttl / via-maddr / via-received / via-branch / via-extension
 *   sent-protocol     =  protocol-name SLASH protocol-version SLASH transport
 *   protocol-name     =  "SIP" / token
 *   protocol-version  =  token
 *   transport         =  "UDP" / "TCP" / "TLS" / "SCTP" / other-transport
 *   sent-by           =  host [ COLON port ]
 * RFC 3581 §3:
 *   response-port     =  "rport" [EQUAL 1*DIGIT]
 */
import { SipParseError } from '../errors.js';
import { paramValue, parseParams, type HeaderParam } from './params.js';

export interface Via {
  readonly protocol: string;
  readonly version: string;
  /** Upper-cased transport (UDP, TCP, TLS, SCTP, WS, or any other token, RFC 4475 §3.1.1.10). */
  readonly transport: string;
  /** sent-by host; an IPv6 reference keeps its brackets. */
  readonly host: string;
  readonly port: number | undefined;
  readonly params: readonly HeaderParam[];
  readonly branch: string | undefined;
  readonly received: string | undefined;
  /** RFC 3581: undefined when absent, '' when present without a value. */
  readonly rport: string | undefined;
}

const SENT_PROTOCOL =
  /^[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*\/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*\/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:[ \t]*:[ \t]*(\d{1,5}))?/;

function bad(value: string, why: string): SipParseError {
  return new SipParseError('SIP_PARSE_VIA', `Via: ${why} in "${value.slice(0, 80)}"`);
}

/** Parses every via-parm of one Via header value. Throws SipParseError SIP_PARSE_VIA. */
export function parseVia(value: string): Via[] {
  const out: Via[] = [];
  let i = 0;
  for (;;) {
    const m = SENT_PROTOCOL.exec(value.slice(i));
    if (!m) throw bad(value, 'expected SIP/2.0/<transport> <host>[:<port>]');
    const port = m[5] === undefined ? undefined : Number(m[5]);
    if (port !== undefined && port > 65535) throw bad(value, 'port out of range');
    const { params, end } = parseParams(value, i + m[0].length, 'SIP_PARSE_VIA');
    out.push({
      protocol: m[1]!,
      version: m[2]!,
      transport: m[3]!.toUpperCase(),
      host: m[4]!,
      port,
      params,
      branch: paramValue(params, 'branch'),
      received: paramValue(params, 'received'),
      rport: paramValue(params, 'rport'),
    });
    if (end >= value.length) return out;
    i = end + 1; // past the comma
    if (/^[ \t]*$/.test(value.slice(i))) throw bad(value, 'empty via-parm after ","');
  }
}

/** The topmost via-parm of a Via header value. */
export function parseTopVia(value: string): Via {
  return parseVia(value)[0]!;
}
