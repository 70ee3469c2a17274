import { parseSdp, serializeSdp, type SdpLine } from '../sdp/parse-sdp.js';
import { formatMediaLine, parseConnectionLine, parseMediaLine } from '../sdp/sdp-lines.js';
import { formatCrypto, parseCrypto, type CryptoAttribute } from '../srtp/sdes.js';
import type { DtlsEdit, Setup } from './dtls-bridge.js';
import { hostPriority } from './ice-lite.js';

/** Where a party wants one of its media streams sent, as its SDP says (RFC 8866 §5.7, §5.14; RFC 3605). */
export interface OfferedStream {
  /** Index of the m= section. */
  index: number;
  media: string;
  address: string;
  rtpPort: number;
  /** RFC 3605 a=rtcp, else RTP port + 1 (RFC 3550 §11). */
  rtcpPort: number;
  /** RFC 5761: RTP and RTCP share the RTP port. */
  rtcpMux: boolean;
  /** Port 0: the stream is rejected or removed (RFC 3264 §6, §8.2). */
  disabled: boolean;
  /** Clock rates of the payload types, from a=rtpmap (static types of RFC 3551 default to 8000 Hz). */
  clockRates: Map<number, number>;
  /** The m= line's transport protocol (RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF …). */
  protocol: string;
  /** The a=crypto lines (RFC 4568) the relay can use, in the party's order; lines it cannot use are left out. */
  cryptos: CryptoAttribute[];
  /** The party's ICE credentials (RFC 8839 §5.4: media-level, else session-level), when it does ICE. */
  ice?: { ufrag: string; pwd: string };
  /** a=fingerprint values (RFC 8122 §5: media-level, else session-level), as written. */
  fingerprints: string[];
  /** a=setup (RFC 4145 §4), media-level else session-level. */
  setup?: Setup;
  /** a=mid (RFC 5888 §4). */
  mid?: string;
}

const ICE_ATTRIBUTES = new Set([
  'candidate',
  'ice-ufrag',
  'ice-pwd',
  'ice-options',
  'ice-lite',
  'end-of-candidates',
  'remote-candidates',
  'ice-mismatch',
]);

function attr(line: SdpLine): { name: string; value: string | undefined } {
  const colon = line.value.indexOf(':');
  return colon === -1
    ? { name: line.value, value: undefined }
    : { name: line.value.slice(0, colon), value: line.value.slice(colon + 1) };
}

const SETUPS = new Set(['actpass', 'active', 'passive', 'holdconn']);

function setupOf(attrs: { name: string; value: string | undefined }[]): Setup | undefined {
  const value = attrs
    .find((a) => a.name === 'setup')
    ?.value?.trim()
    .toLowerCase();
  return value && SETUPS.has(value) ? (value as Setup) : undefined;
}

/** DTLS-SRTP attributes of one party (RFC 8122 §5, RFC 4145 §4, RFC 8842 §5). */
const DTLS_ATTRIBUTES = new Set(['fingerprint', 'setup', 'tls-id']);

const isMux = (l: SdpLine) => l.type === 'a' && l.value === 'rtcp-mux';

/** An a= line to append to `lines` (the last line gets an end of line if it had none). */
function attributeLine(lines: SdpLine[], value: string): SdpLine {
  const last = lines[lines.length - 1]!;
  const eol = last.eol || lines[0]!.eol || '\r\n';
  lines[lines.length - 1] = { ...last, eol };
  return { type: 'a', value, eol: last.eol };
}

