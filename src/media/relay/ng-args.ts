import type { BencodeValue } from '../ng/bencode.js';
import type { NgDictionary } from '../ng/ng-message.js';
import { SRTP_SUITES } from '../srtp/srtp-suites.js';
import { MediaRelayError } from './relay-errors.js';
import type { DtlsFlag } from './dtls-bridge.js';
import { DEFAULT_SDES_POLICY, type SdesPolicy } from './sdes-bridge.js';

/** ng `rtcp-mux` values (RTPengine): what to do with RFC 5761 multiplexing in the SDP the relay sends on. */
export type RtcpMuxFlag = 'offer' | 'require' | 'demux' | 'reject' | 'accept';

/**
 * ng `ICE` (RTPengine's values): `remove` strips ICE from the SDP sent on; `force` gives the receiving party
 * the relay's ICE-lite (in an answer only towards an offerer that offered ICE: RFC 8839 §4.2.2 has no ICE in
 * an answer to an offer without it); `default` (no key, `optional` and other values) gives it to a party that
 * does ICE — the sender of an offer with ICE makes its receiver one, and a party whose own SDP had ICE.
 */
export type IceFlag = 'remove' | 'force' | 'default';

/** The keys of an offer/answer the relay acts on. */
export interface SdpFlags {
  /** `replace: [origin]`: the o= line gets the relay's address. */
  replaceOrigin: boolean;
  /** `ICE`: `remove`, `force`, or `default`. */
  ice: IceFlag;
  /** `flags: [strict-source]`: packets from anywhere but the party's address are dropped. */
  strictSource: boolean;
  /** `rtcp-mux`, as given. */
  rtcpMux: ReadonlySet<RtcpMuxFlag>;
  /**
   * `flags: [SIP-source-address]` with `received-from: [IP4, addr]`: the party's media address is where its
   * SIP came from, not its SDP's c= line (RTPengine trusts the SDP otherwise, as since its 3.8).
   */
  sourceAddress?: string;
  /** `record call: yes` (or `flags: [record-call]`): record this call. */
  recordCall: boolean;
  /** `transport-protocol`: the profile of the SDP the other party gets (RTP/AVP ↔ RTP/SAVP bridges SRTP). */
  transportProtocol?: string;
  /** `SDES`: which suites the relay offers and accepts. */
  sdes: SdesPolicy;
  /** `DTLS`: `off` (no DTLS offered), `passive` or `active` (the relay's role offered), else `default`. */
  dtls: DtlsFlag;
  /** `generate-mid` (flags): a=mid added to sections that have none. */
  generateMid: boolean;
}

/** The profiles `transport-protocol` may name (RTPengine's list, as written in m= lines). */
const TRANSPORT_PROTOCOLS = new Map(
  ['RTP/AVP', 'RTP/SAVP', 'RTP/AVPF', 'RTP/SAVPF', 'UDP/TLS/RTP/SAVP', 'UDP/TLS/RTP/SAVPF'].map((p) => [
    p.toLowerCase(),
    p,
  ]),
);

export function text(value: BencodeValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  if (typeof value === 'number') return String(value);
  return undefined;
}

/** A list key: a bencoded list of strings, or (as some clients send) one space- or comma-separated string. */
export function list(value: BencodeValue | undefined): string[] {
  if (Array.isArray(value)) return value.map((v) => text(v) ?? '').filter(Boolean);
  const single = text(value);
  return single ? single.split(/[\s,]+/).filter(Boolean) : [];
}

/** A key the command cannot do without; RTPengine's reply text when it is missing. */
export function need(args: NgDictionary, key: string, what: string): string {
  const value = text(args[key]);
  if (value === undefined || value === '')
    throw new MediaRelayError('MEDIA_MISSING_KEY', `No ${what} in message`);
  return value;
}

/** RTPengine lower-cases flags and treats spaces, dashes and underscores alike. */
const normal = (flag: string) => flag.toLowerCase().replace(/[\s_]/g, '-');

const MUX_FLAGS = new Set<string>(['offer', 'require', 'demux', 'reject', 'accept']);

export function sdpFlagsOf(args: NgDictionary): SdpFlags {
  const replace = list(args.replace).map(normal);
  const flags = new Set(list(args.flags).map(normal));
  const rtcpMux = new Set<RtcpMuxFlag>();
  for (const value of list(args['rtcp-mux']).map(normal)) {
    if (MUX_FLAGS.has(value)) rtcpMux.add(value as RtcpMuxFlag);
  }
  // `direction` names the relay's interfaces for each side ("internal", "external"); with one interface there
  // is nothing to choose, and RTPengine too accepts any value.
  const flagsResult: SdpFlags = {
    replaceOrigin: replace.includes('origin') || flags.has('replace-origin'),
    ice: iceFlag(normal(text(args.ICE) ?? '')),
    strictSource: flags.has('strict-source'),
    rtcpMux,
    recordCall: normal(text(args['record call']) ?? '') === 'yes' || flags.has('record-call'),
    sdes: sdesPolicy(list(args.SDES).map(normal)),
    dtls: dtlsFlag(normal(text(args.DTLS) ?? '')),
    generateMid: flags.has('generate-mid'),
  };
  const protocol = text(args['transport-protocol']) ?? text(args['transport protocol']);
  if (protocol !== undefined) {
    const known = TRANSPORT_PROTOCOLS.get(protocol.trim().toLowerCase());
    if (!known)
      throw new MediaRelayError('MEDIA_BAD_FLAG', `Unknown transport protocol '${protocol.slice(0, 40)}'`);
    flagsResult.transportProtocol = known;
  }
  if (flags.has('sip-source-address') && !flags.has('trust-address')) {
    const from = receivedFrom(args['received-from']);
    if (from) return { ...flagsResult, sourceAddress: from };
  }
  return flagsResult;
}

/**
 * RTPengine's `SDES` list: `off` (no a=crypto offered), `no-<suite>` (never that suite), `only-<suite>` (those
 * suites only). Unknown entries (`pad`, `lifetime`, `unencrypted_srtp` …) change nothing here.
 */
function sdesPolicy(entries: string[]): SdesPolicy {
  if (entries.length === 0) return DEFAULT_SDES_POLICY;
  const upper = (e: string, prefix: string) => e.slice(prefix.length).toUpperCase().replace(/-/g, '_');
  const no = new Set(entries.filter((e) => e.startsWith('no-')).map((e) => upper(e, 'no-')));
  const only = new Set(entries.filter((e) => e.startsWith('only-')).map((e) => upper(e, 'only-')));
  return {
    off: entries.includes('off'),
    suites: SRTP_SUITES.filter((s) => !no.has(s.name) && (only.size === 0 || only.has(s.name))),
  };
}

/** RTPengine's `DTLS` values: `off`, `no` and `disable` turn it off; `passive`, `active` choose the role. */
function dtlsFlag(value: string): DtlsFlag {
  if (value === 'off' || value === 'no' || value === 'disable') return 'off';
  return value === 'passive' || value === 'active' ? value : 'default';
}

function iceFlag(value: string): IceFlag {
  return value === 'remove' || value === 'force' ? value : 'default';
}

/** `received-from: ["IP4", "192.0.2.1"]` → the address. */
function receivedFrom(value: BencodeValue | undefined): string | undefined {
  const parts = list(value);
  const address = parts.length >= 2 ? parts[1] : parts[0];
  return address && /^[0-9A-Fa-f.:]+$/.test(address) ? address : undefined;
}
