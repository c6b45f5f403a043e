/**
 * The pool contract for a piscina 5 pool of worker threads: {@link PiscinaPool}. `piscina` is an
 * optional peer dependency: pass your own `Piscina` instance.
 *
 * @module unwedge/piscina
 */
// A front for a piscina pool (5.x): the front keeps the line (bounded, FIFO, cancellable) and hands
// piscina a task only when a worker is free, so `run()` gets the pool contract. Shutdown without
// drain ends the worker threads through piscina's own destroy(), including a thread stuck in
// synchronous code, which an abort alone cannot make the process let go of.
import { asyncDisposeSymbol } from '../core/compat.js';
import * as check from '../core/validate.js';
import {
  type Pool,
  type PoolIdleOptions,
  type PoolOptions,
  type PoolRunOptions,
  type PoolShutdownOptions,
  type PoolShutdownReport,
  RUN_KEYS,
  WORKER_POOL_KEYS,
  WorkerPool,
} from '../pool/index.js';

/**
 * What the front uses of a `Piscina` instance: pass the pool itself (piscina is never imported here).
 *
 * @example
 * ```ts
 * import { Piscina } from 'piscina';
 * import { type PiscinaLike, PiscinaPool } from 'unwedge/piscina';
 * // resize.cjs: module.exports = ({ width }) => `resized to ${width} px`;
 * const piscina: PiscinaLike<{ width: number }, string> = new Piscina({
 *   filename: new URL('./resize.cjs', import.meta.url).href,
 *   maxThreads: 2,
 * });
 * const pool = new PiscinaPool(piscina);
 * console.log(pool.concurrency); // → 2
 * await pool.shutdown();
 * ```
 */
export interface PiscinaLike<In, Out> {
  // `transferList` is typed `never[]` so that any piscina version's own list type accepts it.
  /** Runs `task` on a worker thread; `signal` aborts it. */
  run(
    task: In,
    options?: { signal?: AbortSignal; name?: string | null; transferList?: readonly never[] },
  ): Promise<Out>;
  /** Ends every worker thread, even one stuck in synchronous code. */
  destroy(): Promise<void>;
  /** The pool's sizing, from which the front takes its concurrency. */
  readonly options: {
    /** Worker threads at most. */
    readonly maxThreads: number;
    /** Tasks one worker runs at once. */
    readonly concurrentTasksPerWorker: number;
  };
}

/**
 * Options of {@link PiscinaPool}.
 *
 * @example
 * ```ts
 * import { Piscina } from 'piscina';
 * import { PiscinaPool, type PiscinaPoolOptions } from 'unwedge/piscina';
 * const options: PiscinaPoolOptions = { name: 'resize', concurrency: 2, maxQueue: 100, timeout: 2_000 };
 * const pool = new PiscinaPool(new Piscina({ filename: new URL('./resize.cjs', import.meta.url).href }), options);
 * console.log(await pool.run({ width: 64 })); // → resized to 64 px
 * await pool.shutdown();
 * ```
 */
export interface PiscinaPoolOptions extends PoolOptions {
  /** Tasks handed to piscina at once. Default: its `maxThreads × concurrentTasksPerWorker`. */
  concurrency?: number;
}

/**
 * Options of {@link PiscinaPool.run}: the pool's, plus piscina's own per-task options.
 *
 * @example
 * ```ts
 * import { Piscina } from 'piscina';
 * import { PiscinaPool, type PiscinaRunOptions } from 'unwedge/piscina';
 * const pool = new PiscinaPool(new Piscina({ filename: new URL('./resize.cjs', import.meta.url).href }));
 * const request = new AbortController(); // aborted when the client goes away
 * const options: PiscinaRunOptions = { signal: request.signal, timeout: 2_000, queueTimeout: 500 };
 * console.log(await pool.run({ width: 128 }, options)); // → resized to 128 px
 * await pool.shutdown();
 * ```
 */
export interface PiscinaRunOptions extends PoolRunOptions {
  /** The worker's exported function to call (piscina's `name`). */
  name?: string;
  /** Passed to piscina as is. */
  transferList?: readonly unknown[];
}

// Piscina's own per-task options that the front documents; any other key is a TypeError.
const PISCINA_RUN_KEYS = [...RUN_KEYS, 'name', 'transferList'] as const;

/**
 * Gives a `Piscina` the pool contract: `run(input)` with `signal`, `timeout` and `queueTimeout`
 * that settles at once on abort, timeout or shutdown (piscina terminates the thread of an aborted
 * task), a bounded FIFO line with `maxQueue`, `idle()`, and `shutdown()` that ends the worker
 * threads with piscina's `destroy()` once its tasks are cancelled or drained: a worker stuck in
 * `while (true) {}` no longer keeps the process alive.
 *
 * @example
 * ```ts
 * import { Piscina } from 'piscina';
 * import { PiscinaPool } from 'unwedge/piscina';
 * // resize.cjs: module.exports = ({ width }) => `resized to ${width} px`;
 * const pool = new PiscinaPool(new Piscina({ filename: new URL('./resize.cjs', import.meta.url).href }), {
 *   name: 'resize',
 *   timeout: 2_000,
 * });
 * const thumbnail = await pool.run({ width: 64 });
 * console.log(thumbnail); // → resized to 64 px
 * await pool.shutdown(); // the threads are gone when this resolves
 * ```
 */
