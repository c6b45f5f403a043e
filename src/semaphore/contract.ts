// What every semaphore gives its callers, and what fanOut takes: the acquire contract that a
// Semaphore and a RedisSemaphore (unwedge/redis) both implement.

/**
 * Options of {@link Semaphore.acquire} and {@link Semaphore.run}.
 *
 * @example
 * ```ts
 * import { type AcquireOptions, Semaphore } from 'unwedge';
 * const storage = new Semaphore(8, { name: 'storage' });
 * const request = new AbortController(); // aborted when the client goes away
 * const options: AcquireOptions = { weight: 2, timeout: 1_000, signal: request.signal };
 * const permit = await storage.acquire(options);
 * console.log(storage.available); // → 6
 * permit.release();
 * ```
 */
export interface AcquireOptions {
  /** How many permits to take at once; a positive integer ≤ the semaphore's permits. Default 1. */
  weight?: number;
  /** Gives up the wait when aborted, rejecting with exactly `signal.reason`. */
  signal?: AbortSignal;
  /** Gives up the wait after this many ms with a `TimeoutError`; `0` means "only if free now". */
  timeout?: number;
}

/**
 * Permits held from a semaphore. Release them exactly once; later calls do nothing.
 *
 * @example
 * ```ts
 * import { type Permit, Semaphore } from 'unwedge';
 * const db = new Semaphore(2, { name: 'db' });
 * const permit: Permit = await db.acquire();
 * try {
 *   console.log(db.available); // → 1
 * } finally {
 *   permit.release(); // or `using permit = await db.acquire()`
 * }
 * permit.release(); // a second release does nothing
 * console.log(db.available); // → 2
 * ```
 */
export interface Permit {
  /** How many permits this holds. */
  readonly weight: number;
  /** Returns the permits. Idempotent. */
  release(): void;
  /** Same as `release()`, so that `using permit = await sem.acquire()` works. */
  [Symbol.dispose](): void;
}

/**
 * Anything with the semaphore's acquire contract: a `Semaphore`, or one shared across processes.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { Semaphore, type SemaphoreLike } from 'unwedge';
 * // Works with a Semaphore, and with a RedisSemaphore (unwedge/redis) across processes.
 * async function withPermit<T>(limit: SemaphoreLike, work: () => Promise<T>): Promise<T> {
 *   using _permit = await limit.acquire({ timeout: 1_000 });
 *   return await work();
 * }
 * console.log(await withPermit(new Semaphore(4), () => sleep(10, 'done'))); // → done
 * ```
 */
export interface SemaphoreLike {
  /** Waits for permits as {@link Semaphore.acquire} does; settles by grant, timeout or abort. */
  acquire(options?: AcquireOptions): Promise<Permit>;
}
