/**
 * A Map for short-lived values in a long-lived index (transactions by key, calls by Call-ID): each value sits in
 * a slot object of its own, and the slot is emptied when its entry is deleted or replaced.
 *
 * Why: V8 grows and compacts a Map by copying its entries into a new hash table, and leaves the old table as
 * garbage with the entries still in it. A table that lived long enough to reach the old generation stays there
 * until the next full collection (seconds); meanwhile every young collection treats the pointers from it as
 * roots, so the values it held — whole calls, with their messages — survive, are copied into the old
 * generation, and keep what they point to alive in turn. With a slot per entry, an old table pins only emptied
 * slots. For the transaction layer's and the call table's maps, at 1,200 calls/s, this halved what each young
 * collection promoted (9.3 to 4.6 MB) and cut its pause by a quarter to a third (docs/performance.md, "Calls'
 * garbage kept by old hash tables").
 */
export class SlotMap<K, V> {
  private readonly slots = new Map<K, { value: V | undefined }>();

  get size(): number {
    return this.slots.size;
  }

  get(key: K): V | undefined {
    return this.slots.get(key)?.value;
  }

  has(key: K): boolean {
    return this.slots.has(key);
  }

  set(key: K, value: V): this {
    const slot = this.slots.get(key);
    if (slot) slot.value = value;
    else this.slots.set(key, { value });
    return this;
  }

  delete(key: K): boolean {
    const slot = this.slots.get(key);
    if (!slot) return false;
    slot.value = undefined;
    return this.slots.delete(key);
  }

  clear(): void {
    for (const slot of this.slots.values()) slot.value = undefined;
    this.slots.clear();
  }

  *values(): IterableIterator<V> {
    for (const slot of this.slots.values()) yield slot.value as V;
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [key, slot] of this.slots) yield [key, slot.value as V];
  }
}
