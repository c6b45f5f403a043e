import { inspect } from 'node:util';
import { asyncDisposeSymbol } from './core/compat.js';
import { register } from './core/live.js';
import { recordOrigin } from './core/origins.js';
import { reportFailure } from './core/report.js';
import { clearTimer, startTimer, type Timer } from './core/timer.js';
import { flags, type PrimitiveSnapshot, sinceDate, type WaitSnapshot } from './core/track.js';
import * as check from './core/validate.js';
import { bound } from './core/wait.js';
import { type Link, WaiterList } from './core/waiters.js';
import { ClosedError, TimeoutError } from './errors.js';

/** How long {@link TaskRegistry.shutdown} waits for tasks by default, in ms. */
const DEFAULT_SHUTDOWN_TIMEOUT = 10_000;

/** Options of {@link TaskRegistry}. */
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

/** Options of {@link TaskRegistry.spawn}. */
export interface SpawnOptions {
  /**
   * Aborts the task's signal with a `TimeoutError` after this many ms and reports that as a
   * failure. `undefined`/`Infinity`: no limit; `0`: the task times out on the next turn of the
   * event loop unless it has settled by then.
   */
  timeout?: number;
}

const SPAWN_KEYS = ['timeout'] as const;

/** Options of {@link TaskRegistry.shutdown}. */
export interface RegistryShutdownOptions {
  /** Waits at most this many ms for the tasks to settle (default 10,000; `Infinity`: no limit). */
  timeout?: number;
}

const SHUTDOWN_KEYS = ['timeout'] as const;

/**
 * Where a live task is. Every state but `'running'` means its signal is aborted and `fn` has not
 * settled yet: it is still reacting to the abort, or ignoring it.
 */
export type TaskState = 'running' | 'cancelled' | 'timed-out' | 'shutting-down';

/** A snapshot of a task, as {@link TaskRegistry.list} and `onError` give it. */
export interface TaskInfo {
  /** Unique within its registry, increasing in spawn order. */
  readonly id: number;
  /** The name given to `spawn`. */
  readonly name: string;
  /** Where the task is in its life. */
  readonly state: TaskState;
  /** Milliseconds since the task was spawned. */
  readonly ageMs: number;
}

/** A task started by {@link TaskRegistry.spawn}. */
export interface Task<T> {
  /** Unique within its registry, increasing in spawn order. */
  readonly id: number;
  /** The name given to `spawn`, shown in failure reports and `list()`. */
  readonly name: string;
  /** When it was spawned, as `Date.now()`. */
  readonly startedAt: number;
  /** The signal `fn` was given: aborted by `cancel`, the task's timeout, or the registry's shutdown. */
  readonly signal: AbortSignal;
  /**
   * Settles as `fn` does, or rejects as soon as the task's signal aborts, with its reason. It may
   * be ignored: a rejection of `done` is never unhandled (failures are reported by the registry).
   */
  readonly done: Promise<T>;
  /**
   * Aborts the task's signal with `reason` (default: an `AbortError`). Caller-caused, so not a
   * failure: `fn` settling with the reason is not reported. Does nothing once the task's signal
   * is aborted or it has settled.
   */
  cancel(reason?: unknown): void;
}

/** What {@link TaskRegistry.shutdown} resolves with. Every task it aborted is in exactly one list. */
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

/** A spawned task: the public Task plus its node in the registry's list. */
class RegistryTask implements Task<unknown>, Link {
  prev: Link | undefined = undefined;
  next: Link | undefined = undefined;
  linked = false;
  state: TaskState = 'running';
  readonly controller = new AbortController();
  resolve!: (value: unknown) => void;
  reject!: (reason: unknown) => void;
  /** Settles as `fn` does, or rejects when the task is aborted: whichever comes first. */
  readonly outcome = new Promise<unknown>((resolve, reject) => {
    this.resolve = resolve;
    this.reject = reject;
  });
  /** `outcome`, or `outcome` bounded by the task's timeout. */
  done!: Promise<unknown>;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly startedAt: number,
    /** Its limit in ms, if any. */
    readonly timeout: number | undefined,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  cancel(reason?: unknown): void {
    if (!this.linked || this.controller.signal.aborted) return;
    this.abort('cancelled', reason);
  }

