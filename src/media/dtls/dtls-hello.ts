import { DtlsError } from './dtls-error.js';
import { Reader, u16, u8, vector } from './dtls-wire.js';

/** RFC 5246 §7.4.1.4 extension types used by DTLS-SRTP. */
export const Extension = {
  supportedGroups: 10,
  ecPointFormats: 11,
  signatureAlgorithms: 13,
  useSrtp: 14,
  extendedMasterSecret: 23,
  renegotiationInfo: 0xff01,
} as const;

/** TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3): a client that knows secure renegotiation. */
const EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

export interface Hello {
  version: number;
  random: Buffer;
  sessionId: Buffer;
  /** ClientHello only (RFC 6347 §4.2.1). */
  cookie: Buffer;
  cipherSuites: number[];
  extensions: Map<number, Buffer>;
}

function readU16List(data: Buffer, size: 1 | 2): number[] {
  const list = new Reader(data).vector(size);
  if (list.length % 2) throw new DtlsError('malformed', 'A DTLS list of 16-bit values has an odd length');
  const out: number[] = [];
  for (let i = 0; i < list.length; i += 2) out.push(list.readUInt16BE(i));
  return out;
}

function readExtensions(reader: Reader): Map<number, Buffer> {
  const extensions = new Map<number, Buffer>();
  if (reader.remaining === 0) return extensions;
  const block = new Reader(reader.vector(2));
  while (block.remaining > 0) {
    const type = block.u16();
    const data = block.vector(2);
    // RFC 5246 §7.4.1.4: "There MUST NOT be more than one extension of the same type."
    if (extensions.has(type)) throw new DtlsError('malformed', `DTLS extension ${type} appears twice`);
    extensions.set(type, data);
  }
  return extensions;
}

export function parseClientHello(body: Buffer): Hello {
  const reader = new Reader(body);
  const version = reader.u16();
  const random = reader.bytes(32);
  const sessionId = reader.vector(1);
  const cookie = reader.vector(1);
  const suites = reader.vector(2);
  if (suites.length % 2) throw new DtlsError('malformed', 'DTLS cipher suite list has an odd length');
  const cipherSuites: number[] = [];
  for (let i = 0; i < suites.length; i += 2) cipherSuites.push(suites.readUInt16BE(i));
  reader.vector(1);
  const extensions = readExtensions(reader);
  if (cipherSuites.includes(EMPTY_RENEGOTIATION_INFO_SCSV) && !extensions.has(Extension.renegotiationInfo)) {
    extensions.set(Extension.renegotiationInfo, Buffer.from([0]));
  }
  return { version, random, sessionId, cookie, cipherSuites, extensions };
}

export function parseServerHello(body: Buffer): Hello {
  const reader = new Reader(body);
  const version = reader.u16();
  const random = reader.bytes(32);
  const sessionId = reader.vector(1);
  const cipherSuite = reader.u16();
  if (reader.u8() !== 0) throw new DtlsError('unsupported', 'The DTLS server chose a compression method');
  const extensions = readExtensions(reader);
  return { version, random, sessionId, cookie: Buffer.alloc(0), cipherSuites: [cipherSuite], extensions };
}

function extensionBlock(extensions: [number, Buffer][]): Buffer {
  return vector(
    2,
    Buffer.concat(extensions.map(([type, data]) => Buffer.concat([u16(type), vector(2, data)]))),
  );
}

export function clientHelloBody(
  hello: Omit<Hello, 'sessionId' | 'extensions'> & {
    extensions: [number, Buffer][];
  },
): Buffer {
  return Buffer.concat([
    u16(hello.version),
    hello.random,
    vector(1, Buffer.alloc(0)),
    vector(1, hello.cookie),
    vector(2, Buffer.concat(hello.cipherSuites.map(u16))),
    vector(1, u8(0)),
    extensionBlock(hello.extensions),
  ]);
}

export function serverHelloBody(
  version: number,
  random: Buffer,
  cipherSuite: number,
  extensions: [number, Buffer][],
): Buffer {
  return Buffer.concat([
    u16(version),
    random,
    vector(1, Buffer.alloc(0)),
    u16(cipherSuite),
    u8(0),
    extensionBlock(extensions),
  ]);
}

/** RFC 5764 §4.1.1 use_srtp: the profiles offered (or the one chosen) and the MKI, which must be empty here. */
export function parseUseSrtp(data: Buffer): number[] {
  const reader = new Reader(data);
  const profiles = readU16List(data, 2);
  reader.vector(2);
  const mki = reader.vector(1);
  if (mki.length) throw new DtlsError('unsupported', 'SRTP master key identifiers are not supported');
  return profiles;
}

export const useSrtpData = (profiles: number[]) =>
  Buffer.concat([vector(2, Buffer.concat(profiles.map(u16))), vector(1, Buffer.alloc(0))]);

export const readGroups = (data: Buffer) => readU16List(data, 2);
export const readSignatureSchemes = (data: Buffer) => readU16List(data, 2);
export const u16ListData = (values: readonly number[]) => vector(2, Buffer.concat(values.map(u16)));
