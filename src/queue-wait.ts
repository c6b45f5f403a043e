// A queue's waits: the options every wait takes, the three lines its callers park in (put, get,
// join), and how the queue and its consumer are named in messages. The queue serves the lines;
// core/wait.ts parks, times out and aborts the waiters in them.
import type { WaitLabel } from './core/track.js';
import * as check from './core/validate.js';
import { Waiter, type WaitHost } from './core/wait.js';
import { WaiterList } from './core/waiters.js';

/** Options of every call that waits: {@link BoundedQueue.put}, `get`, `join`, {@link Consumer.stop}. */
export interface QueueWaitOptions {
  /** Gives up the wait after this many ms; `0` means "only if it needs no wait". Default: no limit. */
  timeout?: number;
  /** Gives up the wait when aborted, rejecting with exactly `signal.reason`. */
  signal?: AbortSignal;
}

const WAIT_KEYS = ['timeout', 'signal'] as const;

/** The checked options of a wait; throws a TypeError or RangeError naming the bad one. */
export function parseWait(options: QueueWaitOptions | undefined): QueueWaitOptions {
  const o = check.options<QueueWaitOptions>(options, WAIT_KEYS);
  return {
    signal: check.signal(o.signal, 'options.signal'),
    timeout: check.timeout(o.timeout, 'options.timeout'),
  };
}

/**
 * The checked options of a wait, or the promise the call returns instead, rejected at once: with
 * the error of a bad option (a call that waits rejects, never throws), or with exactly
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

/** How a queue is named in messages: `queue "jobs"`, or `queue` when it has no name. */
export function labelOf(name: string | undefined): string {
  return name === undefined ? 'queue' : `queue ${JSON.stringify(name)}`;
}

/** `1 item`, `2 items`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

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
