// A counting semaphore: weighted permits, given out strictly in FIFO order. Its line of parked
// callers is line.ts, the acquire contract it shares with RedisSemaphore and fanOut is
// contract.ts, and deadlock detection (its `detectDeadlocks` option) deadlocks.ts.
import { disposeSymbol } from '../core/compat.js';
import { count } from '../core/count.js';
import { type Hold, within } from '../core/holds.js';
import { register } from '../core/live.js';
import { type Sample, sinceOf } from '../core/sample.js';
import { contextIsFree } from '../core/task.js';
import type { Described } from '../core/track.js';
import * as check from '../core/validate.js';
import { disarm, liveHead, park, settle } from '../core/wait.js';
import type { AcquireOptions, Permit, SemaphoreLike } from './contract.js';
import { Deadlocks } from './deadlocks.js';
import { SemaphoreLine, SemaphoreWaiter, waitWhat } from './line.js';

export type { AcquireOptions, Permit, SemaphoreLike } from './contract.js';

/**
 * Options of {@link Semaphore}.
 *
 * @example
 * ```ts
 * import { Semaphore, type SemaphoreOptions } from 'unwedge';
 * const options: SemaphoreOptions = { name: 'storage-chunks', detectDeadlocks: true };
 * const storage = new Semaphore(32, options);
 * console.log(storage.name, storage.permits); // → storage-chunks 32
 * ```
 */
export interface SemaphoreOptions {
  /** Shown in errors and diagnostics, e.g. `"storage-chunks"`. */
  name?: string;
  /**
   * Reject with `DeadlockError`, instead of hanging, a wait for this semaphore made inside a
   * `run()` or `fanOut()` callback that holds it, once every permit is held by such waiting
   * holders. It tracks holders with `AsyncLocalStorage`. Default: on where an active
   * AsyncLocalStorage is free (Node >= 24, unless run with `--no-async-context-frame`); off on
   * Node 20 and 22, where it makes every `await` in the process about 3x as costly (bench/context.ts).
   */
  detectDeadlocks?: boolean;
}

const SEMAPHORE_KEYS = ['name', 'detectDeadlocks'] as const;

// Permits are returned only through a Permit or a run()'s end, never through a method reachable at
// runtime: a TypeScript-private `sem.release()` once made `available` NaN, and `release(1)` gave 2 of 1.
let releasePermits: (semaphore: Semaphore, weight: number, hold?: Hold) => void;
let holdPermit: (permit: SemaphorePermit, label: string) => Hold | undefined;

class SemaphorePermit implements Permit {
  private released = false;
  /** Set when code runs inside this permit (fanOut), for deadlock detection. */
  hold: Hold | undefined = undefined;
  constructor(
    readonly semaphore: Semaphore,
    readonly weight: number,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    releasePermits(this.semaphore, this.weight, this.hold);
  }

  [disposeSymbol](): void {
    this.release();
  }
}

/**
 * @internal For fanOut: runs `fn` inside the permit's hold when its semaphore detects deadlocks,
 * so that waits made by `fn` on the same semaphore are known to block this permit.
 */
export function runInPermit<T>(permit: Permit, label: string, fn: () => T): T {
  const hold = permit instanceof SemaphorePermit ? holdPermit(permit, label) : undefined;
  return hold === undefined ? fn() : within(hold, fn);
}

/**
 * A counting semaphore with weighted, strictly FIFO acquisition: a later waiter is never served
 * before an earlier one, so a heavy waiter is never starved by a stream of light ones.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { Semaphore } from 'unwedge';
 * const storage = new Semaphore(32, { name: 'storage-chunks' }); // one per process, at module level
 * const download = (id: number) => sleep(10, `chunk ${id}`); // e.g. a storage client's get
 * console.log(await storage.run(() => download(1), { timeout: 5_000 })); // → chunk 1
 * {
 *   using permit = await storage.acquire({ weight: 4 });
 *   console.log(permit.weight, storage.available); // → 4 28
 * } // the four permits are released here, on every path
 * console.log(storage.available); // → 32
 * ```
 */
