// The contract every pool in unwedge keeps, WorkerPool and the fronts in unwedge/* alike: the
// types their users write against, the option keys each call accepts, and their checks.
import * as check from '../core/validate.js';

/**
 * Work for a pool: called with a signal that aborts when its caller stops waiting for it.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type PoolTask, WorkerPool } from 'unwedge';
 * const task: PoolTask<string> = (signal) => sleep(10, 'fetched', { signal }); // e.g. fetch(url, { signal })
 * const pool = new WorkerPool({ concurrency: 2 });
 * console.log(await pool.run(task)); // → fetched
 * await pool.shutdown();
 * ```
 */
export type PoolTask<T> = (signal: AbortSignal) => T | PromiseLike<T>;

/**
 * Options of {@link WorkerPool.run}.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type PoolRunOptions, WorkerPool } from 'unwedge';
 * const pool = new WorkerPool({ concurrency: 1, name: 'feeds' });
 * const request = new AbortController(); // aborted when the client goes away
 * const options: PoolRunOptions = { signal: request.signal, timeout: 5_000, queueTimeout: 1_000 };
 * console.log(await pool.run((signal) => sleep(10, 'feed', { signal }), options)); // → feed
 * await pool.shutdown();
 * ```
 */
export interface PoolRunOptions {
  /** Withdraws the task when aborted: rejects with exactly `signal.reason` and aborts the task's signal. */
  signal?: AbortSignal;
  /** Bounds the run from its start, in ms (`TimeoutError`). Default: the pool's `timeout`. */
  timeout?: number;
  /** Bounds the wait for a slot, in ms (`TimeoutError`, the task never starts); `0`: only if free now. */
  queueTimeout?: number;
}

/** @internal The keys of {@link PoolRunOptions}: any other is a TypeError. */
export const RUN_KEYS = ['signal', 'timeout', 'queueTimeout'] as const;

/**
 * Options of {@link WorkerPool.shutdown}.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type PoolShutdownOptions, WorkerPool } from 'unwedge';
 * const pool = new WorkerPool({ concurrency: 1 });
 * const first = pool.run((signal) => sleep(20, 'first', { signal }));
 * const second = pool.run((signal) => sleep(20, 'second', { signal })); // queued
 * const options: PoolShutdownOptions = { drain: true, timeout: 1_000 }; // let both finish, within 1 s
 * await pool.shutdown(options);
 * console.log(await first, await second); // → first second
 * ```
 */
export interface PoolShutdownOptions {
  /** Let queued tasks run (until `timeout`) instead of cancelling them. Default `false`. */
  drain?: boolean;
  /** How long to wait for started tasks to settle, in ms. Default 0, or 10,000 with `drain`. */
  timeout?: number;
}

/** @internal */
export const SHUTDOWN_KEYS = ['drain', 'timeout'] as const;

/**
 * What a {@link WorkerPool.shutdown} call did.
 *
 * @example
 * ```ts
 * import { type PoolShutdownReport, WorkerPool } from 'unwedge';
 * const pool = new WorkerPool({ concurrency: 1 });
 * const hung = pool.run(() => new Promise(() => {})); // ignores its signal, never settles
 * const queued = pool.run(() => 'never starts');
 * const report: PoolShutdownReport = await pool.shutdown(); // does not wait for the hung task
 * console.log(report); // → { cancelled: 1, aborted: 1, stillRunning: 1 }
 * const [a, b] = await Promise.allSettled([hung, queued]);
 * console.log(a.status, b.status); // → rejected rejected
 * ```
 */
export interface PoolShutdownReport {
  /** Queued tasks it rejected with a `ClosedError` before they started. */
  readonly cancelled: number;
  /** Running tasks whose signal it aborted (their `run()` rejected at once). */
  readonly aborted: number;
  /** Started tasks that had not settled when the returned promise resolved. */
  readonly stillRunning: number;
}

/**
 * Options of {@link WorkerPool.idle}.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type PoolIdleOptions, WorkerPool } from 'unwedge';
 * const pool = new WorkerPool({ concurrency: 4 });
 * const results = [1, 2, 3, 4, 5, 6].map((n) => pool.run((signal) => sleep(10, n, { signal })));
 * const options: PoolIdleOptions = { timeout: 1_000 }; // a TimeoutError if still busy after 1 s
 * await pool.idle(options);
 * console.log(pool.active, pool.queued, await Promise.all(results)); // → 0 0 [ 1, 2, 3, 4, 5, 6 ]
 * await pool.shutdown();
 * ```
 */
export interface PoolIdleOptions {
  /** Gives up after this many ms with a `TimeoutError`. */
  timeout?: number;
  /** Gives up when aborted, rejecting with exactly `signal.reason`. */
  signal?: AbortSignal;
}

/** @internal */
export const IDLE_KEYS = ['signal', 'timeout'] as const;

/**
 * The contract every pool in unwedge keeps: {@link WorkerPool} and the fronts in `unwedge/*`.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import pLimit from 'p-limit';
 * import { type Pool, WorkerPool } from 'unwedge';
 * import { LimitPool } from 'unwedge/p-limit';
 * // Written against the contract: runs on WorkerPool and on every front alike.
 * async function squares(pool: Pool, numbers: number[]): Promise<unknown[]> {
 *   const results = await Promise.all(numbers.map((n) => pool.run((signal) => sleep(5, n * n, { signal }))));
 *   await pool.shutdown();
 *   return results;
 * }
 * console.log(await squares(new WorkerPool({ concurrency: 2 }), [1, 2, 3])); // → [ 1, 4, 9 ]
 * console.log(await squares(new LimitPool(pLimit(2)), [4, 5])); // → [ 16, 25 ]
 * ```
 */
