import { timingSafeEqual } from 'node:crypto';
import type { KeyRing } from '../sip/index.js';

export interface RotationTiming {
  /** How long a replaced key is still accepted once its successor signs. */
  readonly overlapMs: number;
  /** How long a new key is accepted before it signs (replicas that read it later accept what this one signs). */
  readonly activationMs: number;
}

interface Entry {
  readonly key: Buffer;
  /** When this key was read (epoch ms); -Infinity for the key the process started with. */
  readonly since: number;
}

const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

/**
 * A secret that changes while the process runs (VOXGATE_SIP_NONCE_SECRET, VOXGATE_SIP_PEER_SECRET read from a
 * file): a new key is accepted at once and signs `activationMs` after it was read; the key it replaces is
 * accepted until `overlapMs` after that. Values signed just before a rotation, and by replicas that read the new
 * key a little later, keep verifying.
 */
export class RotatingSecret implements KeyRing {
  #entries: Entry[];
  readonly #timing: RotationTiming;
  readonly #now: () => number;
  /** `accepted` while there is one key: the list made for the entries it was made of. */
  #only: readonly Buffer[] = [];
  #onlyOf: Entry[] | undefined;

  constructor(initial: Buffer, timing: RotationTiming, now: () => number = Date.now) {
    this.#entries = [{ key: initial, since: -Infinity }];
    this.#timing = timing;
    this.#now = now;
  }

  /** Takes a value read now; false when it is the newest key already (nothing changes). */
  rotate(key: Buffer): boolean {
    const newest = this.#entries.at(-1);
    if (newest && same(newest.key, key)) return false;
    this.#entries = [...this.#live(), { key, since: this.#now() }];
    return true;
  }

  /** The key new values are signed with: the newest one whose activation time has come. */
  get current(): Buffer {
    // One key, as between rotations: asked for at every challenge, answered without an array made.
    if (this.#entries.length === 1) return this.#entries[0]!.key;
    const live = this.#live();
    return live[this.#signing(live)]!.key;
  }

  /** The signing key first, then the newer keys not signing yet, then the older ones still in their overlap. */
  get accepted(): readonly Buffer[] {
    if (this.#entries.length === 1) {
      if (this.#onlyOf !== this.#entries) {
        this.#onlyOf = this.#entries;
        this.#only = [this.#entries[0]!.key];
      }
      return this.#only;
    }
    const live = this.#live();
    const signing = this.#signing(live);
    return [live[signing]!, ...live.slice(signing + 1), ...live.slice(0, signing).reverse()].map(
      (e) => e.key,
    );
  }

  /** The keys kept: those from the signing key on, and older ones until `overlapMs` after their successor signed. */
  #live(): Entry[] {
    const now = this.#now();
    const signing = this.#signing(this.#entries);
    const live = this.#entries.filter(
      (e, i) =>
        i >= signing ||
        (this.#entries[i + 1]?.since ?? now) + this.#timing.activationMs + this.#timing.overlapMs > now,
    );
    if (live.length !== this.#entries.length) this.#entries = live;
    return live;
  }

  #signing(entries: readonly Entry[]): number {
    const now = this.#now();
    for (let i = entries.length - 1; i > 0; i--) {
      if (entries[i]!.since + this.#timing.activationMs <= now) return i;
    }
    return 0;
  }
}
