// The storage of a BoundedQueue: a ring buffer whose length is a power of two, so that an index
// wraps with a mask. It starts small and doubles as it fills, so a huge capacity costs nothing up
// front; the queue, not the ring, enforces the capacity.

/** @internal A FIFO of items in a growable ring: O(1) push and shift, no `Array.shift`. */
export class Ring<T> {
  /** How many items it holds. */
  size = 0;
  private items: (T | undefined)[];
  private head = 0;

  /** Room for `min(16, capacity)` items, rounded up to a power of two. */
  constructor(capacity: number) {
    this.items = new Array<T | undefined>(Math.min(16, 2 ** Math.ceil(Math.log2(capacity)))).fill(undefined);
  }

  push(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.items[(this.head + this.size) & (this.items.length - 1)] = item;
    this.size++;
  }

  /** Removes and returns the oldest item. The ring is not empty. */
  shift(): T {
    const item = this.items[this.head] as T;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.size--;
    return item;
  }

  /** Drops every item. */
  clear(): void {
    this.items = [];
    this.head = 0;
    this.size = 0;
  }

  /** Doubles the ring, its items moved to the front in order. */
  private grow(): void {
    const items = new Array<T | undefined>(this.items.length * 2).fill(undefined);
    for (let i = 0; i < this.size; i++) items[i] = this.items[(this.head + i) & (this.items.length - 1)];
    this.items = items;
    this.head = 0;
  }
}
