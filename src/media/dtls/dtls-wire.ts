import { DtlsError } from './dtls-error.js';

/**
 * Bytes of the DTLS 1.2 wire format (RFC 6347 §4.1, §4.2.2; RFC 5246 §4 presentation language): a cursor that
 * never reads past its buffer, and the record and handshake framings.
 */
export class Reader {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  private take(length: number): number {
    if (length > this.remaining) throw new DtlsError('malformed', 'DTLS message ends early');
    const at = this.offset;
    this.offset += length;
    return at;
  }

  u8(): number {
    return this.buffer[this.take(1)]!;
  }

  u16(): number {
    return this.buffer.readUInt16BE(this.take(2));
  }

  u24(): number {
    return this.buffer.readUIntBE(this.take(3), 3);
  }

  u48(): number {
    return this.buffer.readUIntBE(this.take(6), 6);
  }

  bytes(length: number): Buffer {
    const at = this.take(length);
    return this.buffer.subarray(at, at + length);
  }

  /** `opaque x<0..2^8-1>` and its kin: a length of `size` bytes, then that many bytes. */
  vector(size: 1 | 2 | 3): Buffer {
    const length = size === 1 ? this.u8() : size === 2 ? this.u16() : this.u24();
    return this.bytes(length);
  }

  rest(): Buffer {
    return this.bytes(this.remaining);
  }
}

export const u8 = (n: number) => Buffer.from([n]);

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u24(n: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(n, 0, 3);
  return b;
}

export function vector(size: 1 | 2 | 3, body: Buffer): Buffer {
  const length = size === 1 ? u8(body.length) : size === 2 ? u16(body.length) : u24(body.length);
  return Buffer.concat([length, body]);
}

/** RFC 5246 §6.2.1 ContentType. */
export const ContentType = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;

/** DTLS 1.2's version on the wire: {254, 253} (RFC 6347 §4.1); DTLS 1.0 is {254, 255}. */
export const DTLS_1_2 = 0xfefd;
export const DTLS_1_0 = 0xfeff;

/** One record of a datagram (RFC 6347 §4.1: DTLSPlaintext, or DTLSCiphertext after ChangeCipherSpec). */
export interface DtlsRecord {
  type: number;
  version: number;
  epoch: number;
  sequence: number;
  fragment: Buffer;
}

const RECORD_HEADER = 13;

/**
 * The records of one datagram. RFC 6347 §4.1.2.7: invalid records "SHOULD be silently discarded"; a datagram
 * whose framing breaks stops there, the records before it are kept.
 */
export function parseRecords(datagram: Buffer): DtlsRecord[] {
  const records: DtlsRecord[] = [];
  let at = 0;
  while (datagram.length - at >= RECORD_HEADER) {
    const length = datagram.readUInt16BE(at + 11);
    if (at + RECORD_HEADER + length > datagram.length) break;
    records.push({
      type: datagram[at]!,
      version: datagram.readUInt16BE(at + 1),
      epoch: datagram.readUInt16BE(at + 3),
      sequence: datagram.readUIntBE(at + 5, 6),
      fragment: datagram.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length),
    });
    at += RECORD_HEADER + length;
  }
  return records;
}

export function recordHeader(
  type: number,
  version: number,
  epoch: number,
  sequence: number,
  length: number,
): Buffer {
  const header = Buffer.alloc(RECORD_HEADER);
  header[0] = type;
  header.writeUInt16BE(version, 1);
  header.writeUInt16BE(epoch, 3);
  header.writeUIntBE(sequence, 5, 6);
  header.writeUInt16BE(length, 11);
  return header;
}

/** RFC 5246 §7.4 HandshakeType, the ones DTLS-SRTP uses. */
export const HandshakeType = {
  clientHello: 1,
  serverHello: 2,
  helloVerifyRequest: 3,
  certificate: 11,
  serverKeyExchange: 12,
  certificateRequest: 13,
  serverHelloDone: 14,
  certificateVerify: 15,
  clientKeyExchange: 16,
  finished: 20,
} as const;

