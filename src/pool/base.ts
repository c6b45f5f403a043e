// What WorkerPool and the fronts share: option checks, nesting, admission, the running phase
// (the caller's context, the task's signal and timeout, abandonment, late failures) and the
// lifecycle (shutdown, idle). Subclasses decide when a queued job starts.
import type { AsyncLocalStorage } from 'node:async_hooks';
import { asyncDisposeSymbol } from '../core/compat.js';
import { register } from '../core/live.js';
import { recordOrigin } from '../core/origins.js';
import { failureLine, reportFailure } from '../core/report.js';
import { callerContext, contextIsFree, newStore } from '../core/task.js';
import { startTimer } from '../core/timer.js';
import {
  flags,
  now,
  type PrimitiveSnapshot,
  UNTIMED,
  type WaitLabel,
  type WaitSnapshot,
} from '../core/track.js';
import * as check from '../core/validate.js';
import { disarm, fail, ONCE, park, settle, Waiter, type WaitHost } from '../core/wait.js';
import { WaiterList } from '../core/waiters.js';
import { ClosedError, QueueFullError, TimeoutError } from '../errors.js';
import {
  IDLE_KEYS,
  type PoolIdleOptions,
  type PoolOptions,
  type PoolRunOptions,
  type PoolShutdownOptions,
  type PoolShutdownReport,
  type PoolTask,
  RUN_KEYS,
  SHUTDOWN_KEYS,
} from './contract.js';
import { ABANDONED, DONE, Job, noop, OwnJob, QUEUED, RUNNING } from './job.js';

type Lifecycle = 'open' | 'draining' | 'closed';
/** `idle()` and `shutdown()` waits: `drain` is undefined for `idle()`. */
class Watcher extends Waiter<void> {
  cancelled = 0;
  aborted = 0;
  stillRunning = 0;
  constructor(
    readonly timeout: number | undefined,
    readonly drain: boolean | undefined,
  ) {
    super();
  }
}

// The job whose task is running synchronously right now, and its pool: a run() made in that window
// is the task's child (the common `Promise.all(items.map((i) => pool.run(...)))` at its top).
let current: Job | undefined;
/** @internal */
export let currentPool: BasePool | undefined;
// new Promise(capture) hands its resolvers to `capturing` without a closure per run().
let capturing: Job;
function capture(resolve: (value: unknown) => void): void {
  capturing.resolve = resolve;
}

// The only ways to take a slot for a queued job (see BasePool's static block).
/** @internal */
export let grantSlot: (pool: BasePool, job: Job) => void;
/** @internal */
export let launchNow: (pool: BasePool, job: Job) => Promise<unknown>;
/** @internal */
export let parkJob: (pool: BasePool, job: Job) => Promise<unknown>;
/** @internal For the fronts: the peer starts a queued job now; fulfils when its peer slot is free. */
export let beginQueued: (pool: BasePool, job: Job) => Promise<void> | undefined;

// When each running job started (on the inspector's clock), recorded only while timing is on: kept
// out of Job so that a queued task stays small.
const startedAt = new WeakMap<Job, number>();

/**
 * @internal What {@link WorkerPool} and the fronts share: option checks, nesting, the running
 * phase (signal, timeout, abandonment), `shutdown` and `idle`. Subclasses decide when a queued
 * job starts.
 */
export abstract class BasePool implements WaitHost<Job> {
  /** The name given in the options, if any. */
  readonly name: string | undefined;
  /** @internal Jobs waiting for a slot, oldest first. */
  readonly waiters = new WaiterList<Job>();
  /** @internal Jobs started and not settled (abandoned ones included). */
  protected readonly running = new WaiterList<Job>();
  protected state: Lifecycle = 'open';
  /** Slots in use. */
  protected used = 0;
  protected readonly maxQueue: number;
  protected readonly timeout: number | undefined;
  private abandonedJobs = 0;
  /** The signal of every task that has no abort source of its own but shutdown (see `start`). */
  private shared: AbortController | undefined;
  /** Parents with unsettled children → how many: their slot is freed when the last one settles. */
  private family: Map<Job, number> | undefined;
  /** Task signal → job, to recognise a child submitted with its parent's signal. */
  private readonly owners = new WeakMap<AbortSignal, Job>();
  protected readonly context: AsyncLocalStorage<Job> | undefined;
  private readonly onError: ((error: unknown) => void) | undefined;
  private readonly watchers: WaitHost<Watcher> & { name: string | undefined };
  /** Whether `inspect()` knows it: a named one from the start, any other from its first task or wait. */
  protected listed: boolean;

