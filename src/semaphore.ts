import type { AsyncResource } from 'node:async_hooks';
import { disposeSymbol } from './core/compat.js';
import { type Hold, heldHere, newHold, within } from './core/holds.js';
import { register } from './core/live.js';
import { callerContext, contextIsFree } from './core/task.js';
import type { PrimitiveSnapshot, WaitLabel } from './core/track.js';
import * as check from './core/validate.js';
import { disarm, fail, liveHead, park, resolveOnly, settle, Waiter } from './core/wait.js';
import { WaiterList } from './core/waiters.js';
import { DeadlockError, TimeoutError } from './errors.js';

/** Options of {@link Semaphore}. */
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

/** Options of {@link Semaphore.acquire} and {@link Semaphore.run}. */
export interface AcquireOptions {
  /** How many permits to take at once; a positive integer ≤ the semaphore's permits. Default 1. */
  weight?: number;
  /** Gives up the wait when aborted, rejecting with exactly `signal.reason`. */
  signal?: AbortSignal;
  /** Gives up the wait after this many ms with a `TimeoutError`; `0` means "only if free now". */
  timeout?: number;
}

/** Permits held from a semaphore. Release them exactly once; later calls do nothing. */
export interface Permit {
  /** How many permits this holds. */
  readonly weight: number;
  /** Returns the permits. Idempotent. */
  release(): void;
  /** Same as `release()`, so that `using permit = await sem.acquire()` works. */
  [Symbol.dispose](): void;
}

/** Anything with the semaphore's acquire contract: a `Semaphore`, or one shared across processes. */
export interface SemaphoreLike {
  /** Waits for permits as {@link Semaphore.acquire} does; settles by grant, timeout or abort. */
  acquire(options?: AcquireOptions): Promise<Permit>;
}

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

/** A parked `acquire` (no `fn`) or a parked `run` (with `fn`, started when served). */
class SemaphoreWaiter extends Waiter<unknown> {
  /**
   * With deadlock detection: the holds of this semaphore that this wait blocks. Set only then
   * (declared, not initialised: one field less per parked waiter otherwise).
   */
  declare blocking: Hold[] | undefined;
  /** A parked `run`'s caller context, which `fn` starts in. */
  readonly context: AsyncResource | undefined;
  constructor(
    readonly weight: number,
    readonly timeout: number | undefined,
    readonly fn: (() => unknown) | undefined,
  ) {
    super();
    this.context = fn === undefined ? undefined : callerContext();
  }
}

resolveOnly(SemaphoreWaiter);

