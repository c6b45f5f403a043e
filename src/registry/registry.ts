// A home for background work that would otherwise be fire-and-forget (seeds 002 and 003: workers
// whose failures nobody saw, and that nobody cancelled at shutdown). Every spawned task has a name,
// a signal, an optional timeout, and a failure reported exactly once; shutdown() aborts them all and
// waits a bounded time, naming the stragglers. Its task records and their states are task.ts.
import { asyncDisposeSymbol } from '../core/compat.js';
import { count } from '../core/count.js';
import { register } from '../core/live.js';
import { ignore, unreachable } from '../core/never.js';
import { recordOrigin } from '../core/origins.js';
import { reportFailure } from '../core/report.js';
import type { Sample } from '../core/sample.js';
import { clearTimer, startTimer, type Timer } from '../core/timer.js';
import { type Described, flags } from '../core/track.js';
import * as check from '../core/validate.js';
import { WaiterList } from '../core/waiters.js';
import { ClosedError } from '../errors.js';
import {
  failedWith,
  failureText,
  RegistryTask,
  SPAWN_KEYS,
  type SpawnOptions,
  startTask,
  type Task,
  type TaskInfo,
  type TaskState,
  taskSince,
  taskWait,
} from './task.js';

export type { SpawnOptions, Task, TaskInfo, TaskState } from './task.js';

/** How long {@link TaskRegistry.shutdown} waits for tasks by default, in ms. */
const DEFAULT_SHUTDOWN_TIMEOUT = 10_000;

/**
 * Options of {@link TaskRegistry}.
 *
 * @example
 * ```ts
 * import { TaskRegistry, type TaskRegistryOptions } from 'unwedge';
 * const options: TaskRegistryOptions = {
 *   name: 'app',
 *   onError: (error, task) => console.log(`${task.name} failed: ${(error as Error).message}`), // → cache-warmer failed: ECONNREFUSED
 * };
 * const tasks = new TaskRegistry(options);
 * tasks.spawn('cache-warmer', async () => {
 *   throw new Error('ECONNREFUSED'); // nobody awaits this task: onError hears of it anyway
 * });
 * await tasks.shutdown();
 * ```
 */
export interface TaskRegistryOptions {
  /** Shown in errors and failure reports, e.g. `"app"`. */
  name?: string;
  /**
   * Receives every task failure exactly once, with a snapshot of the task. Without it, failures
   * are written to stderr with the registry's and the task's names, the stack and the `cause` chain.
   */
  onError?: (error: unknown, task: TaskInfo) => void;
}

const REGISTRY_KEYS = ['name', 'onError'] as const;

/**
 * Options of {@link TaskRegistry.shutdown}.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type RegistryShutdownOptions, TaskRegistry } from 'unwedge';
 * const tasks = new TaskRegistry({ name: 'app' });
 * tasks.spawn('poller', (signal) => sleep(60_000, undefined, { signal }));
 * const options: RegistryShutdownOptions = { timeout: 5_000 }; // wait at most 5 s for the tasks
 * console.log(await tasks.shutdown(options)); // → { cancelled: [ 'poller' ], failed: [], stragglers: [] }
 * ```
 */
export interface RegistryShutdownOptions {
  /** Waits at most this many ms for the tasks to settle (default 10,000; `Infinity`: no limit). */
  timeout?: number;
}

const SHUTDOWN_KEYS = ['timeout'] as const;

/**
 * What {@link TaskRegistry.shutdown} resolves with. Every task it aborted is in exactly one list.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type RegistryShutdownReport, TaskRegistry } from 'unwedge';
 * const tasks = new TaskRegistry({ name: 'app', onError: () => {} });
 * tasks.spawn('poller', (signal) => sleep(60_000, undefined, { signal })); // stops on abort
 * tasks.spawn('flusher', async (signal) => {
 *   await sleep(60_000, undefined, { signal }).catch(() => {});
 *   throw new Error('flush failed'); // fails while shutting down
 * });
 * tasks.spawn('legacy-sync', () => new Promise(() => {})); // ignores its signal
 * const report: RegistryShutdownReport = await tasks.shutdown({ timeout: 100 });
 * console.log(report.cancelled, report.failed.map((f) => f.name), report.stragglers); // → [ 'poller' ] [ 'flusher' ] [ 'legacy-sync' ]
 * ```
 */
export interface RegistryShutdownReport {
  /** Tasks that settled by the deadline without a failure, by name. */
  cancelled: string[];
  /** Tasks that failed by the deadline (each was also reported to `onError` or stderr). */
  failed: Array<{
    /** The task's name. */
    name: string;
    /** What it threw or rejected with. */
    error: unknown;
  }>;
  /** Tasks still running at the deadline, having ignored the abort, by name. */
  stragglers: string[];
}

interface Shutdown {
  readonly promise: Promise<RegistryShutdownReport>;
  readonly resolve: (report: RegistryShutdownReport) => void;
  readonly report: RegistryShutdownReport;
  timer: Timer | undefined;
}