  constructor(options: PoolOptions) {
    this.name = check.string(options.name, 'options.name');
    this.maxQueue =
      options.maxQueue === undefined
        ? 1024
        : check.integerOrInfinity(options.maxQueue, 'options.maxQueue', 0);
    this.timeout = check.timeout(options.timeout, 'options.timeout');
    // A default run timeout of 0 would reject every run() that does not override it (and 0 means
    // "no limit" in some libraries): refuse it here rather than on every call.
    if (this.timeout === 0)
      throw new RangeError('options.timeout must be a number of milliseconds > 0; received 0');
    this.context =
      (check.boolean(options.asyncContext, 'options.asyncContext') ?? contextIsFree)
        ? newStore<Job>()
        : undefined;
    this.onError =
      options.onError === undefined
        ? undefined
        : check.func<(error: unknown) => void>(options.onError, 'options.onError');
    this.watchers = {
      waiters: new WaiterList<Watcher>(),
      timeoutError: (w) => this.idleTimeoutError(w.timeout),
      onLeave: (w) => this.watcherLeft(w),
      // Not a closure: a third one per pool made `new WorkerPool()` 35 % slower.
      name: this.name,
      describeWait: describeWatcher,
    };
    this.listed = this.name !== undefined;
    if (this.listed) register(this, BasePool.snapshot);
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
    register(this, BasePool.snapshot);
  }

  /** What `inspect()` shows: slots and their use, and each running task, queued task and watcher. */
  private static snapshot(p: BasePool): PrimitiveSnapshot {
    const waits: WaitSnapshot[] = [];
    for (const job of p.running) {
      const state = job.state === ABANDONED ? 'abandoned' : 'running';
      const timeout = job instanceof OwnJob ? job.timeout : undefined;
      waits.push({ key: job, what: 'task', since: startedAt.get(job) ?? UNTIMED, timeout, state });
    }
    for (const job of p.waiters) {
      const timeout = job instanceof OwnJob ? job.queueTimeout : undefined;
      waits.push({ key: job, what: 'run (queued)', since: job.since, timeout });
    }
    for (const w of p.watchers.waiters) {
      waits.push({ key: w, what: watcherWhat(w), since: w.since, timeout: w.timeout });
    }
    const abandoned = p.abandonedJobs > 0 ? ` (${p.abandonedJobs} abandoned)` : '';
    const closed = p.state === 'open' ? '' : `, ${p.state}`;
    return {
      kind: 'pool',
      name: p.name,
      summary: `${p.load}${abandoned}, maxQueue ${p.maxQueue}${closed}`,
      stats: {
        concurrency: p.concurrency,
        active: p.used,
        queued: p.waiters.length,
        maxQueue: p.maxQueue,
        abandoned: p.abandonedJobs,
        state: p.state,
      },
      waits,
    };
  }

  /** @internal How a queued task is named in diagnostics_channel messages. */
  describeWait(job: Job): WaitLabel {
    const timeout = job instanceof OwnJob ? job.queueTimeout : undefined;
    return { kind: 'pool', name: this.name, what: 'run (queued)', timeout };
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
    return this.waiters.length;
  }

  /** Started tasks whose `run()` already rejected (abort, timeout, shutdown) but that have not settled. */
  get abandoned(): number {
    return this.abandonedJobs;
  }

  /** Whether `shutdown()` was called: `run()` accepts no new task. */
  get closed(): boolean {
    return this.state !== 'open';
  }