function waitWhat(w: SemaphoreWaiter): string {
  const permits = w.weight === 1 ? '1 permit' : `${w.weight} permits`;
  return w.fn === undefined ? `acquire ${permits}` : `run (${permits})`;
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
 * import { Semaphore } from 'unwedge';
 * const storage = new Semaphore(32, { name: 'storage-chunks' });
 * const body = await storage.run(() => fetch('http://127.0.0.1:9000/chunk/1'), { timeout: 5_000 });
 * {
 *   using permit = await storage.acquire({ weight: 4 });
 *   // ... four permits held until the end of this block
 * }
 * ```
 */
export class Semaphore implements SemaphoreLike {
  /** The name given in the options, if any. */
  readonly name: string | undefined;
  /** @internal */
  readonly waiters = new WaiterList<SemaphoreWaiter>();
  private readonly total: number;
  #free: number;
  /** With deadlock detection: the holds of this semaphore's permits by run()/fanOut() code. */
  private readonly holds: Set<Hold> | undefined;
  /** Whether `inspect()` knows it: a named one from the start, any other from its first parked caller. */
  private listed: boolean;
  /** With deadlock detection: waiters in line whose wait is made inside a hold of this semaphore. */
  #nested = 0;

  /** A waiter left the line or was served: it no longer blocks the holds it waited inside. */
  readonly #unblock = (waiter: SemaphoreWaiter): void => {
    if (waiter.blocking === undefined) return;
    this.#nested--;
    for (const hold of waiter.blocking) hold.blocked--;
    waiter.blocking = undefined;
  };

  /** @param permits how many permits exist: a positive safe integer. */
  constructor(permits: number, options?: SemaphoreOptions) {
    this.total = check.integer(permits, 'permits', 1);
    const o = check.options<SemaphoreOptions>(options, SEMAPHORE_KEYS);
    this.name = check.string(o.name, 'options.name');
    this.holds =
      (check.boolean(o.detectDeadlocks, 'options.detectDeadlocks') ?? contextIsFree) ? new Set() : undefined;
    this.#free = this.total;
    this.listed = this.name !== undefined;
    if (this.listed) register(this, Semaphore.snapshot);
  }

  /** What `inspect()` shows: permits, use, and each parked caller (held weakly, read at dump time). */
  private static snapshot(s: Semaphore): PrimitiveSnapshot {
    const inUse = s.total - s.#free;
    const waits = [];
    for (const w of s.waiters) {
      waits.push({ key: w, what: waitWhat(w), since: w.since, timeout: w.timeout });
    }
    return {
      kind: 'semaphore',
      name: s.name,
      summary: `${s.total} permit${s.total === 1 ? '' : 's'}, ${inUse} in use, ${s.waiters.length} waiting`,
      stats: { permits: s.total, inUse, waiting: s.waiters.length },
      waits,
    };
  }

  // Holding a primitive through a WeakRef makes the young-generation GC keep it (only a full GC
  // clears WeakRefs), which made `new Semaphore()` ~8x slower for one made per request and never
  // contended. So an unnamed one is registered the first time someone waits on it.
  private list(): void {
    this.listed = true;
    register(this, Semaphore.snapshot);
  }

  /** @internal How a parked caller is named in diagnostics_channel messages. */
  describeWait(w: SemaphoreWaiter): WaitLabel {
    return { kind: 'semaphore', name: this.name, what: waitWhat(w), timeout: w.timeout };
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
    return this.waiters.length;
  }

  /**
   * Waits until `weight` permits are free and every earlier waiter has been served, then
   * resolves with a {@link Permit}. The wait ends early with a `TimeoutError` after `timeout` ms,
   * or with exactly `signal.reason` when `signal` aborts; either way no permit is taken.
   */
  acquire(options?: AcquireOptions): Promise<Permit> {
    // Hot path: no options, a free permit, nobody in line. Nothing to parse or check.
    if (options === undefined && this.#free > 0 && this.waiters.length === 0) {
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
    if (timeout === 0) return Promise.reject(this.timeoutError({ weight, timeout }));
    return this.wait<Permit>(new SemaphoreWaiter(weight, timeout, undefined), signal, timeout);
  }

  /**
   * Takes `weight` permits if they are free now and nobody is waiting (so it never jumps the
   * line); returns `undefined` otherwise. Never waits.
   */
  tryAcquire(weight = 1): Permit | undefined {
    check.weight(weight, 'weight', this.total);
    if (this.waiters.length > 0 || this.#free < weight) return undefined;
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
    if (options === undefined && this.#free > 0 && this.waiters.length === 0 && typeof fn === 'function') {
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
    if (this.waiters.length === 0 && this.#free >= weight) {
      this.#free -= weight;
      return this.#start(fn, weight) as Promise<Awaited<T>>;
    }
    if (timeout === 0) return Promise.reject(this.timeoutError({ weight, timeout }));
    return this.wait<Awaited<T>>(new SemaphoreWaiter(weight, timeout, fn), signal, timeout);
  }

  static {
    releasePermits = (semaphore, weight, hold) => {
      if (hold !== undefined) semaphore.holds?.delete(hold);
      semaphore.#release(weight);
    };
    holdPermit = (permit, label) => {
      const holds = permit.semaphore.holds;
      if (holds === undefined) return undefined;
      permit.hold = newHold(permit.semaphore, permit.weight, label);
      holds.add(permit.hold);
      return permit.hold;
    };
  }

  /** Returns `weight` permits and serves the waiters they now cover, in order. */
  #release(weight: number): void {
    this.#free += weight;
    if (this.waiters.length > 0) this.serve(); // nobody in line: nothing to serve or detect
  }

  private wait<T>(
    waiter: SemaphoreWaiter,
    signal: AbortSignal | undefined,
    timeout: number | undefined,
  ): Promise<T> {
    if (!this.listed) this.list();
    const promise = park<T, SemaphoreWaiter>(this, waiter, signal, timeout);
    if (this.holds !== undefined) {
      const blocking = heldHere(this);
      if (blocking.length > 0) {
        waiter.blocking = blocking;
        this.#nested++;
        for (const hold of blocking) hold.blocked++;
        this.detectDeadlock();
      }
    }
    return promise;
  }

  /**
   * With detection on: if the head cannot be served and every permit in use is held by code that
   * is itself waiting here, nothing can ever be released. Rejects those nested waits instead.
   */
  private detectDeadlock(): void {
    // No wait in line is made inside a holder: nothing to detect. Without this check, every release
    // behind a full line walked every hold (4 % of Semaphore.run on Node 24 with 16 permits).
    if (this.#nested === 0) return;
    const head = this.waiters.head;
    if (head === undefined || head.weight <= this.#free) return;
    let stuck = 0;
    for (const hold of this.holds!) if (hold.blocked > 0) stuck += hold.weight;
    if (stuck < this.total - this.#free) return;
    const holders = [...this.holds!].map((h) => h.label).join(', ');
    const victims = [...this.waiters].filter((w) => w.blocking !== undefined);
    for (const waiter of victims) {
      this.waiters.remove(waiter);
      this.#unblock(waiter);
      const who = this.name === undefined ? 'semaphore' : `semaphore ${JSON.stringify(this.name)}`;
      fail(
        waiter,
        new DeadlockError(
          `${who} would deadlock: all ${this.total} permits are held by callers that wait for it themselves ` +
            `(${holders}); rejected ${victims.length} nested wait${victims.length === 1 ? '' : 's'}`,
        ),
      );
    }
    this.serve();
  }

  /** @internal */
  timeoutError(waiter: { weight: number; timeout: number | undefined }): TimeoutError {
    const who = this.name === undefined ? 'semaphore' : `semaphore ${JSON.stringify(this.name)}`;
    const what = waiter.weight === 1 ? 'permit' : `${waiter.weight} permits`;
    const state = `${this.total} permits, ${this.total - this.#free} in use, ${this.waiters.length} waiting`;
    return new TimeoutError(`${who} gave no ${what} within ${waiter.timeout} ms (${state})`);
  }

  /** @internal A waiter left the line: if it was blocking the head, those behind may fit now. */
  onLeave(waiter: SemaphoreWaiter): void {
    this.#unblock(waiter);
    this.serve();
  }

  private serve(): void {
    for (
      let head = liveHead(this.waiters, this.#unblock);
      head !== undefined;
      head = liveHead(this.waiters, this.#unblock)
    ) {
      if (head.weight > this.#free) {
        if (this.holds !== undefined) this.detectDeadlock();
        return;
      }
      this.waiters.shift();
      this.#unblock(head);
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
    if (this.holds !== undefined) return this.#startHolding(fn, weight);
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

  /** start() with deadlock detection: `fn` runs inside a hold of the permits it was given. */
  #startHolding(fn: () => unknown, weight: number): Promise<unknown> {
    const hold = newHold(this, weight, 'run()');
    this.holds!.add(hold);
    const done = () => releasePermits(this, weight, hold);
    let result: unknown;
    try {
      result = within(hold, fn);
    } catch (error) {
      done();
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (value) => {
        done();
        return value;
      },
      (error: unknown) => {
        done();
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
