// A task of a TaskRegistry: its record (the public Task, plus its node in the registry's list),
// where it is in its life (one tagged state), and how its end is judged: whether `fn` settling
// with an error is a failure of its own or the abort it was given, and how that failure reads.
import { inspect } from 'node:util';
import { isAbortOf } from '../core/abort.js';
import { runTrace, traceRun } from '../core/channels.js';
import { ignore, unreachable } from '../core/never.js';
import type { Sample } from '../core/sample.js';
import { sinceDate, type WaitSnapshot } from '../core/track.js';
import { bound } from '../core/wait.js';
import type { Link } from '../core/waiters.js';
import { TimeoutError } from '../errors.js';

/**
 * Options of {@link TaskRegistry.spawn}.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type SpawnOptions, TaskRegistry } from 'unwedge';
 * const tasks = new TaskRegistry({
 *   name: 'app',
 *   onError: (error, task) => console.log(task.name, (error as Error).name), // → reindex TimeoutError
 * });
 * const options: SpawnOptions = { timeout: 50 }; // aborts the task's signal after 50 ms: a failure
 * tasks.spawn('reindex', (signal) => sleep(60_000, undefined, { signal }), options);
 * await sleep(100);
 * await tasks.shutdown();
 * ```
 */
export interface SpawnOptions {
  /**
   * Aborts the task's signal with a `TimeoutError` after this many ms and reports that as a
   * failure. `undefined`/`Infinity`: no limit; `0`: the task times out on the next turn of the
   * event loop unless it has settled by then.
   */
  timeout?: number;
}

export const SPAWN_KEYS = ['timeout'] as const;

/**
 * Where a live task is. Every state but `'running'` means its signal is aborted and `fn` has not
 * settled yet: it is still reacting to the abort, or ignoring it.
 *
 * @example
 * ```ts
 * import { TaskRegistry, type TaskState } from 'unwedge';
 * const tasks = new TaskRegistry({ name: 'app' });
 * const task = tasks.spawn('legacy-sync', () => new Promise(() => {})); // ignores its signal
 * task.cancel();
 * const states: TaskState[] = tasks.list().map((info) => info.state);
 * console.log(states); // → [ 'cancelled' ]
 * await tasks.shutdown({ timeout: 0 });
 * ```
 */
export type TaskState = 'running' | 'cancelled' | 'timed-out' | 'shutting-down';

/**
 * A snapshot of a task, as {@link TaskRegistry.list} and `onError` give it.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { TaskRegistry, type TaskInfo } from 'unwedge';
 * const tasks = new TaskRegistry({ name: 'app' });
 * tasks.spawn('heartbeat', (signal) => sleep(60_000, undefined, { signal }));
 * tasks.spawn('poller', (signal) => sleep(60_000, undefined, { signal }));
 * const live: TaskInfo[] = tasks.list(); // oldest first
 * console.log(live.map(({ id, name, state }) => `${id} ${name} ${state}`)); // → [ '1 heartbeat running', '2 poller running' ]
 * await tasks.shutdown();
 * ```
 */
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

/**
 * A task started by {@link TaskRegistry.spawn}.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type Task, TaskRegistry } from 'unwedge';
 * const tasks = new TaskRegistry({ name: 'app' });
 * const report: Task<string> = tasks.spawn('report', (signal) => sleep(10, 'report ready', { signal }));
 * console.log(report.name, await report.done); // → report report ready
 * const export_: Task<void> = tasks.spawn('export', (signal) => sleep(60_000, undefined, { signal }));
 * export_.cancel(); // not a failure: nothing is reported
 * console.log(await export_.done.catch((error: Error) => error.name)); // → AbortError
 * await tasks.shutdown();
 * ```
 */
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

