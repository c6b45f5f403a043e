// The running phase of a pool's tasks, under the rules of core/task.ts. A job enters it at once
// (`launchNow`), from the line (`grantSlot`) or on its parent's slot (`launchChild`); each way, its
// task is called with the signal and timeout its caller gave, passed along as arguments, in its
// caller's async context. The caller's signal, the timeout or the pool's shutdown abandons the
// job: its `run()` rejects at once, its signal aborts, and it keeps its slot until the task really
// settles. A failure nobody awaits any more is reported. A task's own `run()`s (nesting, seed 004)
// run on its slot, counted here too.
import type { AsyncLocalStorage } from 'node:async_hooks';
import { isAbortOf, onAbort } from '../core/abort.js';
import { runTrace, traceRun } from '../core/channels.js';
import { recordOrigin } from '../core/origins.js';
import { failureLine, reportFailure } from '../core/report.js';
import { startTimer } from '../core/timer.js';
import { flags, now } from '../core/track.js';
import { disarm } from '../core/wait.js';
import { WaiterList } from '../core/waiters.js';
import { TimeoutError } from '../errors.js';
import type { PoolTask } from './contract.js';
import { ABANDONED, DONE, type Job, OwnJob, RUNNING } from './job.js';

// The job whose task is running synchronously right now, and its pool: a run() made in that window
// is the task's child (the common `Promise.all(items.map((i) => pool.run(...)))` at its top).
let current: Job | undefined;
/** @internal */
export let currentPool: TaskRunner | undefined;
// new Promise(capture) hands its resolvers to `capturing` without a closure per run().
let capturing: Job;
function capture(resolve: (value: unknown) => void): void {
  capturing.resolve = resolve;
}

/**
 * @internal When each running job started (on the inspector's clock), recorded only while timing
 * is on: kept out of Job so that a queued task stays small.
 */
export const startedAt = new WeakMap<Job, number>();

// Slots are taken, and running jobs ended early, only through these module functions (assigned in
// TaskRunner's static block), never through a method reachable at runtime: a `pool.release()` once
// let a pool of 1 run 3 tasks at once.
/** @internal Takes a slot for `job` and starts it; returns the promise its `run()` hands out. */
export let launchNow: (
  pool: TaskRunner,
  job: Job,
  signal?: AbortSignal,
  timeout?: number,
) => Promise<unknown>;
/** @internal Starts a queued job, already out of line, on a new slot, in its caller's context. */
export let grantSlot: (pool: TaskRunner, job: Job) => Promise<void> | undefined;
/** @internal Starts a child of `parent` at once on its parent's slot (seed 004). */
export let launchChild: (
  pool: TaskRunner,
  parent: Job,
  task: PoolTask<unknown>,
  signal: AbortSignal | undefined,
  timeout: number | undefined,
) => Promise<unknown>;
/** @internal Abandons every running job with `reason` (shutdown); returns how many. */
export let abandonAll: (pool: TaskRunner, reason: unknown) => number;

/**
 * The running phase every pool shares: the slots in use, the jobs that hold them, their signals
 * and timeouts, abandonment, and nesting. Subclasses add admission (who waits, who starts next)
 * and the lifecycle. Not exported: the shipped declarations show it only as a base of the pools,
 * with its public members (its hooks are internal, left out of them).
 */
export abstract class TaskRunner {
  /** The name given in the options, if any. */
  readonly name: string | undefined;
  /** @internal Slots in use: jobs started and not settled, abandoned ones included. */
  protected used = 0;
  /** @internal Jobs started and not settled (abandoned ones included), oldest first. */
  protected readonly running = new WaiterList<Job>();
  /** @internal Started jobs whose `run()` already rejected but whose task has not settled. */
  protected abandonedJobs = 0;
  /** @internal The store a task runs in, to recognise its children (`asyncContext`). */
  protected readonly context: AsyncLocalStorage<Job> | undefined;
  /** @internal */
  private readonly onError: ((error: unknown) => void) | undefined;
  /** The signal of every task that has no abort source of its own but shutdown (see `#start`). */
  #shared: AbortController | undefined = undefined;
  /** Parents with unsettled children → how many: their slot is freed when the last one settles. */
  #family: Map<Job, number> | undefined = undefined;
  /** Task signal → job, to recognise a child submitted with its parent's signal. */
  readonly #owners = new WeakMap<AbortSignal, Job>();
  /** @internal Whether `inspect()` knows it: a named one from the start, any other from its first task or wait. */
  protected listed = false;

  /** @internal */
  constructor(
    name: string | undefined,
    context: AsyncLocalStorage<Job> | undefined,
    onError: ((error: unknown) => void) | undefined,
  ) {
    this.name = name;
    this.context = context;
    this.onError = onError;
  }

  /** @internal Starts what may start now that a slot was freed. */
  protected abstract serve(): void;
  /** @internal Lists this pool in `inspect()`, once. */
  protected abstract list(): void;

