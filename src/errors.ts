// The error classes of unwedge. Every operational failure is one of these, with a stable `code`;
// a user's abort rejects with exactly `signal.reason` instead, and bad arguments are a plain
// `TypeError` or `RangeError`.

/**
 * Options every unwedge error accepts: the underlying `cause`, as for `Error`.
 *
 * @example
 * ```ts
 * import { TimeoutError, type UnwedgeErrorOptions } from 'unwedge';
 * const options: UnwedgeErrorOptions = { cause: new Error('connect ETIMEDOUT') };
 * const error = new TimeoutError('"db-connect" timed out after 2000 ms', options);
 * console.log(error.cause === options.cause); // → true
 * ```
 */
export interface UnwedgeErrorOptions {
  /** The error that led to this one, kept as `error.cause`. */
  cause?: unknown;
}

/**
 * The base class of every operational error unwedge throws. Test `instanceof` or `code`; a user's
 * abort rejects with exactly `signal.reason` instead, and bad arguments are a plain `TypeError` or
 * `RangeError`.
 *
 * @example
 * ```ts
 * import { Semaphore, UnwedgeError } from 'unwedge';
 * const db = new Semaphore(1, { name: 'db' });
 * const permit = await db.acquire();
 * try {
 *   await db.acquire({ timeout: 10 });
 * } catch (error) {
 *   if (error instanceof UnwedgeError) console.log(error.code); // → ERR_UNWEDGE_TIMEOUT
 *   else throw error; // e.g. your signal's reason
 * }
 * permit.release();
 * ```
 */
export class UnwedgeError extends Error {
  /** A stable machine-readable code, `ERR_UNWEDGE_*`. */
  readonly code: string;

  constructor(message: string, options?: UnwedgeErrorOptions, code = 'ERR_UNWEDGE') {
    super(message, options);
    this.code = code;
    // `name` is an own property so that it survives minification and shows in `util.inspect`.
    Object.defineProperty(this, 'name', { value: new.target.name, enumerable: false, configurable: true });
  }
}

/**
 * A wait or a piece of work ran out of time.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { TimeoutError, withTimeout } from 'unwedge';
 * try {
 *   await withTimeout((signal) => sleep(1_000, 'connected', { signal }), 50, { name: 'db-connect' });
 * } catch (error) {
 *   if (error instanceof TimeoutError) console.log(error.message); // → "db-connect" timed out after 50 ms
 * }
 * ```
 */
export class TimeoutError extends UnwedgeError {
  declare readonly code: 'ERR_UNWEDGE_TIMEOUT';
  constructor(message: string, options?: UnwedgeErrorOptions) {
    super(message, options, 'ERR_UNWEDGE_TIMEOUT');
  }
}

/**
 * A bounded queue or backlog was full and the caller would not (or could no longer) wait.
 *
 * @example
 * ```ts
 * import { BoundedQueue, QueueFullError } from 'unwedge';
 * const jobs = new BoundedQueue<string>({ capacity: 1, name: 'jobs' });
 * await jobs.put('first');
 * try {
 *   await jobs.put('second', { timeout: 20 }); // nobody takes the first one
 * } catch (error) {
 *   if (error instanceof QueueFullError) console.log(error.code); // → ERR_UNWEDGE_QUEUE_FULL
 * }
 * ```
 */
export class QueueFullError extends UnwedgeError {
  declare readonly code: 'ERR_UNWEDGE_QUEUE_FULL';
  constructor(message: string, options?: UnwedgeErrorOptions) {
    super(message, options, 'ERR_UNWEDGE_QUEUE_FULL');
  }
}

/**
 * The primitive was closed or shut down, so the call can never be served.
 *
 * @example
 * ```ts
 * import { ClosedError, WorkerPool } from 'unwedge';
 * const pool = new WorkerPool({ concurrency: 1 });
 * await pool.shutdown();
 * try {
 *   await pool.run(() => 'too late');
 * } catch (error) {
 *   if (error instanceof ClosedError) console.log(error.code); // → ERR_UNWEDGE_CLOSED
 * }
 * ```
 */
export class ClosedError extends UnwedgeError {
  declare readonly code: 'ERR_UNWEDGE_CLOSED';
  constructor(message: string, options?: UnwedgeErrorOptions) {
    super(message, options, 'ERR_UNWEDGE_CLOSED');
  }
}

/**
 * The wait could never be served because the holders it waits on are waiting on it.
 *
 * @example
 * ```ts
 * import { DeadlockError, Semaphore } from 'unwedge';
 * const db = new Semaphore(1, { name: 'db', detectDeadlocks: true }); // on by default on Node 24+
 * await db.run(async () => {
 *   try {
 *     await db.run(() => 'nested'); // waits for the permit its own caller holds
 *   } catch (error) {
 *     if (error instanceof DeadlockError) console.log(error.code); // → ERR_UNWEDGE_DEADLOCK
 *   }
 * });
 * ```
 */
export class DeadlockError extends UnwedgeError {
  declare readonly code: 'ERR_UNWEDGE_DEADLOCK';
  constructor(message: string, options?: UnwedgeErrorOptions) {
    super(message, options, 'ERR_UNWEDGE_DEADLOCK');
  }
}

/**
 * A held permit's lease could not be refreshed or was found expired: the holder no longer holds it.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { LeaseLostError } from 'unwedge';
 * import { RedisSemaphore } from 'unwedge/redis';
 * const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
 * const storage = new RedisSemaphore(redis, { key: 'example:lease-lost', permits: 1, leaseMs: 300 });
 * const permit = await storage.acquire();
 * permit.signal.addEventListener('abort', () => {
 *   if (permit.signal.reason instanceof LeaseLostError) console.log(permit.signal.reason.code); // → ERR_UNWEDGE_LEASE_LOST
 * });
 * redis.disconnect(); // the connection is gone: the lease cannot be refreshed, and lapses
 * await new Promise((resolve) => permit.signal.addEventListener('abort', resolve));
 * await storage.close();
 * ```
 */
export class LeaseLostError extends UnwedgeError {
  declare readonly code: 'ERR_UNWEDGE_LEASE_LOST';
  constructor(message: string, options?: UnwedgeErrorOptions) {
    super(message, options, 'ERR_UNWEDGE_LEASE_LOST');
  }
}
