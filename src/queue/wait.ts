// The lines a queue's callers park in (put, get, join) and the waiters in them. The queue serves the
// lines; core/wait.ts parks, times out and aborts the waiters in them.
import type { WaitLabel } from '../core/track.js';
import { Waiter, type WaitHost } from '../core/wait.js';
import { WaiterList } from '../core/waiters.js';

/** A parked put: the item it adds once there is room, and its timeout for messages. */
export class PutWaiter<T> extends Waiter<void> {
  constructor(
    readonly item: T,
    readonly timeout: number | undefined,
  ) {
    super();
  }
}

/** A parked get or join, and its timeout for messages. */
export class TimedWaiter<T> extends Waiter<T> {
  constructor(readonly timeout: number | undefined) {
    super();
  }
}

/** One line of parked callers. A waiter leaving frees nothing, so `onLeave` has nobody to serve. */
export class Line<W extends Waiter<unknown> & { timeout: number | undefined }> implements WaitHost<W> {
  readonly waiters = new WaiterList<W>();
  constructor(
    private readonly queue: { readonly name: string | undefined },
    readonly op: 'put' | 'get' | 'join',
    readonly timeoutError: (waiter: W) => Error,
  ) {}
  onLeave(): void {}
  describeWait(waiter: W): WaitLabel {
    return { kind: 'queue', name: this.queue.name, what: this.op, timeout: waiter.timeout };
  }
}