/** `'shutting-down'`: tasks aborted, waiting for them until the deadline. `'closed'`: report given. */
type Lifecycle =
  | { readonly tag: 'open' }
  | { readonly tag: 'shutting-down'; readonly shutdown: Shutdown }
  | { readonly tag: 'closed'; readonly shutdown: Shutdown };

/**
 * Named background tasks, held by a strong reference until they settle, whose failures are never
 * silent, and which shut down within a deadline. The cure for `void updater()` at start-up: a
 * fire-and-forget promise has no name, no owner to stop it, and an error nobody sees.
 *
 * A failure is a throw or rejection of `fn` that the registry or the caller did not cause, or the
 * task's `timeout`. Each is reported exactly once, to `onError` or else to stderr, whether or not
 * `done` is awaited. A task's signal aborted by `cancel`, by `shutdown` or by its timeout, with `fn`
 * then settling with that reason (or an error whose `cause` chain holds it, or an `AbortError`),
 * is not a failure of its own; any other error `fn` settles with afterwards is, even after the
 * shutdown's deadline. A settled task is dropped at once: the registry holds only live tasks.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { TaskRegistry } from 'unwedge';
 * const tasks = new TaskRegistry({ name: 'app' });
 * tasks.spawn('heartbeat', async (signal) => {
 *   for (;;) {
 *     await sleep(20, undefined, { signal }); // stops at once on shutdown
 *     console.log('still alive');
 *   }
 * });
 * await sleep(50);
 * // ... on SIGTERM:
 * const { stragglers } = await tasks.shutdown({ timeout: 5_000 });
 * if (stragglers.length > 0) console.error(`still running: ${stragglers.join(', ')}`);
 * ```
 */
export class TaskRegistry implements AsyncDisposable {
  /** The name given in the options, if any. */
  readonly name: string | undefined;
  /** @internal */
  private readonly onError: ((error: unknown, task: TaskInfo) => void) | undefined;
  /** @internal */
  private readonly tasks = new WaiterList<RegistryTask>();
  /** @internal */
  private lifecycle: Lifecycle = { tag: 'open' };
  /** @internal */
  private lastId = 0;

  constructor(options?: TaskRegistryOptions) {
    const o = check.options<TaskRegistryOptions>(options, REGISTRY_KEYS);
    this.name = check.string(o.name, 'options.name');
    this.onError =
      o.onError === undefined
        ? undefined
        : check.func<NonNullable<TaskRegistryOptions['onError']>>(o.onError, 'options.onError');
    register(this, TaskRegistry.snapshot);
  }

