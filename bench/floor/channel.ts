// The floor for a bounded queue: the simplest correct async channel for one producer and one
// consumer. An array with a moving head index holds the items (compacted once the head passes the
// capacity); waiting getters and putters sit in plain arrays. No options, cancellation or close.
export class FloorChannel<T> {
  private items: T[] = [];
  private head = 0;
  private readonly getters: Array<(item: T) => void> = [];
  private readonly putters: Array<{ item: T; resolve: () => void }> = [];

  constructor(private readonly capacity: number) {}

  put(item: T): Promise<void> {
    if (this.getters.length > 0) this.getters.shift()!(item);
    else if (this.items.length - this.head < this.capacity) this.items.push(item);
    else return new Promise((resolve) => this.putters.push({ item, resolve }));
    return Promise.resolve();
  }

  get(): Promise<T> {
    if (this.items.length === this.head) return new Promise((resolve) => this.getters.push(resolve));
    const item = this.items[this.head++]!;
    if (this.head > this.capacity) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    const putter = this.putters.shift();
    if (putter !== undefined) {
      this.items.push(putter.item);
      putter.resolve();
    }
    return Promise.resolve(item);
  }
}
