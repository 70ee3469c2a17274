/**
 * The replay list of one SRTP or SRTCP stream (RFC 3711 §3.3.2): "a replay list … window size of at least 64 MUST
 * be supported". It keeps the highest index authenticated and a 64-bit bitmap of the indices below it, bit i set
 * when `highest − i` was received, as two 32-bit words: numbers, not a BigInt, so that the check and the update of
 * every packet allocate nothing.
 */
export class ReplayWindow {
  /** The highest index authenticated; -1 before the first. */
  private highest = -1;
  /** Bits 0-31 of the bitmap: indices highest − 0 … highest − 31. */
  private low = 0;
  /** Bits 32-63: indices highest − 32 … highest − 63. */
  private high = 0;

  /** Whether a packet of `index` must be refused: received already, or older than the window (§3.3.2). */
  isReplay(index: number): boolean {
    if (this.highest < 0 || index > this.highest) return false;
    const age = this.highest - index;
    if (age >= 64) return true;
    return age < 32 ? ((this.low >>> age) & 1) === 1 : ((this.high >>> (age - 32)) & 1) === 1;
  }

  /** Records an authenticated packet of `index` (§3.3.2: the list is updated only after authentication). */
  accept(index: number): void {
    if (this.highest < 0) {
      this.highest = index;
      this.low = 1;
      this.high = 0;
      return;
    }
    if (index > this.highest) {
      const shift = index - this.highest;
      if (shift >= 64) {
        this.high = 0;
        this.low = 1;
      } else if (shift >= 32) {
        // The low word moves into the high one (`<< 0` when the shift is exactly 32); the high word falls out.
        this.high = this.low << (shift - 32);
        this.low = 1;
      } else {
        this.high = (this.high << shift) | (this.low >>> (32 - shift));
        this.low = (this.low << shift) | 1;
      }
      this.highest = index;
      return;
    }
    const age = this.highest - index;
    if (age < 32) this.low |= 1 << age;
    else if (age < 64) this.high |= 1 << (age - 32);
  }
}