  static {
    launchNow = (pool, job, signal, timeout) => {
      pool.used++;
      return pool.#launch(job, signal, timeout);
    };
    grantSlot = (pool, job) => {
      // The job's wait for a slot is over; its signal and timeout now bound its run.
      const signal = job.signal;
      disarm(job);
      pool.used++;
      const context = job.context!;
      job.context = undefined;
      const timeout = job instanceof OwnJob ? job.timeout : undefined;
      return context.runInAsyncScope(pool.#start, pool, job, signal, timeout);
    };
    launchChild = (pool, parent, task, signal, timeout) => {
      const root = (parent instanceof OwnJob ? parent.root : undefined) ?? parent;
      const child = new OwnJob(task, timeout, undefined);
      child.root = root;
      pool.#family ??= new Map();
      pool.#family.set(root, (pool.#family.get(root) ?? 0) + 1);
      return pool.#launch(child, signal, timeout);
    };
    abandonAll = (pool, reason) => {
      const running: Job[] = [];
      for (const job of pool.running) if (job.state === RUNNING) running.push(job);
      pool.#shared?.abort(reason);
      for (const job of running) pool.#abandon(job, reason);
      return running.length;
    };
  }

  /** Starts `job` on a slot already counted; returns the promise `run()` hands out. */
  #launch(job: Job, signal: AbortSignal | undefined, timeout: number | undefined): Promise<unknown> {
    if (flags.origins) recordOrigin(job);
    capturing = job;
    const promise = new Promise(capture);
    this.#start(job, signal, timeout);
    return promise;
  }

  /**
   * Calls the task with its signal. An {@link OwnJob}'s signal is its own controller's, aborted by
   * the caller's `signal`, by `timeout` ms passing, or by shutdown; a plain job (no signal, no
   * timeout, a task that declares no parameter) gets the pool's shared signal, which aborts exactly
   * when its own would (only shutdown can abort it, with the same reason). A controller of its own
   * made a run() 4.8x as costly on Node 20, 2.7x on 22, 1.5x on 24 and 1.3x on 26 (WorkerPool.run,
   * concurrency 16, `task(signal)` against `task()`), and a task that declares no parameter cannot
   * add listeners to the shared signal that would outlive it.
   */
  #start(job: Job, signal: AbortSignal | undefined, timeout: number | undefined): Promise<void> | undefined {
    const fn = job.fn;
    job.state = RUNNING;
    this.running.push(job);
    if (!this.listed && flags.timing) this.list();
    if (flags.timing) startedAt.set(job, now());
    let own: AbortSignal;
    if (job instanceof OwnJob) {
      const controller = new AbortController();
      job.controller = controller;
      own = controller.signal;
      this.#owners.set(own, job);
      if (signal !== undefined) {
        // The job is a waiter again, of its task's end: disarm() removes this listener and timer.
        job.signal = signal;
        job.hook = onAbort(signal, () => this.#abandon(job, signal.reason));
      }
      if (timeout !== undefined)
        job.timer = startTimer(() => this.#abandon(job, this.runTimeoutError(timeout)), timeout);
    } else {
      this.#shared ??= new AbortController();
      own = this.#shared.signal;
    }
    const outerJob = current;
    const outerPool = currentPool;
    current = job;
    currentPool = this;
    let result: unknown;
    try {
      if (runTrace.hasSubscribers) {
        result = traceRun('pool', this.name, undefined, own, () =>
          this.context === undefined ? fn(own) : this.context.run(job, fn, own),
        );
      } else {
        result = this.context === undefined ? fn(own) : this.context.run(job, fn, own);
      }
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

  /** @internal The running job a `run()` made here belongs to, if any: by call stack, context or signal. */
  protected parentHere(signal: AbortSignal | undefined): Job | undefined {
    let job = currentPool === this ? current : this.context?.getStore();
    if (job === undefined && signal !== undefined) {
      job = signal === this.#shared?.signal ? this.running.head : this.#owners.get(signal);
    }
    return job !== undefined && (job.state === RUNNING || job.state === ABANDONED) ? job : undefined;
  }

  /** @internal The signal `parent`'s task was given: a child without a signal of its own follows it. */
  protected taskSignal(parent: Job): AbortSignal {
    return parent instanceof OwnJob ? parent.controller!.signal : this.#shared!.signal;
  }

  /** Ends the caller's wait for a running job: aborts its signal and rejects its `run()`. */
  #abandon(job: Job, reason: unknown): void {
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
      if (!ok && !this.#expected(job, outcome)) this.#report(outcome);
    }
    const root = job instanceof OwnJob ? job.root : undefined;
    if (root !== undefined) {
      // The last child of a settled parent frees the parent's slot.
      const left = this.#family!.get(root)! - 1;
      if (left > 0) this.#family!.set(root, left);
      else if (this.#family!.delete(root) && root.state === DONE) this.#freeSlot();
    } else if (this.#family === undefined || !this.#family.has(job)) {
      this.#freeSlot();
    }
  }

  #freeSlot(): void {
    this.used--;
    this.serve();
  }

  /** Whether an abandoned task's failure is just its abort coming back. */
  #expected(job: Job, error: unknown): boolean {
    const signal = job instanceof OwnJob ? job.controller?.signal : this.#shared?.signal;
    return isAbortOf(error, signal?.reason);
  }

  #report(error: unknown): void {
    const onError = this.onError;
    reportFailure(
      { kind: 'pool', name: this.name, task: undefined, who: this.label },
      error,
      onError === undefined ? undefined : () => onError(error),
      () => failureLine(`${this.label} task failed after its run() ended`, error),
    );
  }

  /** @internal */
  protected runTimeoutError(ms: number): TimeoutError {
    return new TimeoutError(`${this.label} task ran longer than its timeout of ${ms} ms`);
  }

  /** @internal */
  protected get label(): string {
    return this.name === undefined ? 'pool' : `pool ${JSON.stringify(this.name)}`;
  }
}