export class Semaphore implements SemaphoreLike {
  /** The name given in the options, if any. */
  readonly name: string | undefined;
  /** @internal */
  private readonly total: number;
  #free: number;
  /** Its parked callers, and the host core/wait.ts parks them on (its hooks are not ours). */
  readonly #line = new SemaphoreLine(this, (waiter) => {
    this.#deadlocks?.unblock(waiter);
    this.#serve();
  });
  /** Only with deadlock detection on. */
  readonly #deadlocks: Deadlocks<SemaphoreWaiter> | undefined;
  /** @internal Whether `inspect()` knows it: a named one from the start, any other from its first parked caller. */
  private listed: boolean;

  /** @param permits how many permits exist: a positive safe integer. */
  constructor(permits: number, options?: SemaphoreOptions) {
    this.total = check.integer(permits, 'permits', 1);
    const o = check.options<SemaphoreOptions>(options, SEMAPHORE_KEYS);
    this.name = check.string(o.name, 'options.name');
    this.#deadlocks =
      (check.boolean(o.detectDeadlocks, 'options.detectDeadlocks') ?? contextIsFree)
        ? new Deadlocks(this, (weight) => this.#release(weight))
        : undefined;
    this.#free = this.total;
    this.listed = this.name !== undefined;
    if (this.listed) register(this, Semaphore.snapshot);
  }

  /** @internal What `inspect()` shows: permits, use, and each parked caller (held weakly, read at dump time). */
  private static snapshot(s: Semaphore, sample: Sample): Described {
    const inUse = s.total - s.#free;
    const line = s.#line;
    sample.take(line, sinceOf, (w) => ({ key: w, what: waitWhat(w), since: w.since, timeout: w.timeout }));
    return {
      kind: 'semaphore',
      name: s.name,
      summary: `${count(s.total, 'permit')}, ${inUse} in use, ${line.length} waiting`,
      stats: { permits: s.total, inUse, waiting: line.length },
    };
  }

  // Holding a primitive through a WeakRef makes the young-generation GC keep it (only a full GC
  // clears WeakRefs), which made `new Semaphore()` ~8x slower for one made per request and never
  // contended. So an unnamed one is registered the first time someone waits on it.
  /** @internal */
  private list(): void {
    this.listed = true;
    register(this, Semaphore.snapshot);
  }

  /** How many permits exist. */
  get permits(): number {
    return this.total;
  }

  /** How many permits are free now. */
  get available(): number {
    return this.#free;
  }

  /** How many callers wait in line. */
  get waiting(): number {
    return this.#line.length;
  }

  /**
   * Waits until `weight` permits are free and every earlier waiter has been served, then
   * resolves with a {@link Permit}. The wait ends early with a `TimeoutError` after `timeout` ms,
   * or with exactly `signal.reason` when `signal` aborts; either way no permit is taken.
   */
  acquire(options?: AcquireOptions): Promise<Permit> {
    // Hot path: no options, a free permit, nobody in line. Nothing to parse or check.
    if (options === undefined && this.#free > 0 && this.#line.length === 0) {
      this.#free--;
      return Promise.resolve(new SemaphorePermit(this, 1));
    }
    let weight: number;
    let signal: AbortSignal | undefined;
    let timeout: number | undefined;
    try {
      ({ weight, signal, timeout } = check.acquireOptions(options, this.total));
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const permit = this.tryAcquire(weight);
    if (permit !== undefined) return Promise.resolve(permit);
    if (timeout === 0) return Promise.reject(this.#line.timeoutError({ weight, timeout }, false));
    return this.wait<Permit>(new SemaphoreWaiter(weight, timeout, undefined), signal, timeout);
  }

  /**
   * Takes `weight` permits if they are free now and nobody is waiting (so it never jumps the
   * line); returns `undefined` otherwise. Never waits.
   */
  tryAcquire(weight = 1): Permit | undefined {
    check.weight(weight, 'weight', this.total);
    if (this.#line.length > 0 || this.#free < weight) return undefined;
    this.#free -= weight;
    return new SemaphorePermit(this, weight);
  }

  /**
   * Acquires as {@link acquire} does, calls `fn`, and releases when `fn`'s result settles
   * (return, throw or rejection). Resolves or rejects as `fn` does. `timeout` and `signal` bound
   * only the wait for permits: once `fn` has started, it is not interrupted. `fn` runs in the async
   * context of this call (AsyncLocalStorage), even when it waited in line: a queued `fn` starts in
   * it the moment its permits are granted, whoever released them.
   */
  run<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<Awaited<T>> {
    // Hot path: a free permit, nobody in line, no options. No closure or waiter is allocated;
    // the only promise is the one returned.
    if (options === undefined && this.#free > 0 && this.#line.length === 0 && typeof fn === 'function') {
      this.#free--;
      return this.#start(fn, 1) as Promise<Awaited<T>>;
    }
    let weight: number;
    let signal: AbortSignal | undefined;
    let timeout: number | undefined;
    try {
      check.func(fn, 'fn');
      ({ weight, signal, timeout } = check.acquireOptions(options, this.total));
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#line.length === 0 && this.#free >= weight) {
      this.#free -= weight;
      return this.#start(fn, weight) as Promise<Awaited<T>>;
    }
    if (timeout === 0) return Promise.reject(this.#line.timeoutError({ weight, timeout }, false));
    return this.wait<Awaited<T>>(new SemaphoreWaiter(weight, timeout, fn), signal, timeout);
  }

  static {
    releasePermits = (semaphore, weight, hold) => {
      if (hold !== undefined) semaphore.#deadlocks?.drop(hold);
      semaphore.#release(weight);
    };
    holdPermit = (permit, label) => {
      const deadlocks = permit.semaphore.#deadlocks;
      if (deadlocks === undefined) return undefined;
      permit.hold = deadlocks.hold(permit.weight, label);
      return permit.hold;
    };
  }

  /** Returns `weight` permits and serves the waiters they now cover, in order. */
  #release(weight: number): void {
    this.#free += weight;
    if (this.#line.length > 0) this.#serve(); // nobody in line: nothing to serve or detect
  }

  /** @internal */
  private wait<T>(
    waiter: SemaphoreWaiter,
    signal: AbortSignal | undefined,
    timeout: number | undefined,
  ): Promise<T> {
    if (!this.listed) this.list();
    const promise = park<T, SemaphoreWaiter>(this.#line, waiter, signal, timeout);
    if (this.#deadlocks?.block(waiter)) this.#detectDeadlock();
    return promise;
  }

  /** With detection on: rejects the nested waits if they deadlock, then serves those behind them. */
  #detectDeadlock(): void {
    if (this.#deadlocks!.detect(this.#line, this.#free, this.total, this.#line.who())) this.#serve();
  }

  /** Serves the waiters the free permits now cover, in order; stops at the first that does not fit. */
  #serve(): void {
    const line = this.#line;
    const unblock = this.#deadlocks?.unblock;
    for (let head = liveHead(line, unblock); head !== undefined; head = liveHead(line, unblock)) {
      if (head.weight > this.#free) {
        if (this.#deadlocks !== undefined) this.#detectDeadlock();
        return;
      }
      line.shift();
      unblock?.(head);
      this.#free -= head.weight;
      if (head.fn === undefined) {
        settle(head, new SemaphorePermit(this, head.weight));
      } else {
        // In the caller's async context, not the context of whoever released (lost-async-context.md).
        disarm(head);
        head
          .context!.runInAsyncScope(this.#start, this, head.fn, head.weight)
          .then(head.resolve, head.reject);
      }
    }
  }

  /** Calls `fn` on permits already taken, releasing them when its result settles. */
  #start(fn: () => unknown, weight: number): Promise<unknown> {
    if (this.#deadlocks !== undefined) return this.#deadlocks.run(fn, weight);
    let result: unknown;
    try {
      result = fn();
    } catch (error) {
      this.#release(weight);
      return Promise.reject(error);
    }
    if (weight === 1) return Promise.resolve(result).then(this.#releaseOne, this.#releaseOneAndThrow);
    return Promise.resolve(result).then(
      (value) => {
        this.#release(weight);
        return value;
      },
      (error: unknown) => {
        this.#release(weight);
        throw error;
      },
    );
  }

  readonly #releaseOne = <V>(value: V): V => {
    this.#release(1);
    return value;
  };

  readonly #releaseOneAndThrow = (error: unknown): never => {
    this.#release(1);
    throw error;
  };
}
