/**
 * A first-in first-out queue: an array read from a head index, cut once more than half of it is spent (an
 * `Array.prototype.shift` moves every item; a Map used as a queue is worse, since V8 walks over every deleted
 * slot at its start each time it is iterated from there).
 *
 * The structures that expire things in the order they were made keep their items here: the digest server's
 * nonces (`auth/digest-server.ts`).
 */
export class FifoQueue<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, left in the queue. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Takes the oldest item out. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    // The slot no longer holds the item: what it refers to can be collected before the array is cut.
    (this.items as (T | undefined)[])[this.head] = undefined;
    this.head += 1;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Keeps only the items `keep` says yes to, in their order (for items that went stale in the queue). */
  retain(keep: (item: T) => boolean): void {
    const kept: T[] = [];
    for (let i = this.head; i < this.items.length; i++) if (keep(this.items[i]!)) kept.push(this.items[i]!);
    this.items = kept;
    this.head = 0;
  }
}
