import { SdpParseError } from './sdp-error.js';
import type { SdpLine } from './parse-sdp.js';

/** `m=<media> <port>[/<number of ports>] <proto> <fmt> ...` (RFC 8866 §5.14). */
export interface SdpMediaLine {
  media: string;
  port: number;
  portCount?: number;
  proto: string;
  formats: string[];
}

const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;
const PORT = /^(\d{1,5})(?:\/(\d{1,5}))?$/;

export function parseMediaLine(value: string): SdpMediaLine {
  const [media, port, proto, ...formats] = value.split(' ');
  const ports = PORT.exec(port ?? '');
  if (
    !media ||
    !TOKEN.test(media) ||
    !ports ||
    !proto ||
    formats.length === 0 ||
    formats.some((f) => f === '')
  ) {
    throw new SdpParseError('SDP_MEDIA_LINE', `bad m= line: ${JSON.stringify(value.slice(0, 60))}`, 0);
  }
  const n = Number(ports[1]);
  if (n > 65535) throw new SdpParseError('SDP_MEDIA_LINE', `port ${n} out of range`, 0);
  return {
    media,
    port: n,
    ...(ports[2] === undefined ? {} : { portCount: Number(ports[2]) }),
    proto,
    formats,
  };
}

export function formatMediaLine(m: SdpMediaLine): string {
  const port = m.portCount === undefined ? `${m.port}` : `${m.port}/${m.portCount}`;
  return [m.media, port, m.proto, ...m.formats].join(' ');
}

/** `c=<nettype> <addrtype> <connection-address>` (RFC 8866 §5.7). */
export interface SdpConnection {
  netType: string;
  addrType: string;
  address: string;
}

export function parseConnectionLine(value: string): SdpConnection {
  const parts = value.split(' ');
  const [netType, addrType, address] = parts;
  if (parts.length !== 3 || !netType || !addrType || !address) {
    throw new SdpParseError('SDP_CONNECTION_LINE', `bad c= line: ${JSON.stringify(value.slice(0, 60))}`, 0);
  }
  return { netType, addrType, address };
}

export function formatConnectionLine(c: SdpConnection): string {
  return `${c.netType} ${c.addrType} ${c.address}`;
}

/** The `a=` lines among `lines` as name and value (`a=sendrecv` has no value; `a=rtpmap:0 PCMU/8000` has). */
export function sdpAttributes(lines: readonly SdpLine[]): { name: string; value: string | undefined }[] {
  return lines
    .filter((l) => l.type === 'a')
    .map((l) => {
      const colon = l.value.indexOf(':');
      return colon === -1
        ? { name: l.value, value: undefined }
        : { name: l.value.slice(0, colon), value: l.value.slice(colon + 1) };
    });
}
