/**
 * The text of the memory streams' entries, kept off the V8 heap: each entry's JSON is written as UTF-8 into
 * large buffers one after another, and the entry keeps only where it is.
 *
 * An embedded stream holds tens of thousands of entries (call events are kept a minute, up to
 * DEFAULT_STREAM_MAX_BYTES), and each lived through two scavenges before it was trimmed: copied twice, then
 * marked by every major collection while it stayed. As a JSON string an entry was about ten heap objects (V8's
 * JSON.stringify returns a rope: a concatenated string of its pieces; its id another). Written here it is one
 * small object on the heap; its bytes are in a chunk that no collector scans or moves (measured at 800 calls/s:
 * see docs/performance.md, "What a gateway keeps past two scavenges").
 *
 * Entries are trimmed oldest first, so the chunks are freed in the order they were filled: a chunk goes with the
 * last entry (or pending delivery) that points into it.
 */

/** Bytes of one chunk; an entry larger than this gets a chunk of its own size. */
export const SLAB_CHUNK_BYTES = 256 * 1024;

const EMPTY = Buffer.alloc(0);

export class StreamSlab {
  /** The chunk the last `write` went to. */
  chunk: Buffer = EMPTY;
  private used = 0;

  /**
   * Writes `text`, whose UTF-8 length is `length` (`Buffer.byteLength(text)`), after the chunk's last entry or at
   * the start of a new chunk when it does not fit; returns its offset in `this.chunk`.
   */
  write(text: string, length: number): number {
    if (this.used + length > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(Math.max(SLAB_CHUNK_BYTES, length));
      this.used = 0;
    }
    const offset = this.used;
    this.chunk.write(text, offset, length, 'utf8');
    this.used += length;
    return offset;
  }
}
