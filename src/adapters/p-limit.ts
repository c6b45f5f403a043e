/**
 * The pool contract for a p-limit 7 limiter: {@link LimitPool}. `p-limit` is an optional peer
 * dependency: pass your own limiter.
 *
 * @module unwedge/p-limit
 */
// A front for a p-limit limiter (7.x): the limiter keeps its order and limit, and the front gives
// it the pool contract. p-limit's own `clearQueue()` drops queued calls and leaves their promises
// pending forever; through the front, every `run()` settles, on shutdown included.
import * as check from '../core/validate.js';
import { BasePool, beginQueued, type Job, POOL_KEYS, type Pool, type PoolOptions } from '../pool/index.js';

/**
 * What the front uses of a `pLimit()` limiter: pass the limiter itself (p-limit is never imported here).
 *
 * @example
 * ```ts
 * import pLimit from 'p-limit';
 * import { type LimitLike, LimitPool } from 'unwedge/p-limit';
 * const limit: LimitLike = pLimit(8); // its other callers keep sharing its limit
 * const pool = new LimitPool(limit, { name: 'uploads' });
 * pool.concurrency = 4; // sets the limiter's
 * console.log(limit.concurrency); // → 4
 * await pool.shutdown();
 * ```
 */
export interface LimitLike {
  (fn: () => unknown): Promise<unknown>;
  /** Calls running. */
  readonly activeCount: number;
  /** Calls waiting. */
  readonly pendingCount: number;
  /** How many calls run at once. */
  concurrency: number;
}

/**
 * Gives a `pLimit` limiter the pool contract: `run()` with `signal`, `timeout` and `queueTimeout`
 * that settles at once on abort, timeout or shutdown, `shutdown()` that never waits on hung work,
 * and `idle()`. Tasks still wait in the limiter and count against its `concurrency`. p-limit cannot
 * remove a queued call, so a withdrawn task's `run()` settles at once while its entry stays in the
 * limiter until it is reached, then returns without calling the task (`maxQueue` counts those
 * entries, so they stay bounded).
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import pLimit from 'p-limit';
 * import { LimitPool } from 'unwedge/p-limit';
 * const pool = new LimitPool(pLimit(8), { name: 'uploads', maxQueue: 100 });
 * // the task: any work that stops when its signal aborts, e.g. fetch(url, { method: 'POST', signal })
 * console.log(await pool.run((signal) => sleep(10, 'uploaded', { signal }), { queueTimeout: 1_000 })); // → uploaded
 * await pool.shutdown();
 * ```
 */
export class LimitPool extends BasePool implements Pool {
  /** @param limit the limiter to front; its other callers keep sharing its limit. */
  constructor(
    /** @internal */
    private readonly limit: LimitLike,
    options?: PoolOptions,
  ) {
    super(check.options<PoolOptions>(options, POOL_KEYS));
    check.func(limit, 'limit');
    // The front reads these to bound its line (maxQueue) and to honour queueTimeout: 0; `pLimit`
    // itself, passed instead of `pLimit(n)`, has neither.
    if (typeof limit.activeCount !== 'number' || typeof limit.pendingCount !== 'number') {
      throw new TypeError(
        `limit must be a limiter made by pLimit(concurrency); received ${check.show(limit)}`,
      );
    }
  }

  /** The limiter's concurrency. Setting it sets the limiter's. */
  get concurrency(): number {
    return this.limit.concurrency;
  }

  set concurrency(value: number) {
    this.limit.concurrency = check.integerOrInfinity(value, 'concurrency', 1);
  }

  /** @internal */
  protected override startsAtOnce(): boolean {
    return this.limit.pendingCount === 0 && this.limit.activeCount < this.limit.concurrency;
  }

  /** @internal */
  protected override backlog(): number {
    return this.limit.pendingCount;
  }

  /** @internal */
  protected override enqueued(job: Job): void {
    this.limit(() => beginQueued(this, job)).then(undefined, (error: unknown) => this.lost(job, error));
  }
}
