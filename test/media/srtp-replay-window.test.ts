// The SRTP replay list (src/media/srtp/replay-window.ts, RFC 3711 §3.3.2) held to the plain statement of the rule:
// refused when the index was authenticated before or is 64 or more below the highest authenticated.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayWindow } from '../../src/media/srtp/replay-window.js';

/** The rule itself: every index accepted kept in a set. */
class Model {
  private highest = -1;
  private readonly seen = new Set<number>();
  isReplay(index: number): boolean {
    if (this.highest < 0 || index > this.highest) return false;
    return this.highest - index >= 64 || this.seen.has(index);
  }
  accept(index: number): void {
    this.seen.add(index);
    this.highest = Math.max(this.highest, index);
  }
}

/** A small deterministic generator (mulberry32), so that a failure replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('RFC 3711 §3.3.2: the replay list', () => {
  test('the first packet is never a replay; the same index again is', () => {
    const window = new ReplayWindow();
    assert.equal(window.isReplay(1000), false);
    window.accept(1000);
    assert.equal(window.isReplay(1000), true);
    assert.equal(window.isReplay(1001), false);
    assert.equal(window.isReplay(999), false, 'a late packet inside the window, not seen yet');
  });

  test('the window is 64 packets: 63 below the highest is inside, 64 below is refused', () => {
    const window = new ReplayWindow();
    window.accept(200);
    assert.equal(window.isReplay(137), false);
    assert.equal(window.isReplay(136), true);
  });

  test('jumps across the bitmap’s two words (by 1, 31, 32, 33, 63, 64 and more) keep what is inside the window', () => {
    for (const jump of [1, 31, 32, 33, 63, 64, 65, 1000]) {
      const window = new ReplayWindow();
      const model = new Model();
      for (const index of [100, 101, 103, 130, 131, 132, 133]) {
        window.accept(index);
        model.accept(index);
      }
      const top = 133 + jump;
      window.accept(top);
      model.accept(top);
      for (let index = top - 70; index <= top + 1; index++)
        assert.equal(window.isReplay(index), model.isReplay(index), `jump ${jump}, index ${index}`);
    }
  });

  test('agrees with the rule over random arrival orders (reordering, duplicates, jumps)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const next = random(seed);
      const window = new ReplayWindow();
      const model = new Model();
      let base = Math.floor(next() * 2 ** 40);
      for (let n = 0; n < 2000; n++) {
        const r = next();
        // Mostly in order, some late (inside and outside the window), some repeated, some far ahead.
        const index =
          r < 0.6
            ? ++base
            : r < 0.8
              ? base - Math.floor(next() * 80)
              : r < 0.95
                ? base
                : (base += 1 + Math.floor(next() * 100));
        const expected = model.isReplay(index);
        assert.equal(window.isReplay(index), expected, `seed ${seed}, step ${n}, index ${index}`);
        if (!expected) {
          window.accept(index);
          model.accept(index);
        }
      }
    }
  });
});
