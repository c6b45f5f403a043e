// What every semaphore gives its callers, and what fanOut takes: the acquire contract that a
// Semaphore and a RedisSemaphore (unwedge/redis) both implement.

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