/** The media streams of an SDP and where their party receives them. Throws SdpParseError on bad SDP. */
export function offeredStreams(text: string): OfferedStream[] {
  const sdp = parseSdp(text);
  const sessionC = sdp.session.find((l) => l.type === 'c');
  const sessionAddress = sessionC ? parseConnectionLine(sessionC.value).address : undefined;
  const sessionMux = sdp.session.some((l) => l.type === 'a' && l.value === 'rtcp-mux');
  const sessionAttrs = sdp.session.filter((l) => l.type === 'a').map(attr);
  const iceOf = (attrs: { name: string; value: string | undefined }[]) => {
    const ufrag = attrs.find((a) => a.name === 'ice-ufrag')?.value;
    const pwd = attrs.find((a) => a.name === 'ice-pwd')?.value;
    return ufrag && pwd ? { ufrag: ufrag.trim(), pwd: pwd.trim() } : undefined;
  };
  const sessionIce = iceOf(sessionAttrs);
  const sessionFingerprints = sessionAttrs
    .filter((a) => a.name === 'fingerprint' && a.value)
    .map((a) => a.value!.trim());
  const sessionSetup = setupOf(sessionAttrs);
  return sdp.media.map((section, index) => {
    const m = parseMediaLine(section.lines[0]!.value);
    const c = section.lines.find((l) => l.type === 'c');
    const address = c ? parseConnectionLine(c.value).address : sessionAddress;
    const attrs = section.lines.filter((l) => l.type === 'a').map(attr);
    const rtcp = attrs.find((a) => a.name === 'rtcp')?.value;
    const rtcpPort = rtcp ? Number(rtcp.split(' ')[0]) : m.port + 1;
    const clockRates = new Map<number, number>();
    for (const a of attrs) {
      if (a.name !== 'rtpmap' || !a.value) continue;
      const mm = /^(\d+)\s+[^/]+\/(\d+)/.exec(a.value);
      if (mm) clockRates.set(Number(mm[1]), Number(mm[2]));
    }
    const ice = iceOf(attrs) ?? sessionIce;
    const fingerprints = attrs.filter((a) => a.name === 'fingerprint' && a.value).map((a) => a.value!.trim());
    const setup = setupOf(attrs) ?? sessionSetup;
    const mid = attrs.find((a) => a.name === 'mid')?.value?.trim();
    return {
      ...(ice ? { ice } : {}),
      ...(setup ? { setup } : {}),
      ...(mid ? { mid } : {}),
      fingerprints: fingerprints.length ? fingerprints : sessionFingerprints,
      index,
      media: m.media,
      address: address ?? '0.0.0.0',
      rtpPort: m.port,
      rtcpPort: Number.isInteger(rtcpPort) && rtcpPort > 0 && rtcpPort < 65536 ? rtcpPort : m.port + 1,
      rtcpMux: sessionMux || attrs.some((a) => a.name === 'rtcp-mux'),
      disabled: m.port === 0,
      clockRates,
      protocol: m.proto,
      cryptos: attrs.flatMap((a) => {
        const parsed = a.name === 'crypto' && a.value ? parseCrypto(a.value) : undefined;
        return parsed ? [parsed] : [];
      }),
    };
  });
}

export interface RewriteOptions {
  /** The relay's address the receiving party must send to. */
  address: string;
  /** Relay RTP port per m= section (RTCP is the next port); undefined keeps a disabled section at port 0. */
  ports: readonly (number | undefined)[];
  /** `replace: ["origin"]`: the o= line's address becomes the relay's. */
  replaceOrigin: boolean;
  /** `ICE: "remove"`: ICE attributes go, or candidates would let the parties bypass the relay. */
  removeIce: boolean;
  /** Per m= section: `add` a=rtcp-mux, `remove` it, or undefined to keep what the party sent. */
  rtcpMux?: readonly ('add' | 'remove' | undefined)[];
  /** Per m= section: a new transport protocol for the m= line, or undefined to keep it. */
  protocols?: readonly (string | undefined)[];
  /** Per m= section: a=crypto lines replacing the party's, or `keep` (also when undefined). */
  cryptos?: readonly ('keep' | readonly CryptoAttribute[] | undefined)[];
  /**
   * Per m= section: the relay's ICE-lite credentials for the receiving party, or undefined. When any section
   * has them, every ICE attribute of the sender goes, a=ice-lite is added at session level, and those
   * sections get the relay's ufrag, pwd and one host candidate per component (RFC 8839 §5.1).
   */
  ice?: readonly ({ ufrag: string; pwd: string } | undefined)[];
  /**
   * Per m= section: `relay` puts the relay's a=fingerprint and a=setup in place of the party's, `strip` takes
   * the party's out, `keep` (or undefined) passes them.
   */
  dtls?: readonly (DtlsEdit | undefined)[];
  /** Per m= section: an a=mid to add when the section has none (RFC 5888; WebRTC peers require it). */
  mids?: readonly (string | undefined)[];
  /** mids to group with a=group:BUNDLE (RFC 9143) when the session has no group line. */
  bundle?: readonly string[];
}

