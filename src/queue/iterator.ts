// `for await (const item of queue)`: each step is a get(), and leaving the loop cancels the get
// under way, so that no item is taken that nobody sees.
import { ClosedError } from '../errors.js';
import type { QueueWaitOptions } from './options.js';

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
/** The reason a pending `next()` is cancelled with when the loop is left. */
const RETURNED = Symbol('iterator returned');

/** @internal Yields what `queue.get()` takes until the queue is closed and drained, or the loop is left. */
export class QueueIterator<T> implements AsyncIterableIterator<T> {
  private ended = false;
  // Created at the first next(): lets return() cancel a pending get, so it takes no item nobody sees.
  private controller: AbortController | undefined;
  private options: QueueWaitOptions | undefined;

  constructor(private readonly queue: { get(options?: QueueWaitOptions): Promise<T> }) {}

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.ended) return Promise.resolve(DONE);
    if (this.controller === undefined) {
      this.controller = new AbortController();
      this.options = { signal: this.controller.signal };
    }
    return this.queue.get(this.options).then(yielded, this.#end);
  }

  return(): Promise<IteratorResult<T, undefined>> {
    this.ended = true;
    this.controller?.abort(RETURNED);
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  readonly #end = (error: unknown): IteratorResult<T, undefined> => {
    if (!(error instanceof ClosedError) && error !== RETURNED) throw error;
    this.ended = true;
    return DONE;
  };
}

function yielded<T>(value: T): IteratorYieldResult<T> {
  return { done: false, value };
}