/** A handshake fragment (RFC 6347 §4.2.2): the message header with its place in the whole message. */
export interface HandshakeFragment {
  msgType: number;
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  body: Buffer;
}

const HANDSHAKE_HEADER = 12;

export function parseHandshakeFragments(fragment: Buffer): HandshakeFragment[] {
  const reader = new Reader(fragment);
  const out: HandshakeFragment[] = [];
  while (reader.remaining >= HANDSHAKE_HEADER) {
    const msgType = reader.u8();
    const length = reader.u24();
    const messageSeq = reader.u16();
    const fragmentOffset = reader.u24();
    const body = reader.vector(3);
    if (fragmentOffset + body.length > length) {
      throw new DtlsError('malformed', 'DTLS handshake fragment runs past its message');
    }
    out.push({ msgType, length, messageSeq, fragmentOffset, body });
  }
  return out;
}

/** A whole handshake message as one fragment: the form that goes into the transcript (RFC 6347 §4.2.6). */
export function handshakeMessage(
  msgType: number,
  messageSeq: number,
  body: Buffer,
  offset = 0,
  total = body.length,
): Buffer {
  const header = Buffer.alloc(HANDSHAKE_HEADER);
  header[0] = msgType;
  header.writeUIntBE(total, 1, 3);
  header.writeUInt16BE(messageSeq, 4);
  header.writeUIntBE(offset, 6, 3);
  header.writeUIntBE(body.length, 9, 3);
  return Buffer.concat([header, body]);
}

/** Largest handshake message accepted: certificate chains of WebRTC peers are well under it. */
export const MAX_HANDSHAKE_MESSAGE = 16_384;

/**
 * Reassembles fragmented handshake messages (RFC 6347 §4.2.3: "the receiver MUST buffer" fragments until it
 * has the whole message). Chrome sends its ClientHello in two fragments. Fragments may overlap or repeat; a
 * message is complete when every byte is covered.
 */
export class HandshakeReassembler {
  private readonly pending = new Map<number, { msgType: number; body: Buffer; covered: Uint8Array }>();

  /** The whole message once `fragment` completes it, else undefined. */
  add(fragment: HandshakeFragment): { msgType: number; messageSeq: number; body: Buffer } | undefined {
    if (fragment.fragmentOffset === 0 && fragment.body.length === fragment.length) {
      this.pending.delete(fragment.messageSeq);
      return { msgType: fragment.msgType, messageSeq: fragment.messageSeq, body: fragment.body };
    }
    if (fragment.length > MAX_HANDSHAKE_MESSAGE) {
      throw new DtlsError('malformed', `DTLS handshake message of ${fragment.length} bytes is too long`);
    }
    let entry = this.pending.get(fragment.messageSeq);
    if (entry && (entry.msgType !== fragment.msgType || entry.body.length !== fragment.length)) {
      throw new DtlsError('malformed', 'DTLS handshake fragments of one message disagree');
    }
    if (!entry) {
      // At most a flight's worth of messages in progress: anything more is not a handshake.
      if (this.pending.size >= 8)
        throw new DtlsError('malformed', 'Too many partial DTLS handshake messages');
      entry = {
        msgType: fragment.msgType,
        body: Buffer.alloc(fragment.length),
        covered: new Uint8Array(fragment.length),
      };
      this.pending.set(fragment.messageSeq, entry);
    }
    fragment.body.copy(entry.body, fragment.fragmentOffset);
    entry.covered.fill(1, fragment.fragmentOffset, fragment.fragmentOffset + fragment.body.length);
    if (!entry.covered.every((c) => c === 1)) return undefined;
    this.pending.delete(fragment.messageSeq);
    return { msgType: entry.msgType, messageSeq: fragment.messageSeq, body: entry.body };
  }

  /** Forgets partial messages older than `messageSeq` (their flight is over). */
  dropBefore(messageSeq: number): void {
    for (const seq of this.pending.keys()) if (seq < messageSeq) this.pending.delete(seq);
  }
}
