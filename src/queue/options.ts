// What a BoundedQueue and its calls are given, and how it is checked: the queue's own options, the
// options of every call that waits (put, get, join, a consumer's stop), and shutdown's. A call that
// waits rejects on a bad option, never throws; the others throw.
import * as check from '../core/validate.js';

/**
 * Options of {@link BoundedQueue}.
 *
 * @example
 * ```ts
 * import { BoundedQueue, type BoundedQueueOptions } from 'unwedge';
 * const options: BoundedQueueOptions = { capacity: 2, name: 'transcribe-jobs' };
 * const jobs = new BoundedQueue<string>(options);
 * console.log(jobs.tryPut('a'), jobs.tryPut('b'), jobs.tryPut('c')); // → true true false
 * ```
 */
export interface BoundedQueueOptions {
  /** How many items the queue holds before `put` waits: a positive safe integer. */
  capacity: number;
  /** Shown in errors, e.g. `"transcribe-jobs"`. */
  name?: string;
}

/**
 * Options of every call that waits: {@link BoundedQueue.put}, `get`, `join`, {@link Consumer.stop}.
 *
 * @example
 * ```ts
 * import { BoundedQueue, type QueueWaitOptions } from 'unwedge';
 * const jobs = new BoundedQueue<string>({ capacity: 10 });
 * const request = new AbortController(); // aborted when the client goes away
 * const options: QueueWaitOptions = { timeout: 50, signal: request.signal };
 * try {
 *   await jobs.get(options); // nothing is put: gives up after 50 ms
 * } catch (error) {
 *   console.log((error as Error).name); // → TimeoutError
 * }
 * ```
 */
export interface QueueWaitOptions {
  /** Gives up the wait after this many ms; `0` means "only if it needs no wait". Default: no limit. */
  timeout?: number;
  /** Gives up the wait when aborted, rejecting with exactly `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Options of {@link BoundedQueue.shutdown}.
 *
 * @example
 * ```ts
 * import { BoundedQueue, type QueueShutdownOptions } from 'unwedge';
 * const jobs = new BoundedQueue<string>({ capacity: 10 });
 * await jobs.put('a');
 * await jobs.put('b');
 * const options: QueueShutdownOptions = { immediate: true }; // drop what is queued
 * jobs.shutdown(options);
 * console.log(jobs.size, jobs.closed); // → 0 true
 * ```
 */
export interface QueueShutdownOptions {
  /** Also drop the queued items and reject every waiting getter at once. Default `false`. */
  immediate?: boolean;
}

const QUEUE_KEYS = ['capacity', 'name'] as const;
const WAIT_KEYS = ['timeout', 'signal'] as const;
const SHUTDOWN_KEYS = ['immediate'] as const;

/** @internal The checked options of a new queue; throws a TypeError or RangeError naming the bad one. */
export function queueOptions(options: BoundedQueueOptions): { capacity: number; name: string | undefined } {
  if (options === undefined) throw new TypeError('options must be an object; received undefined');
  const o = check.options<BoundedQueueOptions>(options, QUEUE_KEYS);
  return {
    capacity: check.integer(o.capacity, 'options.capacity', 1),
    name: check.string(o.name, 'options.name'),
  };
}

/** @internal The checked options of a wait; throws a TypeError or RangeError naming the bad one. */
export function parseWait(options: QueueWaitOptions | undefined): QueueWaitOptions {
  const o = check.options<QueueWaitOptions>(options, WAIT_KEYS);
  return {
    signal: check.signal(o.signal, 'options.signal'),
    timeout: check.timeout(o.timeout, 'options.timeout'),
  };
}

/**
 * @internal The checked options of a wait, or the promise the call returns instead, rejected at
 * once: with the error of a bad option (a call that waits rejects, never throws), or with exactly
 * `signal.reason` when the signal is already aborted (it fails before waiting).
 */
export function waitOptions(options: QueueWaitOptions | undefined): QueueWaitOptions | Promise<never> {
  let o: QueueWaitOptions;
  try {
    o = parseWait(options);
  } catch (error) {
    return Promise.reject(error);
  }
  return o.signal?.aborted ? Promise.reject(o.signal.reason) : o;
}

/** @internal Whether a shutdown with `options` drops the items; throws a TypeError on a bad option. */
export function isImmediate(options: QueueShutdownOptions | undefined): boolean {
  const o = check.options<QueueShutdownOptions>(options, SHUTDOWN_KEYS);
  return check.boolean(o.immediate, 'options.immediate') ?? false;
}
