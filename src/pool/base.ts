// What WorkerPool and the fronts share, above the running phase (running.ts): option checks,
// admission (the line of queued jobs, maxQueue, queueTimeout, nesting) and the lifecycle
// (shutdown, idle). Subclasses decide when a queued job starts.
import { publishRefused } from '../core/channels.js';
import { asyncDisposeSymbol } from '../core/compat.js';
import { count } from '../core/count.js';
import { register } from '../core/live.js';
import { unreachable } from '../core/never.js';
import type { Sample } from '../core/sample.js';
import { callerContext, contextIsFree, newStore } from '../core/task.js';
import type { Described } from '../core/track.js';
import * as check from '../core/validate.js';
import { fail, liveHead, park, settle, type WaitHost } from '../core/wait.js';
import { WaiterList } from '../core/waiters.js';
import { ClosedError, QueueFullError, TimeoutError } from '../errors.js';
import {
  checkIdleOptions,
  checkPoolOptions,
  checkShutdownOptions,
  type PoolIdleOptions,
  type PoolOptions,
  type PoolRunOptions,
  type PoolShutdownOptions,
  type PoolShutdownReport,
  type PoolTask,
  RUN_KEYS,
} from './contract.js';
import { describeIdleWaiter, IdleWaiter, reportOf } from './idle.js';
import { DONE, Job, noop, OwnJob, QUEUED } from './job.js';
import { JobLine, lineHooks } from './line.js';
import { abandonAll, grantSlot, launchChild, launchNow, TaskRunner } from './running.js';
import { poolSnapshot } from './snapshot.js';

type Lifecycle = 'open' | 'draining' | 'closed';

// Queued jobs enter the line and leave it for a slot only through these (see BasePool's static block).
/** @internal */
export let parkJob: (pool: BasePool, job: Job) => Promise<unknown>;
/** @internal Starts the first live job in line on a new slot; false when nobody waits. */
export let serveNext: (pool: BasePool) => boolean;
/** @internal For the fronts: the peer starts a queued job now; fulfils when its peer slot is free. */
export let beginQueued: (pool: BasePool, job: Job) => Promise<void> | undefined;
/** @internal Lists `pool` in `inspect()` now (for a Lifecycle, which names what it leaves running). */
export let listPool: (pool: BasePool) => void;

/**
 * What {@link WorkerPool} and the fronts share above the running phase: option checks, admission
 * (the line, `maxQueue`, `queueTimeout`, nesting), `shutdown` and `idle`. Subclasses decide when a
 * queued job starts. Not exported: the shipped declarations show it only as the base of
 * `WorkerPool`, `LimitPool` and `PQueuePool`, with its public members (its hooks are internal).
 */
export abstract class BasePool extends TaskRunner {
  /** Jobs waiting for a slot, oldest first. */
  readonly #waiters = new WaiterList<Job>();
  readonly #line: JobLine;
  /** @internal */
  protected state: Lifecycle = 'open';
  /** @internal */
  protected readonly maxQueue: number;
  /** @internal */
  protected readonly timeout: number | undefined;
  readonly #watchers: WaitHost<IdleWaiter> & { name: string | undefined };

  constructor(options: PoolOptions) {
    const { name, maxQueue, timeout, asyncContext, onError } = checkPoolOptions(options);
    const context = (asyncContext ?? contextIsFree) ? newStore<Job>() : undefined;
    super(name, context, onError);
    this.maxQueue = maxQueue;
    this.timeout = timeout;
    this.#line = new JobLine(this, this.#waiters);
    this.#watchers = {
      waiters: new WaiterList<IdleWaiter>(),
      timeoutError: (w) => this.#idleTimeoutError(w.timeout),
      onLeave: (w) => this.#watcherLeft(w),
      // Not a closure: a third one per pool made `new WorkerPool()` 35 % slower.
      name: this.name,
      describeWait: describeIdleWaiter,
    };
    this.listed = this.name !== undefined;
    if (this.listed) register(this, BasePool.#snapshot);
  }

