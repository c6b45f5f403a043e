/**
 * The pool contract for a p-queue 9 `PQueue`: {@link PQueuePool}. `p-queue` is an optional peer
 * dependency: pass your own queue.
 *
 * @module unwedge/p-queue
 */
// A front for a p-queue `PQueue` (9.x): the queue keeps its order and limit, and the front gives it
// the pool contract. p-queue's own `clear()` drops queued tasks and leaves the promises it handed
// out pending forever; through the front, every `run()` settles, on shutdown included.
import * as check from '../core/validate.js';
import { BasePool, beginQueued, type Job, POOL_KEYS, type Pool, type PoolOptions } from '../pool/index.js';

/**
 * What the front uses of a `PQueue`: pass the queue itself (p-queue is never imported here).
 *
 * @example
 * ```ts
 * import PQueue from 'p-queue';
 * import { type PQueueLike, PQueuePool } from 'unwedge/p-queue';
 * const queue: PQueueLike = new PQueue({ concurrency: 4 }); // its other users keep sharing its limit
 * const pool = new PQueuePool(queue, { name: 'thumbnails' });
 * console.log(pool.concurrency); // → 4
 * await pool.shutdown();
 * ```
 */
export interface PQueueLike {
  /** Queues `fn`; `signal` withdraws it while it is queued. */
  add(fn: () => unknown, options?: { signal?: AbortSignal }): Promise<unknown>;
  /** Tasks waiting in the queue. */
  readonly size: number;
  /** Tasks running. */
  readonly pending: number;
  /** How many tasks run at once. */
  concurrency: number;
}

// The reason a queued entry is withdrawn from p-queue with; nobody sees it (the front has already
// settled that run()).
const WITHDRAWN = 'unwedge: withdrawn from the queue';

/**
 * Gives a `PQueue` the pool contract: `run()` with `signal`, `timeout` and `queueTimeout` that
 * settles at once on abort, timeout or shutdown, `shutdown()` that never waits on hung work, and
 * `idle()`. Tasks still wait in the queue in its own order (priorities included) and count against
 * its `concurrency`; a queued task that is withdrawn leaves the queue at once. Don't set the queue's
 * own `timeout`: it frees a slot while the task still runs; use the front's instead.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import PQueue from 'p-queue';
 * import { PQueuePool } from 'unwedge/p-queue';
 * const pool = new PQueuePool(new PQueue({ concurrency: 4 }), { name: 'thumbnails' });
 * // the task: any work that stops when its signal aborts, e.g. fetch(url, { signal })
 * console.log(await pool.run((signal) => sleep(10, 'a.png', { signal }), { timeout: 5_000 })); // → a.png
 * const hung = pool.run(() => new Promise(() => {})).catch((error) => error.code); // ignores its signal
 * await pool.shutdown(); // every promise the front handed out settles
 * console.log(await hung); // → ERR_UNWEDGE_CLOSED
 * ```
 */
export class PQueuePool extends BasePool implements Pool {
  /** @internal Queued jobs → the controller that takes their entry out of the queue. */
  private readonly withdraw = new Map<Job, AbortController>();

  /** @param queue the `PQueue` to front; its other users keep sharing its limit. */
  constructor(
    /** @internal */
    private readonly queue: PQueueLike,
    options?: PoolOptions,
  ) {
    super(check.options<PoolOptions>(options, POOL_KEYS));
    if (queue === null || typeof queue !== 'object') {
      throw new TypeError(`queue must be a PQueue instance; received ${check.show(queue)}`);
    }
    check.func(queue.add, 'queue.add');
    // The front reads these to bound its line (maxQueue) and to honour queueTimeout: 0.
    if (typeof queue.size !== 'number' || typeof queue.pending !== 'number') {
      throw new TypeError(`queue must be a PQueue instance; received ${check.show(queue)}`);
    }
  }

  /** The queue's concurrency. Setting it sets the queue's. */
  get concurrency(): number {
    return this.queue.concurrency;
  }

  set concurrency(value: number) {
    this.queue.concurrency = check.integerOrInfinity(value, 'concurrency', 1);
  }

  /** @internal */
  protected override startsAtOnce(): boolean {
    return this.queue.size === 0 && this.queue.pending < this.queue.concurrency;
  }

  /** @internal */
  protected override backlog(): number {
    return this.queue.size;
  }

  /** @internal */
  protected override enqueued(job: Job): void {
    // A controller for the queued phase only: aborting it makes p-queue drop the entry. Once the
    // task runs it is never aborted (p-queue would free the slot while the task still runs).
    const queued = new AbortController();
    this.withdraw.set(job, queued);
    const start = () => {
      this.withdraw.delete(job);
      return beginQueued(this, job);
    };
    this.queue.add(start, { signal: queued.signal }).then(undefined, (error: unknown) => {
      this.withdraw.delete(job);
      this.lost(job, error);
    });
  }

  /** @internal */
  protected override dropped(job: Job): void {
    this.withdraw.get(job)?.abort(WITHDRAWN);
  }
}