const isCrypto = (l: SdpLine) => l.type === 'a' && l.value.startsWith('crypto:');

/**
 * The SDP the other party receives: every connection address and port replaced by the relay's (anchoring),
 * a=rtcp pointing at the relay's RTCP port, ICE removed when asked or replaced by the relay's ICE-lite. Other
 * lines are kept byte for byte.
 */
export function rewriteSdp(text: string, options: RewriteOptions): string {
  const sdp = parseSdp(text);
  const ipVersion = options.address.includes(':') ? 'IP6' : 'IP4';
  const connection = `IN ${ipVersion} ${options.address}`;
  const mux = options.rtcpMux ?? [];
  const iceLite = options.ice?.some(Boolean) ?? false;
  const dropIce = options.removeIce || iceLite;
  const dtls = options.dtls ?? [];
  const dropDtls = (i: number) => dtls[i] !== undefined && dtls[i].kind !== 'keep';
  const keep = (l: SdpLine) => !(dropIce && l.type === 'a' && ICE_ATTRIBUTES.has(attr(l).name));
  // Session-level DTLS attributes apply to every section: they go when any section's are replaced.
  const dropSessionDtls = sdp.media.some((_, i) => dropDtls(i));
  // A party that gets plain media from a WebRTC one gets no BUNDLE group either (phones do not bundle).
  const dropGroup = dtls.some((e) => e?.kind === 'strip');
  const keepSession = (l: SdpLine) =>
    keep(l) &&
    !(dropSessionDtls && l.type === 'a' && DTLS_ATTRIBUTES.has(attr(l).name)) &&
    !(dropGroup && l.type === 'a' && l.value.startsWith('group:BUNDLE'));
  // A session-level a=rtcp-mux (seen in the wild, though RFC 5761 puts it in media sections) moves to the
  // sections when they are decided one by one.
  const sessionMux = mux.some(Boolean) && sdp.session.some(isMux);
  sdp.session = sdp.session
    .filter((l) => keepSession(l) && !(sessionMux && isMux(l)))
    .map((l) => {
      if (l.type === 'c') return { ...l, value: connection };
      if (l.type === 'o' && options.replaceOrigin) {
        const parts = l.value.split(' ');
        if (parts.length === 6)
          return { ...l, value: [...parts.slice(0, 4), ipVersion, options.address].join(' ') };
      }
      return l;
    });
  // RFC 8839 §5.3: a=ice-lite is a session-level attribute.
  if (iceLite) sdp.session.push(attributeLine(sdp.session, 'ice-lite'));
  const hasGroup = sdp.session.some((l) => l.type === 'a' && l.value.startsWith('group:'));
  if (options.bundle?.length && !hasGroup) {
    sdp.session.push(attributeLine(sdp.session, `group:BUNDLE ${options.bundle.join(' ')}`));
  }
  sdp.media.forEach((section, i) => {
    const port = options.ports[i];
    const parsed = parseMediaLine(section.lines[0]!.value);
    const edit = dtls[i];
    const protocol =
      edit?.kind === 'relay'
        ? edit.protocol
        : (options.protocols?.[i] ?? (edit?.kind === 'strip' ? edit.protocol : undefined));
    const m = { ...parsed, proto: protocol ?? parsed.proto };
    const cryptos = options.cryptos?.[i];
    const replaceCrypto = cryptos !== undefined && cryptos !== 'keep';
    if (sessionMux && !section.lines.some(isMux))
      section.lines.push(attributeLine(section.lines, 'rtcp-mux'));
    section.lines = section.lines
      .filter(
        (l) =>
          keep(l) &&
          !(mux[i] === 'remove' && isMux(l)) &&
          !(replaceCrypto && isCrypto(l)) &&
          !(dropDtls(i) && l.type === 'a' && DTLS_ATTRIBUTES.has(attr(l).name)),
      )
      .map((l, j) => {
        if (j === 0) return { ...l, value: formatMediaLine({ ...m, port: port ?? 0 }) };
        if (l.type === 'c') return { ...l, value: connection };
        if (l.type === 'a' && attr(l).name === 'rtcp' && port !== undefined) {
          return { ...l, value: `rtcp:${port + 1} ${connection}` };
        }
        return l;
      });
    // RFC 5761 §5.1.1: "a=rtcp-mux" in the media section offers (or, in an answer, accepts) multiplexing.
    if (mux[i] === 'add' && port !== undefined && !section.lines.some(isMux)) {
      section.lines.push(attributeLine(section.lines, 'rtcp-mux'));
    }
    if (replaceCrypto) {
      for (const crypto of cryptos)
        section.lines.push(attributeLine(section.lines, `crypto:${formatCrypto(crypto)}`));
    }
    const mid = options.mids?.[i];
    if (mid !== undefined && !section.lines.some((l) => l.type === 'a' && attr(l).name === 'mid')) {
      section.lines.push(attributeLine(section.lines, `mid:${mid}`));
    }
    if (edit?.kind === 'relay' && port !== undefined) {
      section.lines.push(attributeLine(section.lines, `fingerprint:${edit.fingerprint}`));
      section.lines.push(attributeLine(section.lines, `setup:${edit.setup}`));
    }
    const ice = options.ice?.[i];
    if (ice && port !== undefined) {
      // One host candidate per component: RTP, and RTCP on the next port unless the section multiplexes.
      const components = section.lines.some(isMux) ? [1] : [1, 2];
      const lines = [
        `ice-ufrag:${ice.ufrag}`,
        `ice-pwd:${ice.pwd}`,
        ...components.map(
          (c) => `candidate:1 ${c} UDP ${hostPriority(c)} ${options.address} ${port + c - 1} typ host`,
        ),
        'end-of-candidates',
      ];
      for (const value of lines) section.lines.push(attributeLine(section.lines, value));
    }
  });
  return serializeSdp(sdp);
}

/**
 * a=mid for WebRTC parties (RFC 5888; ng `generate-mid`): in an offer, generated for every section when asked or
 * when the relay offers its DTLS; in an answer, echoing the mids the receiving offerer sent (`offeredMids`), with a
 * BUNDLE group when exactly one stream is active — the relay has one transport per stream, so a group is only true
 * of a single one (RFC 9143 §7.3).
 */
export function midsFor(
  streams: readonly OfferedStream[],
  context: {
    generate: boolean;
    answer: boolean;
    offeredMids: readonly (string | undefined)[];
    edits: readonly DtlsEdit[];
  },
): Pick<RewriteOptions, 'mids' | 'bundle'> {
  if (!context.answer) {
    if (!context.generate && !context.edits.some((e) => e.kind === 'relay')) return {};
    return { mids: streams.map((s) => s.mid ?? String(s.index)) };
  }
  const offered = context.offeredMids;
  if (!offered.some(Boolean)) return {};
  const active = streams
    .filter((s) => !s.disabled)
    .map((s) => offered[s.index])
    .filter((mid): mid is string => mid !== undefined);
  return { mids: offered, ...(active.length === 1 ? { bundle: active } : {}) };
}