  // As for Semaphore: a WeakRef makes the young-generation GC keep its target, which made `new
  // WorkerPool()` ~8x slower (1.3 -> 9.9 µs) for one made and dropped per request, and one made
  // per request and given a task 2.1x slower (7.6 -> 16.1 µs). So an unnamed pool is listed at
  // its first task only while the process is inspected (a stall watcher, a signal dump, a handler,
  // origins or recordAges: `flags.timing`), so that a hung task shows even in a pool that was never
  // full; otherwise at its first wait (a queued run, idle, shutdown) or abandoned task.
  /** @internal Lists this pool in `inspect()`, once. */
  protected list(): void {
    if (this.listed) return;
    this.listed = true;
    register(this, BasePool.#snapshot);
  }

  /** What `inspect()` shows: slots and their use, and each running task, queued task and watcher. */
  static #snapshot(p: BasePool, sample: Sample): Described {
    return poolSnapshot(
      {
        name: p.name,
        concurrency: p.concurrency,
        used: p.used,
        maxQueue: p.maxQueue,
        abandoned: p.abandonedJobs,
        state: p.state,
        load: p.#load,
        running: p.running,
        queued: p.#waiters,
        queuedCount: p.#waiters.length,
        watchers: p.#watchers.waiters,
      },
      sample,
    );
  }

  /** How many tasks run at once. */
  abstract get concurrency(): number;
  abstract set concurrency(value: number);

  /** Slots in use: tasks started and not yet settled, abandoned ones included. */
  get active(): number {
    return this.used;
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.#waiters.length;
  }

  /** Started tasks whose `run()` already rejected (abort, timeout, shutdown) but that have not settled. */
  get abandoned(): number {
    return this.abandonedJobs;
  }

  /** Whether `shutdown()` was called: `run()` accepts no new task. */
  get closed(): boolean {
    return this.state !== 'open';
  }