export interface Pool<In = PoolTask<unknown>> {
  /** Runs `task` on a slot; settles by its result, its timeout, its signal or the pool's shutdown. */
  run(task: In, options?: PoolRunOptions): Promise<unknown>;
  /** Stops taking tasks, cancels the queued and aborts the running; resolves by `timeout` at the latest. */
  shutdown(options?: PoolShutdownOptions): Promise<PoolShutdownReport>;
  /** Resolves when nothing is queued or running (at once if already so); `TimeoutError` after `timeout`. */
  idle(options?: PoolIdleOptions): Promise<void>;
  /** Tasks holding a slot now (abandoned ones included). */
  readonly active: number;
  /** Tasks waiting for a slot. */
  readonly queued: number;
  /** Tasks whose `run()` already rejected (abort, timeout, shutdown) but which have not settled. */
  readonly abandoned: number;
  /** Whether `shutdown()` was called. */
  readonly closed: boolean;
  /** `shutdown()` for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Options every pool takes.
 *
 * @example
 * ```ts
 * import PQueue from 'p-queue';
 * import type { PoolOptions } from 'unwedge';
 * import { PQueuePool } from 'unwedge/p-queue';
 * const options: PoolOptions = {
 *   name: 'thumbnails',
 *   maxQueue: 100, // a 101st waiting run() rejects at once with a QueueFullError
 *   timeout: 10_000, // each run() at most 10 s from its start, unless it says otherwise
 *   onError: (error) => console.error('a task failed after its caller gave up', error),
 * };
 * const pool = new PQueuePool(new PQueue({ concurrency: 4 }), options);
 * console.log(await pool.run(() => 'ok')); // → ok
 * await pool.shutdown();
 * ```
 */
export interface PoolOptions {
  /** Shown in errors, e.g. `"rss-fetch"`. */
  name?: string;
  /** How many tasks may wait for a slot: a safe integer >= 0 or `Infinity`. Default 1024. */
  maxQueue?: number;
  /** Default `timeout` of every `run()`, in ms: > 0, or `Infinity` for none. Default: none. */
  timeout?: number;
  /**
   * Also recognise a nested `run()` made after an `await` without the parent's signal, through
   * `AsyncLocalStorage`. Default: on where an active `AsyncLocalStorage` is free (Node >= 24, unless
   * run with `--no-async-context-frame`), off on Node 20 and 22, where it makes every promise in the
   * process about 3x as costly (bench/context.ts).
   */
  asyncContext?: boolean;
  /** Receives the failure of a task whose `run()` had already rejected. Default: stderr. */
  onError?: (error: unknown) => void;
}

/** @internal The keys of {@link PoolOptions}, which every pool's constructor takes. */
export const POOL_KEYS = ['name', 'maxQueue', 'timeout', 'asyncContext', 'onError'] as const;

/**
 * Options of {@link WorkerPool}.
 *
 * @example
 * ```ts
 * import { WorkerPool, type WorkerPoolOptions } from 'unwedge';
 * const options: WorkerPoolOptions = { concurrency: 8, name: 'feeds', maxQueue: 1_000, timeout: 10_000 };
 * const pool = new WorkerPool(options);
 * console.log(pool.concurrency); // → 8
 * await pool.shutdown();
 * ```
 */
export interface WorkerPoolOptions extends PoolOptions {
  /** How many tasks run at once: a positive safe integer. */
  concurrency: number;
}

/** @internal The keys of {@link WorkerPoolOptions} (and of the piscina front's). */
export const WORKER_POOL_KEYS = [...POOL_KEYS, 'concurrency'] as const;

/** @internal Checks a pool's options (bad input throws at once, naming the option and the value). */
export function checkPoolOptions(options: PoolOptions) {
  const name = check.string(options.name, 'options.name');
  const maxQueue =
    options.maxQueue === undefined ? 1024 : check.integerOrInfinity(options.maxQueue, 'options.maxQueue', 0);
  const timeout = check.timeout(options.timeout, 'options.timeout');
  // A default run timeout of 0 would reject every run() that does not override it (and 0 means
  // "no limit" in some libraries): refuse it here rather than on every call.
  if (timeout === 0) throw new RangeError('options.timeout must be a number of milliseconds > 0; received 0');
  const asyncContext = check.boolean(options.asyncContext, 'options.asyncContext');
  const onError =
    options.onError === undefined
      ? undefined
      : check.func<(error: unknown) => void>(options.onError, 'options.onError');
  return { name, maxQueue, timeout, asyncContext, onError };
}

/** @internal Checks `shutdown()`'s options; `timeout` defaults to 0, or 10,000 with `drain`. */
export function checkShutdownOptions(options: PoolShutdownOptions | undefined) {
  const o = check.options<PoolShutdownOptions>(options, SHUTDOWN_KEYS);
  const drain = check.boolean(o.drain, 'options.drain') ?? false;
  const timeout =
    o.timeout === undefined ? (drain ? 10_000 : 0) : check.timeout(o.timeout, 'options.timeout');
  return { drain, timeout };
}

/** @internal Checks `idle()`'s options. */
export function checkIdleOptions(options: PoolIdleOptions | undefined) {
  const o = check.options<PoolIdleOptions>(options, IDLE_KEYS);
  return {
    signal: check.signal(o.signal, 'options.signal'),
    timeout: check.timeout(o.timeout, 'options.timeout'),
  };
}
