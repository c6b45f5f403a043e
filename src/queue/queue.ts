// A bounded FIFO between producers and consumers whose every wait ends (seed 001: the consumer of a
// bounded queue died, the queue filled, and the next put blocked the event loop forever). put, get
// and join each take a timeout and a signal; a full queue says when an item was last taken; close()
// and shutdown() settle every waiter. Its parts: options.ts (what it is given), ring.ts
// (where items are kept), wait.ts (the lines callers park in), explain.ts (its messages
// and inspect() snapshot), iterator.ts (for await), consumer.ts (the supervised consumer).

import { publishRefused } from '../core/channels.js';
import { asyncDisposeSymbol } from '../core/compat.js';
import { register } from '../core/live.js';
import type { Sample } from '../core/sample.js';
import type { Described } from '../core/track.js';
import * as check from '../core/validate.js';
import { failAll, liveHead, park, settle, type Waiter } from '../core/wait.js';
import { type ConsumeOptions, type Consumer, QueueConsumer } from './consumer.js';
import {
  closedError,
  emptyError,
  fullError,
  joinError,
  labelOf,
  type QueueFacts,
  type QueueState,
  queueSnapshot,
} from './explain.js';
import { QueueIterator } from './iterator.js';
import {
  type BoundedQueueOptions,
  isImmediate,
  type QueueShutdownOptions,
  type QueueWaitOptions,
  queueOptions,
  waitOptions,
} from './options.js';
import { Ring } from './ring.js';
import { Line, PutWaiter, TimedWaiter } from './wait.js';

