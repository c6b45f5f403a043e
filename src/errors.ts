/**
 * The error classes of unwedge. Every operational failure is one of these, with a stable `code`;
 * a user's abort rejects with exactly `signal.reason` instead, and bad arguments are a plain
 * `TypeError` or `RangeError`.
 *
 * @example
 * ```ts
 * import { Semaphore, TimeoutError } from 'unwedge';
 * const sem = new Semaphore(1, { name: 'db' });
 * await sem.acquire();
 * try {
 *   await sem.acquire({ timeout: 10 });
 * } catch (error) {
 *   if (error instanceof TimeoutError) console.log(error.code); // 'ERR_UNWEDGE_TIMEOUT'
 * }
 * ```
 * @module
 */

/** Options every unwedge error accepts: the underlying `cause`, as for `Error`. */
export interface UnwedgeErrorOptions {
  /** The error that led to this one, kept as `error.cause`. */
  cause?: unknown;
}

/** The base class of every operational error unwedge throws. Test `instanceof` or `code`. */
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

/** A wait or a piece of work ran out of time. */
export class TimeoutError extends UnwedgeError {
  declare readonly code: 'ERR_UNWEDGE_TIMEOUT';
  constructor(message: string, options?: UnwedgeErrorOptions) {
    super(message, options, 'ERR_UNWEDGE_TIMEOUT');
  }
}

/** A bounded queue or backlog was full and the caller would not (or could no longer) wait. */
export class QueueFullError extends UnwedgeError {
  declare readonly code: 'ERR_UNWEDGE_QUEUE_FULL';
  constructor(message: string, options?: UnwedgeErrorOptions) {
    super(message, options, 'ERR_UNWEDGE_QUEUE_FULL');
  }
}

/** The primitive was closed or shut down, so the call can never be served. */
export class ClosedError extends UnwedgeError {
  declare readonly code: 'ERR_UNWEDGE_CLOSED';
  constructor(message: string, options?: UnwedgeErrorOptions) {
    super(message, options, 'ERR_UNWEDGE_CLOSED');
  }
}

/** The wait could never be served because the holders it waits on are waiting on it. */
export class DeadlockError extends UnwedgeError {
  declare readonly code: 'ERR_UNWEDGE_DEADLOCK';
  constructor(message: string, options?: UnwedgeErrorOptions) {
    super(message, options, 'ERR_UNWEDGE_DEADLOCK');
  }
}

/** A held permit's lease could not be refreshed or was found expired: the holder no longer holds it. */
export class LeaseLostError extends UnwedgeError {
  declare readonly code: 'ERR_UNWEDGE_LEASE_LOST';
  constructor(message: string, options?: UnwedgeErrorOptions) {
    super(message, options, 'ERR_UNWEDGE_LEASE_LOST');
  }
}
