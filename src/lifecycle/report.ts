// What a Lifecycle's shutdown reports: each step with the budget it was given and the time it took,
// what was still running when the budget was spent (named, with what inspect() knows of it), and
// what failed. And the same as text, for stderr.
import { inspect } from 'node:util';
import { count } from '../core/count.js';
import { ageText, describeWait, type WaitReport } from '../inspect/dump.js';

/**
 * A resource that had not stopped when {@link Lifecycle.shutdown} gave its report, and what still ran in it.
 *
 * @example
 * ```ts
 * import { Lifecycle, type Straggler, TaskRegistry } from 'unwedge';
 * const life = new Lifecycle({ timeout: 50 });
 * const tasks = life.use(new TaskRegistry({ name: 'bg' }));
 * let stop = () => {};
 * tasks.spawn('ignores-abort', () => new Promise<void>((resolve) => { stop = resolve; }));
 * const [straggler]: readonly Straggler[] = (await life.shutdown()).stragglers;
 * console.log(straggler!.name, straggler!.running[0]!.what); // → task registry "bg" "ignores-abort"
 * stop();
 * ```
 */
export interface Straggler {
  /** The resource, as the report names it: `pool "feeds"`, `task registry "bg"`, `server 127.0.0.1:8080`, `defer "quit"`. */
  readonly name: string;
  /** What still ran, in one line: e.g. `1 task (1 shutting-down), closed`, `1 request in flight`. */
  readonly summary: string;
  /**
   * What still ran, one by one, oldest first, at most 100: a registry's tasks by name, a pool's
   * tasks, a server's requests (`GET /slow`), each with its age and, with `captureOrigins` on, the
   * stack of the call that started it. Empty when the resource cannot tell (a hung `defer`).
   */
  readonly running: readonly WaitReport[];
}

/**
 * A failure during {@link Lifecycle.shutdown}: a resource whose stop threw or rejected, or a task that failed as it stopped.
 *
 * @example
 * ```ts
 * import { Lifecycle, type LifecycleFailure } from 'unwedge';
 * const life = new Lifecycle({ onError: () => {} }); // reported once: here, to a hook that drops it
 * life.defer(() => {
 *   throw new Error('flush failed');
 * }, { name: 'flush' });
 * const [failure]: readonly LifecycleFailure[] = (await life.shutdown()).failed;
 * console.log(failure!.name, (failure!.error as Error).message); // → flush flush failed
 * ```
 */
export interface LifecycleFailure {
  /** The resource (and task) that failed. */
  readonly name: string;
  /** What it threw or rejected with. */
  readonly error: unknown;
}

/**
 * How a step of a shutdown ended. `'stopped'`: nothing of it runs any more. `'left-running'`:
 * the budget was spent while something of it still ran (it is in `stragglers`). `'failed'`: its
 * stop threw or rejected, or something it ran failed (it is in `failed`).
 *
 * @example
 * ```ts
 * import { Lifecycle, type StepOutcome } from 'unwedge';
 * const life = new Lifecycle({ timeout: 20 });
 * let done = () => {};
 * life.defer(() => new Promise<void>((resolve) => { done = resolve; }), { name: 'hung' });
 * const outcomes: StepOutcome[] = (await life.shutdown()).steps.map((s) => s.outcome);
 * console.log(outcomes); // → [ 'left-running' ]
 * done();
 * ```
 */
export type StepOutcome = 'stopped' | 'left-running' | 'failed';

/**
 * One resource or deferred function, as {@link Lifecycle.shutdown} stopped it: how the budget was split.
 *
 * @example
 * ```ts
 * import { Lifecycle, type LifecycleStep } from 'unwedge';
 * const life = new Lifecycle({ timeout: 5_000 });
 * life.defer(async () => {}, { name: 'first registered, stopped last' });
 * life.defer(async () => {}, { name: 'last registered, stopped first' });
 * const steps: readonly LifecycleStep[] = (await life.shutdown()).steps;
 * console.log(steps.map((s) => `${s.name}: ${s.outcome}`).join('; '));
 * // → last registered, stopped first: stopped; first registered, stopped last: stopped
 * ```
 */
