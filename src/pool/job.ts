// A pool's record of one run(): queued as a waiter, then running (or abandoned), then done. Kept
// small, since a long line of them is what a pool's memory is made of (bench/pool.ts).
import type { AsyncResource } from 'node:async_hooks';
import { resolveOnly, Waiter } from '../core/wait.js';
import type { PoolTask } from './contract.js';

/** @internal */
export const QUEUED = 0;
/** @internal */
export const RUNNING = 1;
/** @internal */
export const ABANDONED = 2;
/** @internal */
export const DONE = 3;
export type JobState = typeof QUEUED | typeof RUNNING | typeof ABANDONED | typeof DONE;

/**
 * @internal One `run()`: queued as a waiter, then running (or abandoned), then done. A plain job
 * (no signal, no limits, no parent, a task that takes no parameter) has nothing more, so that a
 * long line stays small: heap bytes per queued task drive its cost, through the garbage collector
 * (bench/pool.ts). Anything else is an {@link OwnJob}.
 */
export class Job extends Waiter<unknown> {
  /** The task until it is called; then where the job is (one field less per queued task). */
  private task: PoolTask<unknown> | JobState;
  /** While queued: the async context of the `run()` call, which the task starts in. */
  context: AsyncResource | undefined = undefined;

  constructor(fn: PoolTask<unknown>) {
    super();
    this.task = fn;
    this.resolve = noop;
  }

  get state(): JobState {
    return typeof this.task === 'function' ? QUEUED : this.task;
  }

  set state(state: Exclude<JobState, typeof QUEUED>) {
    this.task = state;
  }

  /** The task, while the job is queued. */
  get fn(): PoolTask<unknown> {
    return this.task as PoolTask<unknown>;
  }
}

// A long line of jobs stays small: see resolveOnly.
resolveOnly(Job);

/** @internal A job with its own signal and limits, or run on its parent's slot. */
export class OwnJob extends Job {
  /** The task's own controller, from its start. */
  controller: AbortController | undefined = undefined;
  /** The job whose slot this one runs on (a nested submission), or `undefined`: its own slot. */
  root: Job | undefined = undefined;

  constructor(
    fn: PoolTask<unknown>,
    /** Bounds the run from its start. */
    readonly timeout: number | undefined,
    /** Bounded the wait for a slot (for the error message). */
    readonly queueTimeout: number | undefined,
  ) {
    super(fn);
  }
}

/** @internal A resolver that does nothing (a job's before its run() promise exists). */
export function noop(): void {}