  /** @internal What `inspect()` shows: the live tasks by state, each with its name and age. */
  private static snapshot(r: TaskRegistry, sample: Sample): Described {
    const byState: Record<TaskState, number> = {
      running: 0,
      cancelled: 0,
      'timed-out': 0,
      'shutting-down': 0,
    };
    for (const task of r.tasks) byState[task.state]++;
    sample.take(r.tasks, taskSince, (task) => taskWait(task, sample));
    const states = Object.entries(byState)
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${n} ${state}`);
    return {
      kind: 'registry',
      name: r.name,
      summary: `${count(r.tasks.length, 'task')}${states.length > 0 ? ` (${states.join(', ')})` : ''}, ${r.lifecycle.tag}`,
      stats: { tasks: r.tasks.length, ...byState, state: r.lifecycle.tag },
    };
  }

  /** How many tasks are live: spawned and not settled (stragglers included). */
  get size(): number {
    return this.tasks.length;
  }

  /** Whether `shutdown` was called: `spawn` throws from then on. */
  get closed(): boolean {
    return this.lifecycle.tag !== 'open';
  }

  /**
   * Calls `fn` now with the task's signal and holds the task until `fn`'s result settles; never
   * waits. The task's `done` settles as `fn` does, or rejects as soon as its signal aborts (its
   * `cancel`, its `timeout`, the registry's shutdown) with the reason. Throws `ClosedError` once
   * `shutdown` was called and `TypeError`/`RangeError` on bad arguments; then `fn` is not called.
   * A synchronous throw of `fn` is a failure like a rejection.
   */
  spawn<T>(name: string, fn: (signal: AbortSignal) => T | PromiseLike<T>, options?: SpawnOptions): Task<T> {
    if (typeof name !== 'string') throw new TypeError(`name must be a string; received ${check.show(name)}`);
    check.func(fn, 'fn');
    const timeout = check.timeout(
      check.options<SpawnOptions>(options, SPAWN_KEYS).timeout,
      'options.timeout',
    );
    switch (this.lifecycle.tag) {
      case 'open':
        break;
      case 'shutting-down':
      case 'closed':
        throw new ClosedError(`${this.#who()} is shut down: cannot spawn task ${JSON.stringify(name)}`);
      default:
        return unreachable(this.lifecycle);
    }
    const task = new RegistryTask(++this.lastId, name, Date.now(), timeout);
    if (flags.origins) recordOrigin(task, this.spawn);
    this.tasks.push(task); // before fn runs, so that fn (or a shutdown it starts) sees itself
    startTask(task, fn, this.#end, this.#report, this.#who, this.name);
    return task as Task<unknown> as Task<T>;
  }

  /** A snapshot of the live tasks, oldest first. Safe to take at any time, including inside `fn` or `onError`. */
  list(): TaskInfo[] {
    const now = Date.now();
    const infos: TaskInfo[] = [];
    for (const task of this.tasks) infos.push(task.info(now));
    return infos;
  }

  /**
   * Refuses new tasks (`spawn` throws `ClosedError`), aborts the signal of every live task with a
   * `ClosedError`, and waits until they have all settled or `options.timeout` ms have passed
   * (default 10,000; `0` gives them until the next turn of the event loop), then resolves with who
   * was cancelled, who failed and who is still running. A task already cancelled or timed out keeps
   * its reason and is waited for too. Never rejects, except with a `TypeError`/`RangeError` on bad
   * options, before anything is shut down. A later call returns the same promise (its options are
   * ignored). A straggler's failure after the deadline is still reported to `onError` or stderr.
   */
  shutdown(options?: RegistryShutdownOptions): Promise<RegistryShutdownReport> {
    let timeout: number | undefined;
    try {
      const o = check.options<RegistryShutdownOptions>(options, SHUTDOWN_KEYS);
      timeout =
        o.timeout === undefined ? DEFAULT_SHUTDOWN_TIMEOUT : check.timeout(o.timeout, 'options.timeout');
    } catch (error) {
      return Promise.reject(error);
    }
    switch (this.lifecycle.tag) {
      case 'open':
        return this.beginShutdown(timeout);
      case 'shutting-down':
      case 'closed':
        return this.lifecycle.shutdown.promise;
      default:
        return unreachable(this.lifecycle);
    }
  }

  /**
   * `shutdown()` with the default deadline, for `await using tasks = new TaskRegistry()`. Resolves
   * when the shutdown does (the report is dropped: call `shutdown()` to read it).
   */
  [asyncDisposeSymbol](): Promise<void> {
    return this.shutdown().then(ignore);
  }

  /** @internal */
  private beginShutdown(timeout: number | undefined): Promise<RegistryShutdownReport> {
    let resolve!: (report: RegistryShutdownReport) => void;
    const promise = new Promise<RegistryShutdownReport>((r) => {
      resolve = r;
    });
    const shutdown: Shutdown = {
      promise,
      resolve,
      report: { cancelled: [], failed: [], stragglers: [] },
      timer: undefined,
    };
    this.lifecycle = { tag: 'shutting-down', shutdown };
    // Over a snapshot: abort listeners run synchronously and may cancel other tasks.
    for (const task of [...this.tasks]) {
      if (task.signal.aborted) continue; // cancelled or timed out already: its first reason stands
      task.abort(
        'shutting-down',
        new ClosedError(
          `${this.#who()} is shutting down: task ${JSON.stringify(task.name)} (#${task.id}) was cancelled`,
        ),
      );
    }
    if (this.tasks.length === 0) this.finish(shutdown);
    else if (timeout !== undefined) shutdown.timer = startTimer(() => this.finish(shutdown), timeout);
    return promise;
  }

  /** @internal Gives the report: at the deadline, or when the last task settles, whichever comes first. */
  private finish(shutdown: Shutdown): void {
    if (shutdown.timer !== undefined) clearTimer(shutdown.timer);
    shutdown.timer = undefined;
    for (const task of this.tasks) shutdown.report.stragglers.push(task.name);
    this.lifecycle = { tag: 'closed', shutdown };
    shutdown.resolve(shutdown.report);
  }

  /** `fn`'s result settled: drop the task, report a failure, and count it for a shutdown in progress. */
  readonly #end = (task: RegistryTask, rejected: boolean, error: unknown): void => {
    this.tasks.remove(task);
    const failed = rejected && failedWith(task, error);
    if (failed) this.#report(task, error);
    const lifecycle = this.lifecycle;
    switch (lifecycle.tag) {
      case 'open':
      case 'closed':
        return;
      case 'shutting-down': {
        const { report } = lifecycle.shutdown;
        if (failed) report.failed.push({ name: task.name, error });
        else report.cancelled.push(task.name);
        if (this.tasks.length === 0) this.finish(lifecycle.shutdown);
        return;
      }
      default:
        unreachable(lifecycle);
    }
  };

  /** Reports a failure exactly once: to `onError`, or to stderr (also when `onError` itself throws). */
  readonly #report = (task: RegistryTask, error: unknown): void => {
    const info = task.info(Date.now());
    const onError = this.onError;
    reportFailure(
      { kind: 'registry', name: this.name, task: task.name, who: this.#who() },
      error,
      onError === undefined ? undefined : () => onError(error, info),
      () => failureText(task, info, error, this.#who(), this.lifecycle.tag === 'closed'),
    );
  };

  /** How messages name it: `task registry "app"`. */
  readonly #who = (): string =>
    this.name === undefined ? 'task registry' : `task registry ${JSON.stringify(this.name)}`;
}