export class PiscinaPool<In = unknown, Out = unknown> implements Pool<In> {
  /** @internal */
  private readonly pool: WorkerPool;
  /** @internal */
  private destroyed: Promise<void> | undefined;

  constructor(
    /** @internal */
    private readonly piscina: PiscinaLike<In, Out>,
    options?: PiscinaPoolOptions,
  ) {
    if (piscina === null || typeof piscina !== 'object') {
      throw new TypeError(`piscina must be a Piscina instance; received ${check.show(piscina)}`);
    }
    check.func(piscina.run, 'piscina.run');
    check.func(piscina.destroy, 'piscina.destroy');
    const o = check.options<PiscinaPoolOptions>(options, WORKER_POOL_KEYS);
    // `null` is a bad concurrency, not "the default": only a missing one is taken from piscina.
    const concurrency = o.concurrency === undefined ? threadsOf(piscina) : o.concurrency;
    this.pool = new WorkerPool({ ...o, concurrency });
  }

  /** Tasks handed to piscina at once. */
  get concurrency(): number {
    return this.pool.concurrency;
  }

  /** Tasks running in a worker thread (abandoned ones included). */
  get active(): number {
    return this.pool.active;
  }

  /** Tasks waiting for a worker. */
  get queued(): number {
    return this.pool.queued;
  }

  /** Tasks whose `run()` already rejected and that piscina has not yet let go of. */
  get abandoned(): number {
    return this.pool.abandoned;
  }

  /** Whether `shutdown()` was called. */
  get closed(): boolean {
    return this.pool.closed;
  }

  /**
   * Runs `input` in a worker thread once a worker is free and every earlier task has started, and
   * settles like it. The waits and their endings are those of {@link WorkerPool.run}; an abort or
   * timeout while running makes piscina terminate that worker thread.
   */
  run(input: In, options?: PiscinaRunOptions): Promise<Out> {
    let name: string | undefined;
    let transferList: readonly unknown[] | undefined;
    let rest: PoolRunOptions;
    try {
      // A function cannot be sent to a worker thread: piscina would only say so once it has a worker.
      if (typeof input === 'function') {
        throw new TypeError(
          `input must be data a worker thread can receive, not a function; received ${check.show(input)}`,
        );
      }
      ({ name, transferList, ...rest } = check.options<PiscinaRunOptions>(options, PISCINA_RUN_KEYS));
      check.string(name, 'options.name');
      if (transferList !== undefined && !Array.isArray(transferList)) {
        throw new TypeError(`options.transferList must be an array; received ${check.show(transferList)}`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const list = transferList as readonly never[] | undefined;
    const task = (signal: AbortSignal) => this.piscina.run(input, { signal, name, transferList: list });
    return this.pool.run(task, rest);
  }

  /**
   * Shuts down as {@link WorkerPool.shutdown} does, then destroys the piscina pool, which
   * terminates every worker thread, busy or not. Resolves once the threads have exited;
   * `stillRunning` counts tasks piscina had not let go of by then.
   */
  async shutdown(options?: PoolShutdownOptions): Promise<PoolShutdownReport> {
    const report = await this.pool.shutdown(options);
    this.destroyed ??= this.piscina.destroy().catch(() => {});
    await this.destroyed;
    return { ...report, stillRunning: this.pool.active };
  }

  /** Waits as {@link WorkerPool.idle} does. */
  idle(options?: PoolIdleOptions): Promise<void> {
    return this.pool.idle(options);
  }

  /** Calls `shutdown()`, so that `await using pool = new PiscinaPool(...)` works. */
  async [asyncDisposeSymbol](): Promise<void> {
    await this.shutdown();
  }
}

/** The default concurrency: piscina's `maxThreads × concurrentTasksPerWorker`. */
function threadsOf(piscina: PiscinaLike<unknown, unknown>): number {
  const sizing: unknown = piscina.options;
  if (sizing === null || typeof sizing !== 'object') {
    throw new TypeError(`piscina.options must be an object; received ${check.show(sizing)}`);
  }
  const { maxThreads, concurrentTasksPerWorker } = sizing as PiscinaLike<unknown, unknown>['options'];
  return (
    check.integer(maxThreads, 'piscina.options.maxThreads', 1) *
    check.integer(concurrentTasksPerWorker, 'piscina.options.concurrentTasksPerWorker', 1)
  );
}
