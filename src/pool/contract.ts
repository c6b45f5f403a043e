// The contract every pool in unwedge keeps, WorkerPool and the fronts in unwedge/* alike: the
// types their users write against, the option keys each call accepts, and their checks.
import * as check from '../core/validate.js';

/** Work for a pool: called with a signal that aborts when its caller stops waiting for it. */
export type PoolTask<T> = (signal: AbortSignal) => T | PromiseLike<T>;

/** Options of {@link WorkerPool.run}. */
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

/** Options of {@link WorkerPool.shutdown}. */
export interface PoolShutdownOptions {
  /** Let queued tasks run (until `timeout`) instead of cancelling them. Default `false`. */
  drain?: boolean;
  /** How long to wait for started tasks to settle, in ms. Default 0, or 10,000 with `drain`. */
  timeout?: number;
}

/** @internal */
export const SHUTDOWN_KEYS = ['drain', 'timeout'] as const;

/** What a {@link WorkerPool.shutdown} call did. */
export interface PoolShutdownReport {
  /** Queued tasks it rejected with a `ClosedError` before they started. */
  readonly cancelled: number;
  /** Running tasks whose signal it aborted (their `run()` rejected at once). */
  readonly aborted: number;
  /** Started tasks that had not settled when the returned promise resolved. */
  readonly stillRunning: number;
}

/** Options of {@link WorkerPool.idle}. */
export interface PoolIdleOptions {
  /** Gives up after this many ms with a `TimeoutError`. */
  timeout?: number;
  /** Gives up when aborted, rejecting with exactly `signal.reason`. */
  signal?: AbortSignal;
}

/** @internal */
export const IDLE_KEYS = ['signal', 'timeout'] as const;

/** The contract every pool in unwedge keeps: {@link WorkerPool} and the fronts in `unwedge/*`. */
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

/** Options every pool takes. */
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

/** Options of {@link WorkerPool}. */
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
