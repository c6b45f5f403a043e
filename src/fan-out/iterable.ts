// The lazy form of fanOut: an async iterable of the results that reads input only as the consumer
// takes results, so a generator of millions of items runs in O(window) memory. The same Run as
// fanOut, with a sink that buffers results until the consumer asks for them.
import { startCall } from '../core/live.js';
import { type FanOutFn, type FanOutInput, type FanOutOptions, type Parsed, parse } from './options.js';
import { Run } from './run.js';

/**
 * Options of {@link fanOutIterable}.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type FanOutIterableOptions, fanOutIterable } from 'unwedge';
 * const options: FanOutIterableOptions = { window: 3, ordered: false }; // as they complete
 * const delays = [30, 10, 20];
 * for await (const ms of fanOutIterable(delays, (ms, { signal }) => sleep(ms, ms, { signal }), options)) {
 *   console.log(ms); // 10, then 20, then 30
 * }
 * ```
 */
export interface FanOutIterableOptions extends FanOutOptions {
  /** Yield results in input order (default) or as they complete (`false`). */
  ordered?: boolean;
}

/**
 * The lazy form of {@link fanOut}: an async iterable of the results, in input order (default) or
 * as they complete (`ordered: false`). Never more than `window` items are read ahead of what the
 * consumer has taken, so a generator of millions of items runs in O(window) memory.
 *
 * Iteration waits for the next result. It throws the first error (after the calls in flight have
 * settled), or `options.signal`'s reason. Breaking out of the loop aborts the calls in flight
 * and waits for them to settle before the loop exits.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { fanOutIterable } from 'unwedge';
 * async function* readIds() {
 *   for (let id = 1; id <= 1_000; id++) yield id; // e.g. rows of a cursor: read only as needed
 * }
 * const fetchRow = (id: number, signal: AbortSignal) => sleep(1, { id }, { signal });
 * let rows = 0;
 * for await (const row of fanOutIterable(readIds(), (id, { signal }) => fetchRow(id, signal), { window: 8 })) {
 *   if (row.id > 0) rows++; // e.g. await write(row): at most 8 rows are fetched ahead of it
 * }
 * console.log(rows); // → 1000
 * ```
 */
export function fanOutIterable<T, R>(
  items: FanOutInput<T>,
  fn: FanOutFn<T, R>,
  options: FanOutIterableOptions,
): AsyncIterable<Awaited<R>> {
  const parsed = parse(items, fn, options, 'ordered');
  const ordered = parsed.flag ?? true;
  return {
    [Symbol.asyncIterator]: () => new ResultIterator<T, R>(items, fn, parsed, ordered),
  };
}

/** The iterator behind {@link fanOutIterable}: buffers results until the consumer takes them. */
class ResultIterator<T, R> implements AsyncIterator<Awaited<R>> {
  private readonly run: Run<T, R>;
  private readonly ready = new Map<number, unknown>(); // ordered: by index; unordered: by arrival
  private nextIndex = 0; // ordered: the index to yield next; unordered: the arrival to yield next
  private arrivals = 0;
  private ended = false;
  private failed = false;
  private reason: unknown;
  private waiting:
    | { resolve: (r: IteratorResult<Awaited<R>>) => void; reject: (e: unknown) => void }
    | undefined;
  private started = false;
  private consumerLeft = false;
  private readonly signal: AbortSignal | undefined;

  constructor(items: FanOutInput<T>, fn: FanOutFn<T, R>, options: Parsed, ordered: boolean) {
    this.signal = options.signal;
    this.run = new Run<T, R>(items, fn, options, false, {
      result: (index, _ok, value) => {
        this.ready.set(ordered ? index : this.arrivals++, value);
        this.deliver();
      },
      end: (failed, reason) => {
        this.ended = true;
        this.failed = failed;
        this.reason = reason;
        this.deliver();
      },
    });
  }

  next(): Promise<IteratorResult<Awaited<R>>> {
    if (this.waiting !== undefined)
      return Promise.reject(new Error('fanOutIterable: next() called while a previous next() is pending'));
    const signal = this.signal;
    if (!this.started) {
      this.started = true;
      if (signal?.aborted) {
        this.ended = true;
        return Promise.reject(signal.reason);
      }
      // Weakly: a consumer that lets go of the iterator without return() must not leave it listed forever.
      startCall(this.run, undefined, true);
      this.run.pump();
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.deliver();
    });
  }

  /** Breaking out of `for await`: abort what is in flight and wait until it has settled. */
  return(): Promise<IteratorResult<Awaited<R>>> {
    if (!this.started || this.ended) {
      this.ended = true;
      return Promise.resolve({ done: true, value: undefined });
    }
    return new Promise((resolve) => {
      this.waiting = { resolve, reject: () => resolve({ done: true, value: undefined }) };
      this.consumerLeft = true;
      this.run.stop(false, new DOMException('the consumer stopped iterating', 'AbortError'));
    });
  }

  private deliver(): void {
    const waiting = this.waiting;
    if (waiting === undefined) return;
    if (this.consumerLeft) {
      if (!this.ended) return;
      this.waiting = undefined;
      waiting.resolve({ done: true, value: undefined });
      return;
    }
    if (this.ready.has(this.nextIndex)) {
      const value = this.ready.get(this.nextIndex) as Awaited<R>;
      this.ready.delete(this.nextIndex++);
      this.waiting = undefined;
      waiting.resolve({ done: false, value });
      this.run.free();
      return;
    }
    if (!this.ended) return;
    this.waiting = undefined;
    if (this.failed) waiting.reject(this.reason);
    else waiting.resolve({ done: true, value: undefined });
  }
}
