import { SipParseError } from '../errors.js';
import { findHeadEnd } from '../message/parse-message.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');

export type Frame = { kind: 'message'; bytes: Buffer } | { kind: 'ping' };

/**
 * Cuts a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3: "the Content-Length header field MUST be used
 * to determine the end of each SIP message in a stream"), handling partial reads and pipelined messages, and
 * RFC 5626 §4.4.1 keepalives: a double CRLF is a ping (answered with one CRLF), a lone CRLF a pong.
 * After a framing error the stream cannot be resynchronized: the caller closes the connection.
 */
export class StreamFramer {
  private buffer: Buffer = Buffer.alloc(0);

  /**
   * `onPong` (optional) is called for every CRLF that is not part of a ping: the RFC 5626 §4.4.1 pong that
   * proves an outbound flow alive. With it, a CRLF is consumed as soon as it arrives: a ping split across two
   * reads is then taken for two pongs, which only the side that pings (never pinged itself) may accept.
   */
  constructor(
    private readonly maxMessageSize: number,
    private readonly onPong?: () => void,
  ) {}

  push(chunk: Buffer): Frame[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const b = this.buffer;
      if (b.length >= 4 && b.readUInt32BE(0) === 0x0d0a0d0a) {
        frames.push({ kind: 'ping' });
        this.buffer = b.subarray(4);
        continue;
      }
      if (b[0] === 0x0d || b[0] === 0x0a) {
        const crlf = b[0] === 0x0d && b[1] === 0x0a;
        // Could still become a ping ("\r\n\r" so far): wait for the next bytes. Not on a flow that pings
        // (`onPong` given): there a CRLF is the answer, and two quick answers must not make a ping.
        if (b.length < 4 && CRLFCRLF.subarray(0, b.length).equals(b) && !(crlf && this.onPong)) return frames;
        // A lone CRLF is a pong, and CRLFs before a start line are ignored (§7.5).
        if (crlf) this.onPong?.();
        this.buffer = b.subarray(crlf ? 2 : 1);
        continue;
      }
      if (this.buffer.length === 0) return frames;
      const bounds = findHeadEnd(this.buffer);
      if (!bounds) {
        if (this.buffer.length > this.maxMessageSize) {
          throw new SipParseError(
            'SIP_PARSE_TOO_LARGE',
            `header section exceeds ${this.maxMessageSize} bytes`,
          );
        }
        return frames;
      }
      const head = this.buffer.toString('latin1', 0, bounds.headEnd);
      const lengths = [...head.matchAll(/\r?\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)/gi)].map((m) =>
        m[1]!.trim(),
      );
      if (lengths.length === 0 || new Set(lengths).size > 1 || !/^\d{1,10}$/.test(lengths[0]!)) {
        throw new SipParseError(
          'SIP_PARSE_CONTENT_LENGTH',
          lengths.length === 0
            ? 'Content-Length is required on streams (§18.3)'
            : `unusable Content-Length ${lengths.join(', ')}`,
        );
      }
      const total = bounds.bodyStart + Number(lengths[0]);
      if (total > this.maxMessageSize) {
        throw new SipParseError(
          'SIP_PARSE_TOO_LARGE',
          `message of ${total} bytes exceeds ${this.maxMessageSize}`,
        );
      }
      if (this.buffer.length < total) return frames;
      frames.push({ kind: 'message', bytes: Buffer.from(this.buffer.subarray(0, total)) });
      this.buffer = this.buffer.subarray(total);
    }
  }

  /**
   * Whether bytes of a message are waiting for the rest: what is kept is more than a CRLF that may still become
   * a keepalive ping (RFC 5626 §4.4.1).
   */
  hasPartialMessage(): boolean {
    const first = this.buffer[0];
    return first !== undefined && first !== 0x0d && first !== 0x0a;
  }

  /** Bytes received but not yet a whole message (for the error response when framing fails). */
  pending(): Buffer {
    return this.buffer;
  }
}
