/*
 * RFC 3261 §7.3.1: "Header fields can be extended over multiple lines by preceding each extra line with at least
 * one space or horizontal tab (SP or HT)" — "the entire header field value can be treated as if it were a
 * single line with each such LWS replaced by a single SP".
 * §7.5: "Implementations processing SIP messages over stream-oriented transports MUST ignore any CRLF appearing
 * before the start-line"; §7 lets a recipient take a bare LF for CRLF, as deployed UAs send it.
 *   message-header  =  header-name HCOLON header-value CRLF
 *   HCOLON          =  *( SP / HTAB ) ":" SWS
 *   token           =  1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
 */
/**
 * The lines of a message head, found in one forward pass over its bytes, as offsets into the buffer: a line's
 * start and end (without its line break), and for a header line the end of its name and where its value
 * starts and ends without the whitespace around it. A line followed by
 * continuation lines is marked FOLDED and spans them all (its name and value are then read from the text).
 */
export const STRIDE = 6;
export const LINE_START = 0;
export const LINE_END = 1;
export const FLAGS = 2;
export const NAME_END = 3;
export const VALUE_START = 4;
export const VALUE_END = 5;

/** The line has continuation lines (§7.3.1). */
export const FOLDED = 1;
/** The (first physical) line is not `token *(SP / HTAB) ":"`: malformed unless folding makes it whole. */
export const NO_NAME = 2;

/** What scanHead found: `lines` logical lines (the start line first) in `offsets`, and where the head ends. */
export interface HeadScan {
  lines: number;
  offsets: Int32Array;
  /** Where the empty line that ends the head starts (the buffer's end when there is none). */
  headEnd: number;
  /** Where the body starts: past the empty line (the buffer's end when there is none). */
  bodyStart: number;
}

/** One scan at a time (parsing is synchronous): its offsets array is reused and grows as needed. */
const scan: HeadScan = { lines: 0, offsets: new Int32Array(64 * STRIDE), headEnd: 0, bodyStart: 0 };

const HT = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const COLON = 0x3a;

/** token characters (§25.1), by byte. */
const TOKEN = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~") {
  TOKEN[c.charCodeAt(0)] = 1;
}

/**
 * What String.prototype.trim removes, by latin1 byte (HT, LF, VT, FF, CR, SP, NBSP): a header value is trimmed
 * as the text it is, so that these bytes around it are not part of it, whatever the RFC's LWS says of them.
 */
const TRIMMED = new Uint8Array(256);
for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0]) TRIMMED[c] = 1;

/**
 * Scans the head of the message starting at `start` (not a CR or LF): every line up to the empty line that
 * ends the head — CRLF CRLF, or LF LF, whichever comes first — or up to the end of the buffer. A line ends at
 * LF; a CR just before it is part of the line break (except before the LF LF that ends the head, where the
 * head ends at that LF). The returned object is reused by the next call.
 */
export function scanHead(buf: Buffer, start: number): HeadScan {
  const len = buf.length;
  let offsets = scan.offsets;
  let lines = 0;
  let at = -1; // where the current logical line's fields are
  let i = start;
  let headEnd = len;
  let bodyStart = len;
  while (i < len) {
    const lineStart = i;
    const first = buf[i]!;
    const continuation = lines > 0 && (first === SP || first === HT);
    let flags = 0;
    let nameEnd = lineStart;
    if (lines > 0 && !continuation) {
      // header-name HCOLON
      while (i < len && TOKEN[buf[i]!] === 1) i++;
      nameEnd = i;
      while (i < len && (buf[i] === SP || buf[i] === HT)) i++;
      if (nameEnd === lineStart || i === len || buf[i] !== COLON) flags = NO_NAME;
      else i++;
    }
    // The rest of the line up to LF (found by indexOf, memchr); the value without what trim would remove around it.
    let lf = buf.indexOf(LF, i);
    if (lf === -1) lf = len;
    while (i < lf && TRIMMED[buf[i]!] === 1) i++;
    let valueStart = i;
    let valueEnd = lf;
    while (valueEnd > valueStart && TRIMMED[buf[valueEnd - 1]!] === 1) valueEnd--;
    if (valueEnd === valueStart) valueStart = valueEnd = -1;
    i = lf;
    let lineEnd = i;
    let ended = false;
    if (i < len) {
      if (i + 1 < len && buf[i + 1] === LF) {
        // LF LF ends the head at the first LF (the line keeps a CR before it).
        ended = true;
        headEnd = i;
        bodyStart = i + 2;
      } else if (i > lineStart && buf[i - 1] === CR) {
        lineEnd = i - 1;
        if (i + 2 < len && buf[i + 1] === CR && buf[i + 2] === LF) {
          // CRLF CRLF ends the head at its first CR.
          ended = true;
          headEnd = i - 1;
          bodyStart = i + 3;
        }
      }
    }
    if (continuation) {
      offsets[at + FLAGS] = offsets[at + FLAGS]! | FOLDED;
      offsets[at + LINE_END] = lineEnd;
    } else {
      at = lines * STRIDE;
      if (at + STRIDE > offsets.length) {
        const grown = new Int32Array(offsets.length * 2);
        grown.set(offsets);
        offsets = scan.offsets = grown;
      }
      offsets[at + LINE_START] = lineStart;
      offsets[at + LINE_END] = lineEnd;
      offsets[at + FLAGS] = flags;
      offsets[at + NAME_END] = nameEnd;
      offsets[at + VALUE_START] = valueStart;
      offsets[at + VALUE_END] = valueEnd;
      lines++;
    }
    if (ended) break;
    i++; // past LF
  }
  scan.lines = lines;
  scan.headEnd = headEnd;
  scan.bodyStart = bodyStart;
  return scan;
}