  /** @internal Slow path of `run()`: options, nesting, lifecycle, then start, queue or refuse. */
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
    if (parent !== undefined && signal === undefined)
      signal = parent instanceof OwnJob ? parent.controller!.signal : this.shared!.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    switch (this.state) {
      case 'open':
        break;
      case 'draining':
        // Work already running may still fan out while the pool drains.
        if (parent === undefined) return Promise.reject(this.closedError('is shutting down'));
        break;
      case 'closed':
        return Promise.reject(this.closedError('is shut down'));
      default:
        return unreachable(this.state);
    }
    if (timeout === 0) return Promise.reject(this.runTimeoutError(0));
    if (parent !== undefined) {
      // Seed 004: a parent waiting on children queued behind it deadlocks once every slot is a
      // parent. A child runs at once on its parent's slot instead, which stays held until both settle.
      const root = (parent instanceof OwnJob ? parent.root : undefined) ?? parent;
      const child = new OwnJob(task, timeout, undefined);
      child.root = root;
      this.family ??= new Map();
      this.family.set(root, (this.family.get(root) ?? 0) + 1);
      return this.#launch(child, signal);
    }
    if (this.slotFree()) {
      this.used++;
      return this.#launch(
        signal === undefined && timeout === undefined && task.length === 0
          ? new Job(task)
          : new OwnJob(task, timeout, undefined),
        signal,
      );
    }
    if (this.backlog() >= this.maxQueue) return Promise.reject(this.queueFullError());
    if (queueTimeout === 0) {
      if (!this.startsAtOnce()) return Promise.reject(this.queueTimeoutError(0));
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
   * Puts `job` in line and returns its caller's promise. The caller's async context is kept with
   * the job, and the task starts in it (see `#grant`), whoever frees the slot.
   */
  #park(job: Job, signal: AbortSignal | undefined, queueTimeout: number | undefined): Promise<unknown> {
    job.context = callerContext();
    return park<unknown, Job>(this, job, signal, queueTimeout);
  }

  /** Gives a queued job, already out of line, its slot, and starts it in its caller's context. */
  #grant(job: Job): Promise<void> | undefined {
    disarm(job);
    this.used++;
    const context = job.context!;
    job.context = undefined;
    return context.runInAsyncScope(this.#start, this, job);
  }

  // Slots are taken and given back only here and through these module functions, never through a
  // method reachable at runtime: a `pool.release()` once let a pool of 1 run 3 tasks at once.
  static {
    grantSlot = (pool, job) => pool.#grant(job);
    beginQueued = (pool, job) => pool.#begin(job);
    launchNow = (pool, job) => pool.#launch(job, undefined);
    parkJob = (pool, job) => pool.#park(job, undefined, undefined);
  }

  /** @internal Starts `job` on a slot already counted; returns the promise `run()` hands out. */
  #launch(job: Job, signal: AbortSignal | undefined): Promise<unknown> {
    if (flags.origins) recordOrigin(job);
    job.signal = signal;
    capturing = job;
    const promise = new Promise(capture);
    this.#start(job);
    return promise;
  }

  /**
   * @internal Calls the task. An {@link OwnJob}'s signal is its own controller's; a plain job's is
   * the pool's shared signal, which aborts exactly when its own would (only shutdown can abort it,
   * with the same reason). Creating an AbortSignal costs more than the rest of a run() on Node 20
   * (measured in bench/pool.ts), and a task that declares no parameter cannot add listeners to the
   * shared signal that would outlive it.
   */
  #start(job: Job): Promise<void> | undefined {
    const fn = job.fn;
    job.state = RUNNING;
    this.running.push(job);
    if (!this.listed && flags.timing) this.list();
    if (flags.timing) startedAt.set(job, now());
    let signal: AbortSignal;
    if (job instanceof OwnJob) {
      const controller = new AbortController();
      job.controller = controller;
      signal = controller.signal;
      this.owners.set(signal, job);
      const user = job.signal;
      if (user !== undefined) {
        job.onAbort = () => this.abandon(job, user.reason);
        user.addEventListener('abort', job.onAbort, ONCE);
      }
      const ms = job.timeout;
      if (ms !== undefined) job.timer = startTimer(() => this.abandon(job, this.runTimeoutError(ms)), ms);
    } else {
      this.shared ??= new AbortController();
      signal = this.shared.signal;
    }
    const outerJob = current;
    const outerPool = currentPool;
    current = job;
    currentPool = this;
    let result: unknown;
    try {
      result = this.context === undefined ? fn(signal) : this.context.run(job, fn, signal);
    } catch (error) {
      current = outerJob;
      currentPool = outerPool;
      this.#finish(job, error, false);
      return undefined;
    }
    current = outerJob;
    currentPool = outerPool;
    return Promise.resolve(result).then(
      (value) => this.#finish(job, value, true),
      (error: unknown) => this.#finish(job, error, false),
    );
  }

  /** The running job a `run()` made here belongs to, if any: by call stack, context or signal. */
  private parentHere(signal: AbortSignal | undefined): Job | undefined {
    let job = currentPool === this ? current : this.context?.getStore();
    if (job === undefined && signal !== undefined) {
      job = signal === this.shared?.signal ? this.running.head : this.owners.get(signal);
    }
    return job !== undefined && (job.state === RUNNING || job.state === ABANDONED) ? job : undefined;
  }

  /** Ends the caller's wait for a running job: aborts its signal and rejects its `run()`. */
  private abandon(job: Job, reason: unknown): void {
    if (job.state !== RUNNING) return;
    job.state = ABANDONED;
    this.abandonedJobs++;
    this.list();
    disarm(job);
    if (job instanceof OwnJob) job.controller?.abort(reason);
    job.reject(reason);
  }

  /** The task settled: settle its `run()` (unless abandoned) and free its slot if nothing else holds it. */
  #finish(job: Job, outcome: unknown, ok: boolean): void {
    this.running.remove(job);
    if (job.state === RUNNING) {
      job.state = DONE;
      disarm(job);
      if (ok) job.resolve(outcome);
      else job.reject(outcome);
    } else {
      job.state = DONE;
      this.abandonedJobs--;
      if (!ok && !this.expected(job, outcome)) this.report(outcome);
    }
    const root = job instanceof OwnJob ? job.root : undefined;
    if (root !== undefined) {
      // The last child of a settled parent frees the parent's slot.
      const left = this.family!.get(root)! - 1;
      if (left > 0) this.family!.set(root, left);
      else if (this.family!.delete(root) && root.state === DONE) this.#freeSlot();
    } else if (this.family === undefined || !this.family.has(job)) {
      this.#freeSlot();
    }
  }

  /** Whether an abandoned task's failure is just its abort coming back. */
  private expected(job: Job, error: unknown): boolean {
    const signal = job instanceof OwnJob ? job.controller?.signal : this.shared?.signal;
    return error === signal?.reason || (error instanceof Error && error.name === 'AbortError');
  }

  private report(error: unknown): void {
    const onError = this.onError;
    reportFailure(
      { kind: 'pool', name: this.name, task: undefined, who: this.label },
      error,
      onError === undefined ? undefined : () => onError(error),
      () => failureLine(`${this.label} task failed after its run() ended`, error),
    );
  }

  /** A slot was freed. */
  #freeSlot(): void {
    this.used--;
    this.serve();
  }

  /** @internal Starts what may start now; the base only notices when the pool went idle. */
  protected serve(): void {
    this.checkIdle();
  }

  /** Whether nothing is queued or running (abandoned tasks included). */
  private get isIdle(): boolean {
    return this.waiters.length === 0 && this.running.length === 0;
  }

  protected checkIdle(): void {
    if (!this.isIdle) return;
    if (this.state === 'draining') this.state = 'closed';
    const watchers = this.watchers.waiters;
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
    return this.waiters.length;
  }

  /** @internal `job` was just parked in `waiters`. */
  protected enqueued(_job: Job): void {}

  /** @internal `job` left the line without starting (abort, timeout, shutdown). */
  protected dropped(_job: Job): void {}

  /** @internal A queued job left the line on its own abort or timeout. */
  onLeave(job: Job): void {
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
    if (job.state !== QUEUED || !this.waiters.remove(job)) return undefined;
    return this.#grant(job);
  }

  /** @internal The peer gave up a job it never started (e.g. its queue was cleared with rejection). */
  protected lost(job: Job, error: unknown): void {
    if (job.state !== QUEUED || !this.waiters.remove(job)) return;
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
      const o = check.options<PoolShutdownOptions>(options, SHUTDOWN_KEYS);
      drain = check.boolean(o.drain, 'options.drain') ?? false;
      timeout = o.timeout === undefined ? (drain ? 10_000 : 0) : check.timeout(o.timeout, 'options.timeout');
    } catch (error) {
      return Promise.reject(error);
    }
    if (timeout === 0) drain = false; // a drain with no time for it is the default path
    const w = new Watcher(timeout, drain);
    switch (this.state) {
      case 'open':
        if (drain) this.state = 'draining';
        else this.stop(w);
        break;
      case 'draining':
        if (!drain) this.stop(w);
        break;
      case 'closed':
        break;
      default:
        unreachable(this.state);
    }
    this.checkIdle();
    if (this.isIdle) return Promise.resolve(reportOf(w));
    if (timeout === 0) {
      w.stillRunning = this.running.length;
      return Promise.resolve(reportOf(w));
    }
    const done = (): PoolShutdownReport => reportOf(w);
    this.list();
    return park<void, Watcher>(this.watchers, w, undefined, timeout).then(done, done);
  }

  /** Calls `shutdown()`, so that `await using pool = new WorkerPool(...)` works. */
  [asyncDisposeSymbol](): Promise<void> {
    return this.shutdown().then(noop);
  }

  /** The default shutdown path: reject the queued, abort the running; counts into `w`. */
  private stop(w: Watcher): void {
    this.state = 'closed';
    const queued = this.waiters.drain();
    for (const job of queued) {
      job.state = DONE;
      fail(job, this.closedError('was shut down before the task started'));
      this.dropped(job);
    }
    const running: Job[] = [];
    for (const job of this.running) if (job.state === RUNNING) running.push(job);
    const reason = this.closedError('was shut down while the task ran');
    this.shared?.abort(reason);
    for (const job of running) this.abandon(job, reason);
    w.cancelled += queued.length;
    w.aborted += running.length;
  }

  /** A shutdown wait ran out of time: a drain turns into the default path. */
  private watcherLeft(w: Watcher): void {
    if (w.drain === undefined) return;
    if (w.drain) this.stop(w);
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
      const o = check.options<PoolIdleOptions>(options, IDLE_KEYS);
      signal = check.signal(o.signal, 'options.signal');
      timeout = check.timeout(o.timeout, 'options.timeout');
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.isIdle) return Promise.resolve();
    if (timeout === 0) return Promise.reject(this.idleTimeoutError(0));
    this.list();
    return park<void, Watcher>(this.watchers, new Watcher(timeout, undefined), signal, timeout);
  }

  protected get label(): string {
    return this.name === undefined ? 'pool' : `pool ${JSON.stringify(this.name)}`;
  }

  private get load(): string {
    return `${this.concurrency} slots, ${this.used} in use, ${this.waiters.length} waiting`;
  }

  /** @internal */
  timeoutError(job: Job): TimeoutError {
    return this.queueTimeoutError(job instanceof OwnJob ? job.queueTimeout : undefined);
  }

  private queueTimeoutError(ms: number | undefined): TimeoutError {
    return new TimeoutError(`${this.label} gave no slot within ${ms} ms (${this.load})`);
  }

  private runTimeoutError(ms: number): TimeoutError {
    return new TimeoutError(`${this.label} task ran longer than its timeout of ${ms} ms`);
  }

  private idleTimeoutError(ms: number | undefined): TimeoutError {
    return new TimeoutError(
      `${this.label} was not idle within ${ms} ms (${this.running.length} running, ${this.waiters.length} queued)`,
    );
  }

  private queueFullError(): QueueFullError {
    return new QueueFullError(`${this.label} queue is full (maxQueue ${this.maxQueue}; ${this.load})`);
  }

  private closedError(what: string): ClosedError {
    return new ClosedError(`${this.label} ${what}`);
  }
}

function describeWatcher(this: { name: string | undefined }, w: Watcher): WaitLabel {
  return { kind: 'pool', name: this.name, what: watcherWhat(w), timeout: w.timeout };
}

function watcherWhat(w: Watcher): string {
  return w.drain === undefined ? 'idle' : w.drain ? 'shutdown (drain)' : 'shutdown';
}

function reportOf(w: Watcher): PoolShutdownReport {
  return { cancelled: w.cancelled, aborted: w.aborted, stillRunning: w.stillRunning };
}

function unreachable(state: never): never {
  throw new Error(`unreachable lifecycle state ${String(state)}`);
}
