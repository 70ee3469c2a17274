import { SdpParseError } from './sdp-error.js';

/** One `<type>=<value>` line and the line ending it had, so unchanged lines serialize to the same bytes. */
export interface SdpLine {
  type: string;
  value: string;
  eol: '\r\n' | '\n' | '';
}

/** A media description: its `m=` line first, then its own lines up to the next `m=`. */
export interface SdpMediaSection {
  lines: SdpLine[];
}

/** A session description (RFC 8866): the session-level lines (from `v=`), then the media sections. */
export interface Sdp {
  session: SdpLine[];
  media: SdpMediaSection[];
  /** Blank lines after the last line (not valid SDP, but common), kept so they serialize back unchanged. */
  trailer: string;
}

/** Largest SDP accepted (an ng datagram is at most 64 KiB anyway). */
const MAX_SDP_LENGTH = 65_536;
const LINE = /^([a-z])=(.*)$/s;

/**
 * Parses a session description (RFC 8866 §5, its predecessor RFC 4566) into lines, keeping every line ending
 * (CRLF, or a bare LF as §5 tolerates) so that `serializeSdp(parseSdp(s)) === s`. Checks the grammar of lines
 * (`<letter>=<value>`, no empty lines inside) and that it starts with `v=0`; the meaning of individual lines is
 * left to accessors such as `parseMediaLine`.
 */
export function parseSdp(text: string): Sdp {
  if (text.length > MAX_SDP_LENGTH) throw new SdpParseError('SDP_SYNTAX', 'SDP longer than 64 KiB', 0);
  const sdp: Sdp = { session: [], media: [], trailer: '' };
  let current = sdp.session;
  let pos = 0;
  let lineNo = 0;
  while (pos < text.length) {
    if (lineNo > 0 && /^[\r\n]+$/.test(text.slice(pos))) {
      sdp.trailer = text.slice(pos);
      break;
    }
    lineNo++;
    const lf = text.indexOf('\n', pos);
    const end = lf === -1 ? text.length : lf;
    const crlf = lf > pos && text[lf - 1] === '\r';
    const content = text.slice(pos, crlf ? end - 1 : end);
    const eol: SdpLine['eol'] = lf === -1 ? '' : crlf ? '\r\n' : '\n';
    pos = lf === -1 ? text.length : lf + 1;
    const match = LINE.exec(content);
    if (!match || content.includes('\r')) {
      throw new SdpParseError(
        'SDP_SYNTAX',
        `not a "<letter>=<value>" line: ${JSON.stringify(content.slice(0, 40))}`,
        lineNo,
      );
    }
    const line: SdpLine = { type: match[1]!, value: match[2]!, eol };
    if (lineNo === 1 && (line.type !== 'v' || line.value !== '0')) {
      throw new SdpParseError('SDP_VERSION', 'an SDP starts with "v=0"', 1);
    }
    if (line.type === 'm') {
      const section: SdpMediaSection = { lines: [] };
      sdp.media.push(section);
      current = section.lines;
    }
    current.push(line);
  }
  if (lineNo === 0) throw new SdpParseError('SDP_VERSION', 'empty SDP', 0);
  return sdp;
}

/** The exact text `parseSdp` read, with whatever lines were changed, added or removed since. */
export function serializeSdp(sdp: Sdp): string {
  let out = '';
  for (const line of [...sdp.session, ...sdp.media.flatMap((m) => m.lines)]) {
    out += `${line.type}=${line.value}${line.eol}`;
  }
  return out + sdp.trailer;
}