  /**
   * @internal Slow path of `run()`: options, nesting, lifecycle, then start, queue or refuse. The
   * caller's `signal` and `timeout` go from here as arguments to the running phase: at once to
   * `launchNow` or `launchChild`, or with the job parked in line, to `grantSlot`.
   */
  protected submit(task: PoolTask<unknown>, options: PoolRunOptions | undefined): Promise<unknown> {
    let signal: AbortSignal | undefined;
    let timeout = this.timeout;
    let queueTimeout: number | undefined;
    try {
      check.func(task, 'task');
      if (options !== undefined) {
        const o = check.options<PoolRunOptions>(options, RUN_KEYS);
        signal = check.signal(o.signal, 'options.signal');
        if (o.timeout !== undefined) timeout = check.timeout(o.timeout, 'options.timeout');
        queueTimeout = check.timeout(o.queueTimeout, 'options.queueTimeout');
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const parent = this.parentHere(signal);
    // A child without a signal of its own follows its parent's: it stops when the parent is aborted.
    if (parent !== undefined && signal === undefined) signal = this.taskSignal(parent);
    if (signal?.aborted) return Promise.reject(signal.reason);
    switch (this.state) {
      case 'open':
        break;
      case 'draining':
        // Work already running may still fan out while the pool drains.
        if (parent === undefined) return this.#refuse(new ClosedError(`${this.label} is shutting down`));
        break;
      case 'closed':
        return this.#refuse(new ClosedError(`${this.label} is shut down`));
      default:
        return unreachable(this.state);
    }
    if (timeout === 0) return Promise.reject(this.runTimeoutError(0));
    // Seed 004: a parent waiting on children queued behind it deadlocks once every slot is a
    // parent. A child runs at once on its parent's slot instead, which stays held until both settle.
    if (parent !== undefined) return launchChild(this, parent, task, signal, timeout);
    if (this.slotFree()) {
      const job =
        signal === undefined && timeout === undefined && task.length === 0
          ? new Job(task)
          : new OwnJob(task, timeout, undefined);
      return launchNow(this, job, signal, timeout);
    }
    if (this.backlog() >= this.maxQueue) return this.#refuse(this.#queueFullError());
    if (queueTimeout === 0) {
      if (!this.startsAtOnce()) return Promise.reject(this.#queueTimeoutError(0, false));
      queueTimeout = undefined;
    }
    const job =
      signal === undefined && timeout === undefined && queueTimeout === undefined && task.length === 0
        ? new Job(task)
        : new OwnJob(task, timeout, queueTimeout);
    this.list();
    const promise = this.#park(job, signal, queueTimeout);
    this.enqueued(job);
    return promise;
  }

  /**
   * Puts `job` in line and returns its caller's promise. While it waits, `signal` and `queueTimeout`
   * bound its wait; the job keeps them (and its run `timeout`) until `grantSlot` starts it, in its
   * caller's async context, whoever frees the slot.
   */
  #park(job: Job, signal: AbortSignal | undefined, queueTimeout: number | undefined): Promise<unknown> {
    job.context = callerContext();
    return park<unknown, Job>(this.#line, job, signal, queueTimeout);
  }

  // Queued jobs leave the line for a slot only through these module functions, never through a
  // method reachable at runtime (see running.ts).
  static {
    beginQueued = (pool, job) => pool.#begin(job);
    listPool = (pool) => pool.list();
    parkJob = (pool, job) => pool.#park(job, undefined, undefined);
    serveNext = (pool) => {
      const job = liveHead(pool.#waiters);
      if (job === undefined) return false;
      pool.#waiters.shift();
      grantSlot(pool, job);
      return true;
    };
    lineHooks.queueTimeoutError = (pool, ms) => (pool as BasePool).#queueTimeoutError(ms, true);
    lineHooks.leftLine = (pool, job) => (pool as BasePool).#leftLine(job);
  }

  /** @internal Starts what may start now; the base only notices when the pool went idle. */
  protected serve(): void {
    this.checkIdle();
  }

  /** Whether nothing is queued or running (abandoned tasks included). */
  get #isIdle(): boolean {
    return this.#waiters.length === 0 && this.running.length === 0;
  }

  /** @internal */
  protected checkIdle(): void {
    if (!this.#isIdle) return;
    if (this.state === 'draining') this.state = 'closed';
    const watchers = this.#watchers.waiters;
    if (watchers.length > 0) for (const w of watchers.drain()) settle(w, undefined);
  }

  /**
   * As `WorkerPool.run`, with the wait for a slot spent in the peer a front wraps (p-queue's queue,
   * p-limit's limiter), where its other users keep sharing the limit.
   */
  run<T>(task: PoolTask<T>, options?: PoolRunOptions): Promise<Awaited<T>> {
    return this.submit(task, options) as Promise<Awaited<T>>;
  }

  /** @internal Whether a new top-level job may start now, ahead of nobody; in a front, the peer decides. */
  protected slotFree(): boolean {
    return false;
  }

  /** @internal Whether a job handed to the peer now would start at once (for `queueTimeout: 0`). */
  protected startsAtOnce(): boolean {
    return false;
  }

  /** @internal How many jobs wait, for `maxQueue`. */
  protected backlog(): number {
    return this.#waiters.length;
  }

  /** @internal `job` was just parked in line. */
  protected enqueued(_job: Job): void {}

  /** @internal `job` left the line without starting (abort, timeout, shutdown). */
  protected dropped(_job: Job): void {}

  /** A queued job left the line on its own abort or timeout. */
  #leftLine(job: Job): void {
    if (job.linked || job.state !== QUEUED) return; // still in line, or not a queued job: not ours to end
    job.state = DONE;
    this.dropped(job);
    this.serve();
  }

  /**
   * Takes a queued job out of line and starts it on a slot, if it is still queued. Returns a
   * promise that fulfils when the task has settled, so that a peer holds its slot until then.
   */
  #begin(job: Job): Promise<void> | undefined {
    if (job.state !== QUEUED || !this.#waiters.remove(job)) return undefined;
    return grantSlot(this, job);
  }

  /** @internal The peer gave up a job it never started (e.g. its queue was cleared with rejection). */
  protected lost(job: Job, error: unknown): void {
    if (job.state !== QUEUED || !this.#waiters.remove(job)) return;
    job.state = DONE;
    fail(job, error);
    this.serve();
  }

  /**
   * Stops accepting tasks, synchronously, then ends them. Without `drain`, every queued task's
   * `run()` rejects with a `ClosedError`, and every running task's signal aborts with a
   * `ClosedError` and its `run()` rejects with it, all before this returns. With `drain`, queued
   * tasks still run until `timeout` elapses, then the same happens. Resolves when every task the
   * pool started has settled or when `timeout` ms have passed, whichever comes first (default 0
   * without `drain`, so it returns at once; 10,000 with `drain`). Never rejects but on bad options;
   * a second call is safe (a call without `drain` during a drain cancels at once).
   */
  shutdown(options?: PoolShutdownOptions): Promise<PoolShutdownReport> {
    let drain: boolean;
    let timeout: number | undefined;
    try {
      ({ drain, timeout } = checkShutdownOptions(options));
    } catch (error) {
      return Promise.reject(error);
    }
    if (timeout === 0) drain = false; // a drain with no time for it is the default path
    const w = new IdleWaiter(timeout, drain);
    switch (this.state) {
      case 'open':
        if (drain) this.state = 'draining';
        else this.#stop(w);
        break;
      case 'draining':
        if (!drain) this.#stop(w);
        break;
      case 'closed':
        break;
      default:
        unreachable(this.state);
    }
    this.checkIdle();
    if (this.#isIdle) return Promise.resolve(reportOf(w));
    if (timeout === 0) {
      w.stillRunning = this.running.length;
      return Promise.resolve(reportOf(w));
    }
    const done = (): PoolShutdownReport => reportOf(w);
    this.list();
    return park<void, IdleWaiter>(this.#watchers, w, undefined, timeout).then(done, done);
  }

  /** Calls `shutdown()`, so that `await using pool = new WorkerPool(...)` works. */
  [asyncDisposeSymbol](): Promise<void> {
    return this.shutdown().then(noop);
  }

  /** The default shutdown path: reject the queued, abort the running; counts into `w`. */
  #stop(w: IdleWaiter): void {
    this.state = 'closed';
    const queued = this.#waiters.drain();
    for (const job of queued) {
      job.state = DONE;
      fail(job, new ClosedError(`${this.label} was shut down before the task started`));
      this.dropped(job);
    }
    w.cancelled += queued.length;
    w.aborted += abandonAll(this, new ClosedError(`${this.label} was shut down while the task ran`));
  }

  /** A shutdown wait ran out of time: a drain turns into the default path. */
  #watcherLeft(w: IdleWaiter): void {
    if (w.drain === undefined) return;
    if (w.drain) this.#stop(w);
    w.stillRunning = this.running.length;
  }

  /**
   * Waits until nothing is queued or running (abandoned tasks included); resolves at once if that
   * is already so. The wait ends early with a `TimeoutError` after `timeout` ms, or with exactly
   * `signal.reason` when `signal` aborts.
   */
  idle(options?: PoolIdleOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    let timeout: number | undefined;
    try {
      ({ signal, timeout } = checkIdleOptions(options));
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#isIdle) return Promise.resolve();
    if (timeout === 0) return Promise.reject(this.#idleTimeoutError(0));
    this.list();
    return park<void, IdleWaiter>(this.#watchers, new IdleWaiter(timeout, undefined), signal, timeout);
  }

  get #load(): string {
    return `${count(this.concurrency, 'slot')}, ${this.used} in use, ${this.#waiters.length} waiting`;
  }

  /** `parked`: the job is still in line (its queueTimeout fired), so the waiters named are the others. */
  #queueTimeoutError(ms: number | undefined, parked: boolean): TimeoutError {
    const others = count(this.#waiters.length - (parked ? 1 : 0), 'other');
    const load = `${count(this.concurrency, 'slot')}, ${this.used} in use, ${others} waiting`;
    return new TimeoutError(`${this.label} gave no slot within ${ms} ms (${load})`);
  }

  #idleTimeoutError(ms: number | undefined): TimeoutError {
    return new TimeoutError(
      `${this.label} was not idle within ${ms} ms (${this.running.length} running, ${this.#waiters.length} queued)`,
    );
  }

  /** A run() refused without waiting (closed, or its line full): told to `unwedge:refused`. */
  #refuse(error: Error): Promise<never> {
    return Promise.reject(publishRefused('pool', this.name, 'run', error));
  }

  #queueFullError(): QueueFullError {
    return new QueueFullError(`${this.label} queue is full (maxQueue ${this.maxQueue}; ${this.#load})`);
  }
}