  /** Aborts the signal and rejects `done` with the same reason (an AbortError when none is given). */
  abort(state: Exclude<TaskState, 'running'>, reason: unknown): void {
    this.state = state;
    this.controller.abort(reason);
    this.reject(this.controller.signal.reason);
  }

  info(now: number): TaskInfo {
    return { id: this.id, name: this.name, state: this.state, ageMs: now - this.startedAt };
  }
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
 *     await sleep(1_000, undefined, { signal }); // stops at once on shutdown
 *     console.log('still alive');
 *   }
 * });
 * process.once('SIGTERM', async () => {
 *   const { stragglers } = await tasks.shutdown({ timeout: 5_000 });
 *   if (stragglers.length > 0) console.error(`still running: ${stragglers.join(', ')}`);
 *   process.exit();
 * });
 * ```
 */
export class TaskRegistry implements AsyncDisposable {
  /** The name given in the options, if any. */
  readonly name: string | undefined;
  private readonly onError: ((error: unknown, task: TaskInfo) => void) | undefined;
  private readonly tasks = new WaiterList<RegistryTask>();
  private lifecycle: Lifecycle = { tag: 'open' };
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

  /** What `inspect()` shows: the live tasks by state, each with its name and age. */
  private static snapshot(r: TaskRegistry): PrimitiveSnapshot {
    const waits: WaitSnapshot[] = [];
    const byState: Record<TaskState, number> = {
      running: 0,
      cancelled: 0,
      'timed-out': 0,
      'shutting-down': 0,
    };
    for (const task of r.tasks) {
      byState[task.state]++;
      const since = sinceDate(task.startedAt);
      waits.push({
        key: task,
        what: JSON.stringify(task.name),
        since,
        timeout: task.timeout,
        state: task.state,
      });
    }
    const states = Object.entries(byState)
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${n} ${state}`);
    return {
      kind: 'registry',
      name: r.name,
      summary: `${r.tasks.length} task${r.tasks.length === 1 ? '' : 's'}${states.length > 0 ? ` (${states.join(', ')})` : ''}, ${r.lifecycle.tag}`,
      stats: { tasks: r.tasks.length, ...byState, state: r.lifecycle.tag },
      waits,
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
        throw new ClosedError(`${this.who()} is shut down: cannot spawn task ${JSON.stringify(name)}`);
      default:
        return unreachable(this.lifecycle);
    }
    const task = new RegistryTask(++this.lastId, name, Date.now(), timeout);
    if (flags.origins) recordOrigin(task, this.spawn);
    this.tasks.push(task); // before fn runs, so that fn (or a shutdown it starts) sees itself
    let result: T | PromiseLike<T>;
    try {
      result = fn(task.signal);
    } catch (error) {
      result = Promise.reject(error);
    }
    Promise.resolve(result).then(
      (value) => {
        task.resolve(value);
        this.end(task, false, undefined);
      },
      (error: unknown) => {
        task.reject(error);
        this.end(task, true, error);
      },
    );
    // Aborts by cancel and shutdown reject `outcome` directly: we own the signal, so `done` needs no
    // abort listener (adding and removing one costs ~3 µs on Node 20, half of what spawn costs).
    task.done =
      timeout === undefined || task.signal.aborted
        ? task.outcome
        : bound(
            task.outcome,
            undefined,
            timeout,
            () => this.timeoutError(task, timeout),
            (reason) => this.expire(task, reason),
          );
    task.done.then(undefined, ignore);
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
          `${this.who()} is shutting down: task ${JSON.stringify(task.name)} (#${task.id}) was cancelled`,
        ),
      );
    }
    if (this.tasks.length === 0) this.finish(shutdown);
    else if (timeout !== undefined) shutdown.timer = startTimer(() => this.finish(shutdown), timeout);
    return promise;
  }

  /** Gives the report: at the deadline, or when the last task settles, whichever comes first. */
  private finish(shutdown: Shutdown): void {
    if (shutdown.timer !== undefined) clearTimer(shutdown.timer);
    shutdown.timer = undefined;
    for (const task of this.tasks) shutdown.report.stragglers.push(task.name);
    this.lifecycle = { tag: 'closed', shutdown };
    shutdown.resolve(shutdown.report);
  }

  /**
   * The task's timeout elapsed before it settled or was aborted: abort it, and report that failure.
   * (A cancel or shutdown rejects `outcome`, and bound() clears the timer a microtask later, before
   * any timer can fire.)
   */
  private expire(task: RegistryTask, reason: unknown): void {
    task.abort('timed-out', reason);
    this.report(task, reason);
  }

  /** `fn`'s result settled: drop the task, report a failure, and count it for a shutdown in progress. */
  private end(task: RegistryTask, rejected: boolean, error: unknown): void {
    this.tasks.remove(task);
    let failed = false;
    if (rejected) {
      switch (task.state) {
        case 'running':
          failed = true;
          break;
        case 'cancelled':
        case 'timed-out':
        case 'shutting-down':
          failed = !causedBy(error, task.signal.reason);
          break;
        default:
          unreachable(task.state);
      }
      if (failed) this.report(task, error);
    }
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
  }

  /** Reports a failure exactly once: to `onError`, or to stderr (also when `onError` itself throws). */
  private report(task: RegistryTask, error: unknown): void {
    const info = task.info(Date.now());
    const onError = this.onError;
    reportFailure(
      { kind: 'registry', name: this.name, task: task.name, who: this.who() },
      error,
      onError === undefined ? undefined : () => onError(error, info),
      () => this.describe(task, info, error),
    );
  }

  private describe(task: RegistryTask, info: TaskInfo, error: unknown): string {
    let when: string;
    switch (info.state) {
      case 'running':
        when = '';
        break;
      case 'cancelled':
        when = ' after it was cancelled';
        break;
      case 'timed-out':
        when = error === task.signal.reason ? '' : ' after it timed out';
        break;
      case 'shutting-down':
        when =
          this.lifecycle.tag === 'closed'
            ? ' after the shutdown deadline (it ignored the abort)'
            : ' during shutdown';
        break;
      default:
        return unreachable(info.state);
    }
    return (
      `unwedge: task ${JSON.stringify(info.name)} (#${info.id}, ${info.ageMs} ms old) of ${this.who()} failed${when}:\n` +
      `${show(error)}\n`
    );
  }

  private timeoutError(task: RegistryTask, ms: number): TimeoutError {
    return new TimeoutError(
      `task ${JSON.stringify(task.name)} (#${task.id}) of ${this.who()} timed out after ${ms} ms`,
    );
  }

  private who(): string {
    return this.name === undefined ? 'task registry' : `task registry ${JSON.stringify(this.name)}`;
  }
}

/**
 * Whether `error` is the abort itself: the reason, an error whose `cause` chain holds it (a
 * wrapper, Node's `AbortError` from `timers/promises`), or any `AbortError`.
 */
function causedBy(error: unknown, reason: unknown): boolean {
  let e = error;
  for (let depth = 0; depth < 16 && e !== null && e !== undefined; depth++) {
    if (e === reason) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return (error as { name?: unknown } | null | undefined)?.name === 'AbortError';
}

/** The stack and `cause` chain, as `util.inspect` prints them; reporting must not throw, whatever was thrown. */
function show(error: unknown): string {
  try {
    return inspect(error, { depth: 8 });
  } catch {
    return `${Object.prototype.toString.call(error)} (could not be inspected)`;
  }
}

function unreachable(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}

function ignore(): void {}