/** What every put that did not wait returns: awaiting it allocates nothing. */
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * A FIFO queue of at most `capacity` items between producers and consumers, where every wait is
 * bounded: `put` waits while it is full, `get` while it is empty, `join` until every item is done,
 * and each takes a `timeout` and a `signal`. A dead consumer shows up as a `QueueFullError` that says
 * when an item was last taken, not as a request that hangs forever. Items are kept in a ring buffer.
 *
 * Closing, as Python 3.13's `Queue.shutdown` does it: `close()` refuses new puts and lets getters
 * drain; `shutdown({ immediate: true })` also drops the queued items. After an immediate shutdown
 * `size` is `0`, `tryGet()` throws `ClosedError` and `get()` rejects with it (as they do once a
 * closed queue is drained), and `join()` resolves once the items taken before it are done:
 * `taskDone()` may still be called once for each of those, and a call beyond that throws
 * `RangeError` (the dropped items were already counted done).
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { BoundedQueue, QueueFullError } from 'unwedge';
 * const jobs = new BoundedQueue<string>({ capacity: 100, name: 'transcribe-jobs' });
 * const consumer = jobs.consume(
 *   async (job, signal) => {
 *     await sleep(10, undefined, { signal }); // e.g. fetch(`${api}/transcribe/${job}`, { signal })
 *     if (job === 'job-2') throw new Error(`transcribe ${job}: HTTP 500`); // reported; consumption goes on
 *   },
 *   {
 *     concurrency: 4,
 *     timeout: 30_000,
 *     onError: (error) => console.log(String(error)), // → Error: transcribe job-2: HTTP 500
 *   },
 * );
 * try {
 *   for (const job of ['job-1', 'job-2', 'job-3']) await jobs.put(job, { timeout: 500 });
 * } catch (error) {
 *   if (error instanceof QueueFullError) console.error(error.message); // the consumer is stuck or gone
 * }
 * await jobs.join({ timeout: 1_000 }); // every item handled
 * jobs.close();
 * await consumer.stop();
 * ```
 */
export class BoundedQueue<T> implements AsyncIterable<T>, AsyncDisposable {
  /** The name given in the options, if any. */
  readonly name: string | undefined;
  /** @internal */
  private readonly max: number;
  /** @internal */
  private state: QueueState = 'open';
  /** @internal */
  private readonly ring: Ring<T>;
  /** @internal Items taken by a get and not yet marked done. */
  private taken = 0;
  /** @internal */
  private dropped = 0;
  /** @internal */
  private lastGet: number | undefined = undefined;
  /** @internal */
  private stamped = false;
  /** @internal */
  private readonly created = Date.now();
  /** @internal Whether `inspect()` knows it: a named one from the start, any other from its first parked caller. */
  private listed: boolean;
  readonly #putters = new Line<PutWaiter<T>>(this, 'put', (w) => fullError(this.#facts(), w.timeout!, true));
  readonly #getters = new Line<TimedWaiter<T>>(this, 'get', (w) => emptyError(this.#facts(), w.timeout!));
  readonly #joiners = new Line<TimedWaiter<void>>(this, 'join', (w) => joinError(this.#facts(), w.timeout!));

  constructor(options: BoundedQueueOptions) {
    ({ capacity: this.max, name: this.name } = queueOptions(options));
    this.ring = new Ring<T>(this.max);
    this.listed = this.name !== undefined;
    if (this.listed) register(this, BoundedQueue.snapshot);
  }

  /** @internal What `inspect()` shows: size, capacity, state, and every parked put, get and join (held weakly). */
  private static snapshot<T>(q: BoundedQueue<T>, sample: Sample): Described {
    return queueSnapshot(q.#facts(), sample);
  }

  /** How many items the queue holds at most. */
  get capacity(): number {
    return this.max;
  }

  /** How many items are queued now (not counting those of putters still waiting). `0` after an immediate shutdown. */
  get size(): number {
    return this.ring.size;
  }

  /** Whether `close` or `shutdown` was called: puts are refused from then on. */
  get closed(): boolean {
    return this.state !== 'open';
  }

  /** Items put and not yet marked done: those queued plus those taken without `taskDone()` yet. */
  get unfinished(): number {
    return this.ring.size + this.taken;
  }

  /**
   * Waits while the queue is full, then adds `item` behind every earlier put, and resolves. The wait
   * ends with a `QueueFullError` after `timeout` ms, with exactly `signal.reason` when `signal`
   * aborts, or with a `ClosedError` when the queue is closed or shut down; on each the item is not added.
   * A completed hand-off stands: once a `get` has made room and the item is in, the put resolves even
   * if its signal aborts or its timeout elapses in the same tick (as Go's and Trio's channels; Python's
   * asyncio would take the item back out).
   */
  put(item: T, options?: QueueWaitOptions): Promise<void> {
    // Hot path: no options, open, room or a waiting getter. Nothing is allocated.
    if (options === undefined && this.state === 'open') {
      if (this.#offer(item)) return RESOLVED;
      return this.#wait(this.#putters, new PutWaiter(item, undefined), undefined, undefined);
    }
    const o = waitOptions(options);
    if (o instanceof Promise) return o;
    const { signal, timeout } = o;
    switch (this.state) {
      case 'open':
        if (this.#offer(item)) return RESOLVED;
        if (timeout === 0) return Promise.reject(this.#refused(fullError(this.#facts(), 0, false)));
        return this.#wait(this.#putters, new PutWaiter(item, timeout), signal, timeout);
      case 'closed':
      case 'shutdown':
        return Promise.reject(this.#refused(closedError(this.#facts(), 'put')));
    }
  }

  /** Adds `item` if there is room now and returns `true`; returns `false` when full. Throws `ClosedError` once closed. Never waits. */
  tryPut(item: T): boolean {
    switch (this.state) {
      case 'open':
        return this.#offer(item);
      case 'closed':
      case 'shutdown':
        throw this.#refused(closedError(this.#facts(), 'put'));
    }
  }

  /** A put refused without waiting, told to `unwedge:refused`. */
  #refused<E>(error: E): E {
    return publishRefused('queue', this.name, 'put', error);
  }

  /**
   * Waits while the queue is empty, then takes the oldest item. The wait ends with a `TimeoutError`
   * after `timeout` ms, with exactly `signal.reason` when `signal` aborts, or with a `ClosedError`
   * once the queue is closed and drained (at once after an immediate shutdown); on each nothing is taken.
   * A completed hand-off stands: once a `put` has handed this get its item, the get resolves with it
   * even if its signal aborts in the same tick (as Go's and Trio's channels; asyncio re-queues it). An
   * abort dispatched before the hand-off wins: the item goes to the next getter or stays queued.
   */
  get(options?: QueueWaitOptions): Promise<T> {
    if (options === undefined && this.ring.size > 0) return Promise.resolve(this.#take());
    const o = waitOptions(options);
    if (o instanceof Promise) return o;
    const { signal, timeout } = o;
    if (this.ring.size > 0) return Promise.resolve(this.#take());
    switch (this.state) {
      case 'open':
        if (timeout === 0) return Promise.reject(emptyError(this.#facts(), 0));
        return this.#wait(this.#getters, new TimedWaiter<T>(timeout), signal, timeout);
      case 'closed':
      case 'shutdown':
        return Promise.reject(closedError(this.#facts(), 'get'));
    }
  }

  /**
   * Takes the oldest item if there is one; returns `undefined` when the queue is empty, and throws
   * `ClosedError` once it is closed and drained (so also after an immediate shutdown). Never waits.
   */
  tryGet(): T | undefined {
    if (this.ring.size > 0) return this.#take();
    switch (this.state) {
      case 'open':
        return undefined;
      case 'closed':
      case 'shutdown':
        throw closedError(this.#facts(), 'get');
    }
  }

  /**
   * Marks one taken item as finished, for `join`. Call it once per item taken by `get`, `tryGet` or
   * iteration (not for items `consume` handles: it calls `taskDone` itself); it stays valid after
   * `close` and `shutdown`. A call beyond the items taken throws `RangeError` and changes nothing.
   */
  taskDone(): void {
    if (this.taken === 0) {
      throw new RangeError(
        `${labelOf(this.name)}: taskDone() called more times than items were taken (${this.ring.size} queued, none taken and not done)`,
      );
    }
    this.taken--;
    if (this.taken === 0 && this.ring.size === 0) this.#releaseJoiners();
  }

  /**
   * Waits until every item ever put has been marked done with `taskDone()` or dropped by an
   * immediate shutdown, then resolves (at once if none is unfinished). The wait ends with a
   * `TimeoutError` after `timeout` ms or with exactly `signal.reason` when `signal` aborts.
   */
  join(options?: QueueWaitOptions): Promise<void> {
    const o = waitOptions(options);
    if (o instanceof Promise) return o;
    const { signal, timeout } = o;
    if (this.ring.size + this.taken === 0) return RESOLVED;
    if (timeout === 0) return Promise.reject(joinError(this.#facts(), 0));
    return this.#wait(this.#joiners, new TimedWaiter<void>(timeout), signal, timeout);
  }

  /**
   * Refuses new puts from now on: waiting putters reject with `ClosedError` (their items are not
   * added), getters take what is queued and then reject with `ClosedError`, and iteration ends.
   * Same as `shutdown()`. Idempotent.
   */
  close(): void {
    this.shutdown();
  }

  /**
   * Without `immediate`, `close()`. With `immediate`, also drops the queued items (they count as done
   * for `join`) and rejects every waiting getter and putter with `ClosedError` at once. Idempotent;
   * an immediate shutdown after `close()` drops what is left. Handlers already running are not touched.
   */
  shutdown(options?: QueueShutdownOptions): void {
    const immediate = isImmediate(options);
    switch (this.state) {
      case 'open':
        this.state = immediate ? 'shutdown' : 'closed';
        break;
      case 'closed':
        if (!immediate) return;
        this.state = 'shutdown';
        break;
      case 'shutdown':
        return;
    }
    failAll(this.#putters.waiters, () => closedError(this.#facts(), 'put'));
    if (this.state === 'shutdown') {
      this.dropped = this.ring.size;
      this.ring.clear();
      if (this.taken === 0) this.#releaseJoiners();
    }
    // Getters wait only while the queue is empty, so none of them will ever get an item.
    failAll(this.#getters.waiters, () => closedError(this.#facts(), 'get'));
  }

  /** `shutdown({ immediate: true })`, so that `await using queue = new BoundedQueue(...)` cleans up. */
  [asyncDisposeSymbol](): Promise<void> {
    this.shutdown({ immediate: true });
    return RESOLVED;
  }

  /**
   * Yields items as `get` takes them until the queue is closed and drained. Each yielded item is
   * taken (call `taskDone()` for it if you `join`); breaking out of the loop takes no further item.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return new QueueIterator(this);
  }

  /**
   * Starts a supervised consumer: calls `handler(item, signal)` for each item, at most `concurrency`
   * at once, and `taskDone()` after each however it ended. A handler that throws or rejects is
   * reported to `onError` and consumption goes on; with `timeout`, a handler still running after that
   * many ms has its signal aborted with a `TimeoutError` and is reported as failed at once, but keeps
   * its place among the `concurrency` handlers until it settles (a limit limits running work; a
   * handler that ignores its signal shows as stalled, not as room for more). Each handler runs in the
   * async context of this `consume()` call, never in a producer's. Ends when the queue is closed and
   * drained and every handler has settled, or on `stop()` / `signal`.
   *
   * @example
   * ```ts
   * import { setTimeout as sleep } from 'node:timers/promises';
   * import { BoundedQueue } from 'unwedge';
   * const jobs = new BoundedQueue<string>({ capacity: 100, name: 'transcribe-jobs' });
   * const consumer = jobs.consume((job, signal) => sleep(10, job, { signal }), {
   *   concurrency: 4,
   *   timeout: 30_000,
   *   onError: (error, job) => console.error(`job ${job} failed`, error),
   * });
   * await jobs.put('job-1');
   * // ... on shutdown: refuse new items, abort the running handlers, wait for them 5 s at most
   * jobs.close();
   * await consumer.stop({ timeout: 5_000 });
   * ```
   */
  consume(handler: (item: T, signal: AbortSignal) => unknown, options?: ConsumeOptions<T>): Consumer {
    check.func(handler, 'handler');
    return new QueueConsumer(this, handler, options);
  }

  /** Parks `waiter` in `line`. An unnamed queue joins `inspect()` here, at its first wait (see Semaphore's `list`). */
  #wait<R, W extends Waiter<R> & { timeout: number | undefined }>(
    line: Line<W>,
    waiter: W,
    signal: AbortSignal | undefined,
    timeout: number | undefined,
  ): Promise<R> {
    if (!this.listed) {
      this.listed = true;
      register(this, BoundedQueue.snapshot);
    }
    return park<R, W>(line, waiter, signal, timeout);
  }

  /** Hands `item` to the first live getter, or queues it if there is room. The queue is open. */
  #offer(item: T): boolean {
    if (this.#getters.waiters.length > 0) {
      const getter = liveHead(this.#getters.waiters);
      if (getter !== undefined) {
        this.#getters.waiters.shift();
        this.taken++;
        if (!this.stamped) this.#stamp();
        settle(getter, item);
        return true;
      }
    }
    if (this.ring.size === this.max) return false;
    this.ring.push(item);
    return true;
  }

  /** Removes and returns the oldest item; the freed slot goes to the first live waiting putter. */
  #take(): T {
    const item = this.ring.shift();
    this.taken++;
    if (!this.stamped) this.#stamp();
    if (this.#putters.waiters.length > 0) {
      // Putters wait only while the queue is full, so a new put can never overtake one.
      const putter = liveHead(this.#putters.waiters);
      if (putter !== undefined) {
        this.#putters.waiters.shift();
        this.ring.push(putter.item);
        settle(putter, undefined);
      }
    }
    return item;
  }

  // Reading the clock costs as much as the rest of a get (~40 ns), and the time is only shown in a
  // QueueFullError. So it is read at the first get of each run of JavaScript and not again until the
  // next tick: a later get in the same run is at most that run's duration later, and no timer can
  // fire in between. The 1,000,000-item bench went from 1.22x the floor to under 1x with this.
  #stamp(): void {
    this.stamped = true;
    this.lastGet = Date.now();
    process.nextTick(this.#unstamp);
  }

  readonly #unstamp = (): void => {
    this.stamped = false;
  };

  #releaseJoiners(): void {
    for (const joiner of this.#joiners.waiters.drain()) settle(joiner, undefined);
  }

  /** The state the errors and the snapshot explain; built on slow paths only. */
  #facts(): QueueFacts {
    return {
      name: this.name,
      capacity: this.max,
      state: this.state,
      queued: this.ring.size,
      taken: this.taken,
      dropped: this.dropped,
      lastGet: this.lastGet,
      created: this.created,
      putters: this.#putters,
      getters: this.#getters,
      joiners: this.#joiners,
    };
  }
}
