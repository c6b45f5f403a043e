// The floor for a counting semaphore: a counter and an array-indexed FIFO of resolvers.
// No weights, no timeouts, no signals, no fairness beyond FIFO.
export class FloorSemaphore {
  private queue: Array<(() => void) | undefined> = [];
  private head = 0;
  constructor(private free: number) {}

  acquire(): Promise<void> {
    if (this.free > 0 && this.head === this.queue.length) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }

  release(): void {
    if (this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
      next();
    } else {
      this.free++;
    }
  }
}
