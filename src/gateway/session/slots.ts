// A set of the requests in flight kept in an array of slots with a free list, instead of a Map or Set that
// gains and loses an entry per request: once such a table lives in old space, V8 allocates each rehashed table
// there too, and the obsolete ones keep the entries they held, so every request lives through the young GC.
export class Slots<T> {
  /** Each slot holds an item or undefined; the array grows to the peak number held at once, no further. */
  private readonly items: (T | undefined)[] = [];
  /** Slots emptied since, reused first (numbers only: nothing here keeps an item alive). */
  private readonly free: number[] = [];
  private held = 0;

  get size(): number {
    return this.held;
  }

  /** Holds `item`; the slot it returns is what `delete` takes. */
  add(item: T): number {
    const slot = this.free.length > 0 ? this.free.pop()! : this.items.length;
    this.items[slot] = item;
    this.held++;
    return slot;
  }

  /** Empties a slot `add` returned (once: a slot is reused after its delete). */
  delete(slot: number): void {
    if (this.items[slot] === undefined) return;
    this.items[slot] = undefined;
    this.held--;
    // Empty again after a burst: the slots it needed go, so a session that once held many holds nothing.
    if (this.held === 0 && this.items.length > 64) {
      this.items.length = 0;
      this.free.length = 0;
    } else this.free.push(slot);
  }

  /** The first item held that passes `test` (a linear search: for rare lookups such as a cancellation). */
  find(test: (item: T) => boolean): T | undefined {
    for (const item of this.items) if (item !== undefined && test(item)) return item;
    return undefined;
  }

  *values(): IterableIterator<T> {
    for (const item of this.items) if (item !== undefined) yield item;
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.values();
  }
}
