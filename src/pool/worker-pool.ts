// The pool users make themselves: `concurrency` slots, a bounded FIFO line, and a serve loop that
// starts queued jobs while slots are free.
import * as check from '../core/validate.js';
import { BasePool, parkJob, serveNext } from './base.js';
import {
  type Pool,
  type PoolRunOptions,
  type PoolTask,
  WORKER_POOL_KEYS,
  type WorkerPoolOptions,
} from './contract.js';
import { DONE, Job, OwnJob } from './job.js';
import { currentPool, launchNow } from './running.js';

/**
 * Runs tasks at most `concurrency` at a time, the rest waiting in FIFO order in a bounded line.
 * Every `run()` settles: on the task's outcome, or at once on its abort, its timeout or the pool's
 * shutdown, even when the task ignores its signal. A task run by a task of the same pool runs at
 * once on its parent's slot, so parents waiting on their children never deadlock.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { WorkerPool } from 'unwedge';
 * const pool = new WorkerPool({ concurrency: 5, name: 'rss-fetch', timeout: 10_000 });
 * const request = new AbortController(); // aborted when the client goes away
 * // the task: any work that stops when its signal aborts, e.g. fetch(url, { signal })
 * const feed = await pool.run((signal) => sleep(10, '<rss/>', { signal }), { signal: request.signal });
 * console.log(feed); // → <rss/>
 * const hung = pool.run(() => new Promise(() => {})).catch((error) => error.code); // ignores its signal
 * console.log(await pool.shutdown()); // → { cancelled: 0, aborted: 1, stillRunning: 1 }
 * console.log(await hung); // → ERR_UNWEDGE_CLOSED
 * ```
 */
export class WorkerPool extends BasePool implements Pool {
  /** @internal */
  private limit: number;
  /** @internal */
  private serving = false;

  constructor(options: WorkerPoolOptions) {
    const o = check.options<WorkerPoolOptions>(options, WORKER_POOL_KEYS);
    super(o);
    this.limit = check.integer(o.concurrency, 'options.concurrency', 1);
  }

  /** How many tasks run at once. Raising it starts queued tasks at once; lowering it lets running ones finish. */
  get concurrency(): number {
    return this.limit;
  }

  set concurrency(value: number) {
    this.limit = check.integer(value, 'concurrency', 1);
    this.serve();
  }

  /**
   * Calls `task` with a signal as soon as a slot is free and every earlier task has started, and
   * settles like it. Rejects at once with a `QueueFullError` if `maxQueue` tasks already wait, and
   * with a `ClosedError` after `shutdown()`. While queued, `queueTimeout` (`TimeoutError`) or
   * `signal` (its reason) withdraws the task, which never starts. While running, `timeout` or
   * `signal` aborts the task's signal with that reason and rejects at once; the task keeps its slot
   * until it settles (see `abandoned`). Called from inside a task of this pool, the child starts at
   * once on its parent's slot. The task runs in the async context of this call (AsyncLocalStorage),
   * even when it waited in line: a queued task starts in it the moment its slot is granted, whoever
   * freed the slot.
   */
  override run<T>(task: PoolTask<T>, options?: PoolRunOptions): Promise<Awaited<T>> {
    // Hot path: no options, open, not nested. One job record and the returned promise; no timer
    // or listener. It starts now if a slot is free and nobody waits, else it parks at the back.
    const parent = this.context?.getStore(); // with asyncContext: a task of this pool, maybe settled
    if (
      options === undefined &&
      this.state === 'open' &&
      this.timeout === undefined &&
      currentPool !== this &&
      (parent === undefined || parent.state === DONE) &&
      typeof task === 'function'
    ) {
      const job = task.length === 0 ? new Job(task) : new OwnJob(task, undefined, undefined);
      if (this.used < this.limit && this.queued === 0) {
        return launchNow(this, job) as Promise<Awaited<T>>;
      }
      if (this.queued < this.maxQueue) {
        if (!this.listed) this.list();
        return parkJob(this, job) as Promise<Awaited<T>>;
      }
    }
    return this.submit(task, options) as Promise<Awaited<T>>;
  }

  /** @internal */
  protected override slotFree(): boolean {
    return this.used < this.limit && this.queued === 0;
  }

  /** @internal */
  protected override serve(): void {
    if (this.serving) return; // a task that threw synchronously finishes inside this loop
    this.serving = true;
    while (this.used < this.limit && serveNext(this)) {}
    this.serving = false;
    this.checkIdle();
  }
}