export interface LifecycleStep {
  /** The resource, as the report names it. */
  readonly name: string;
  /** The ms it was given: what was left of the budget when its turn came (0 once the budget was spent). */
  readonly budget: number;
  /** The ms from its start until it stopped, or until the report when it did not. */
  readonly elapsed: number;
  /** How it ended. */
  readonly outcome: StepOutcome;
}

/**
 * What {@link Lifecycle.shutdown} resolves with.
 *
 * @example
 * ```ts
 * import { Lifecycle, type LifecycleReport } from 'unwedge';
 * const life = new Lifecycle({ name: 'api', timeout: 5_000 });
 * life.defer(async () => {});
 * const report: LifecycleReport = await life.shutdown();
 * console.log(report.name, report.clean, report.stragglers.length, report.failed.length); // → api true 0 0
 * ```
 */
export interface LifecycleReport {
  /** The lifecycle's `name`, if it has one. */
  readonly name: string | undefined;
  /** Nothing was left running and nothing failed. */
  readonly clean: boolean;
  /** The ms from the start of the shutdown to this report. */
  readonly elapsed: number;
  /** The budget, in ms: the lifecycle's `timeout`. */
  readonly timeout: number;
  /** Each resource and deferred function in the order they were stopped (the reverse of registration). */
  readonly steps: readonly LifecycleStep[];
  /** What had not stopped when the report was given, in the order of `steps`. */
  readonly stragglers: readonly Straggler[];
  /** What failed, each also reported once (to `onError`, or stderr) when it happened. */
  readonly failed: readonly LifecycleFailure[];
}

/**
 * Renders a shutdown's report as text: one line for the whole, one per step with the budget it
 * was given and the time it took, then each straggler with what still ran in it (oldest first,
 * with origins when they were recorded), then the failures, one line each (their stacks were
 * reported when they happened). What {@link Lifecycle.handleSignals} writes to stderr when a
 * shutdown is not clean.
 *
 * @example
 * ```ts
 * import { formatLifecycleReport, Lifecycle } from 'unwedge';
 * const life = new Lifecycle({ name: 'api', timeout: 5_000 });
 * life.defer(async () => {});
 * process.stderr.write(formatLifecycleReport(await life.shutdown()));
 * ```
 */
export function formatLifecycleReport(report: LifecycleReport): string {
  const who = report.name === undefined ? 'lifecycle' : `lifecycle ${JSON.stringify(report.name)}`;
  const lines = [
    `unwedge: ${who} shut down in ${report.elapsed} ms (budget ${report.timeout} ms): ` +
      (report.clean
        ? 'clean'
        : `${count(report.stragglers.length, 'resource')} left running, ${count(report.failed.length, 'failure')}`),
  ];
  const width = Math.max(0, ...report.steps.map((s) => s.name.length));
  for (const step of report.steps) {
    lines.push(
      `  ${step.name.padEnd(width)}  ${step.outcome.padEnd(12)} ${step.elapsed} ms of ${step.budget} ms`,
    );
  }
  for (const s of report.stragglers) {
    lines.push(`still running in ${s.name}: ${s.summary}`);
    const ages = s.running.map(ageText);
    const w = Math.max(0, ...ages.map((a) => a.length));
    s.running.forEach((wait, i) => {
      lines.push(`  ${ages[i]!.padStart(w)}  ${describeWait(wait)}`);
      for (const frame of wait.origin) lines.push(`        ${frame}`);
    });
  }
  for (const f of report.failed) lines.push(`failed: ${f.name}: ${oneLine(f.error)}`);
  return `${lines.join('\n')}\n`;
}

/** `Error: boom`: the first line of what `util.inspect` shows, never throwing. */
function oneLine(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : inspect(error).split('\n')[0]!;
  } catch {
    return Object.prototype.toString.call(error);
  }
}
