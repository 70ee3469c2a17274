/**
 * RFC 3711 §3.3.2: "a replay list … window size of at least 64 MUST be supported". The list of one stream: a
 * 64-bit map below the highest index authenticated (bit i: index highest - i seen), in two 32-bit words of a
 * typed array, so checking and moving it allocates nothing (a `bigint` map made three numbers per packet).
 */
export const REPLAY_WINDOW = 64;

export class ReplayWindow {
  /** [0]: bits 0-31 (the newest), [1]: bits 32-63. */
  private readonly words = new Uint32Array(2);

  /** Whether the packet `age` indices below the highest was seen, or is too old to tell (so refused). */
  seen(age: number): boolean {
    if (age >= REPLAY_WINDOW) return true;
    const word = age < 32 ? this.words[0]! : this.words[1]!;
    return ((word >>> (age & 31)) & 1) === 1;
  }

  /** Marks the packet `age` indices below the highest (0 ≤ age < 64) as seen. */
  mark(age: number): void {
    if (age < 32) this.words[0] = this.words[0]! | (1 << age);
    else this.words[1] = this.words[1]! | (1 << (age - 32));
  }

  /** A new highest, `by` (≥ 1) above the old one: the map moves with it, and the new highest is seen. */
  advance(by: number): void {
    const low = this.words[0]!;
    if (by >= REPLAY_WINDOW) {
      this.words[1] = 0;
      this.words[0] = 0;
    } else if (by >= 32) {
      this.words[1] = low << (by - 32);
      this.words[0] = 0;
    } else {
      this.words[1] = (this.words[1]! << by) | (low >>> (32 - by));
      this.words[0] = low << by;
    }
    this.mark(0);
  }

  /** The first packet: the only one seen. */
  start(): void {
    this.words[1] = 0;
    this.words[0] = 1;
  }
}