/** A spawned task: the public Task plus its node in the registry's list. */
export class RegistryTask implements Task<unknown>, Link {
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

/**
 * Whether `fn` rejecting with `error` is a failure of its own: always while it runs; once its
 * signal is aborted, unless the error is that abort (`isAbortOf`).
 */
export function failedWith(task: RegistryTask, error: unknown): boolean {
  switch (task.state) {
    case 'running':
      return true;
    case 'cancelled':
    case 'timed-out':
    case 'shutting-down':
      return !isAbortOf(error, task.signal.reason);
    default:
      return unreachable(task.state);
  }
}

/**
 * Calls `fn` with the task's signal (a synchronous throw counts as a rejection) and sets `done`.
 * When `fn`'s result settles, settles `outcome` the same way (a no-op once the task was aborted),
 * then tells `ended`. When its timeout elapses first, it is aborted as `'timed-out'` and
 * `failed` is told. `who` names its registry in the timeout's error; `registryName` is its name
 * on `unwedge:run`.
 */
export function startTask<T>(
  task: RegistryTask,
  fn: (signal: AbortSignal) => T | PromiseLike<T>,
  ended: (task: RegistryTask, rejected: boolean, error: unknown) => void,
  failed: (task: RegistryTask, error: unknown) => void,
  who: () => string,
  registryName: string | undefined,
): void {
  let result: T | PromiseLike<T>;
  try {
    result = runTrace.hasSubscribers
      ? traceRun('registry', registryName, task.name, task.signal, () => fn(task.signal))
      : fn(task.signal);
  } catch (error) {
    result = Promise.reject(error);
  }
  Promise.resolve(result).then(
    (value) => {
      task.resolve(value);
      ended(task, false, undefined);
    },
    (error: unknown) => {
      task.reject(error);
      ended(task, true, error);
    },
  );
  const timeout = task.timeout;
  // Aborts by cancel and shutdown reject `outcome` directly: we own the signal, so `done` needs no
  // abort listener (adding and removing one costs ~3 µs on Node 20, half of what spawn costs).
  // A cancel or shutdown rejects `outcome`, and bound() clears the timer a microtask later, before
  // any timer can fire: the expiry below runs only for a task still running.
  task.done =
    timeout === undefined || task.signal.aborted
      ? task.outcome
      : bound(
          task.outcome,
          undefined,
          timeout,
          () => timeoutError(task, who(), timeout),
          (reason) => {
            task.abort('timed-out', reason);
            failed(task, reason);
          },
        );
  task.done.then(undefined, ignore);
}

function timeoutError(task: RegistryTask, who: string, ms: number): TimeoutError {
  return new TimeoutError(
    `task ${JSON.stringify(task.name)} (#${task.id}) of ${who} timed out after ${ms} ms`,
  );
}

/** What `inspect()` shows of it: its name, its state, its age and its limit. */
export function taskWait(task: RegistryTask, sample: Sample): WaitSnapshot {
  return {
    key: task,
    what: sample.quote(task.name),
    since: taskSince(task),
    timeout: task.timeout,
    state: task.state,
  };
}

/** When it started, on the `now()` clock. */
export function taskSince(task: RegistryTask): number {
  return sinceDate(task.startedAt);
}

/**
 * The stderr report of its failure with `error`, `info` taken when it failed; `who` names its
 * registry, and `closed` says whether that registry's shutdown deadline has passed.
 */
export function failureText(
  task: RegistryTask,
  info: TaskInfo,
  error: unknown,
  who: string,
  closed: boolean,
): string {
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
      when = closed ? ' after the shutdown deadline (it ignored the abort)' : ' during shutdown';
      break;
    default:
      return unreachable(info.state);
  }
  return (
    `unwedge: task ${JSON.stringify(info.name)} (#${info.id}, ${info.ageMs} ms old) of ${who} failed${when}:\n` +
    `${show(error)}\n`
  );
}

/** The stack and `cause` chain, as `util.inspect` prints them; reporting must not throw, whatever was thrown. */
function show(error: unknown): string {
  try {
    return inspect(error, { depth: 8 });
  } catch {
    return `${Object.prototype.toString.call(error)} (could not be inspected)`;
  }
}
