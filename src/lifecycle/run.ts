// One shutdown: the steps in turn within one budget. Each step is given what the ones before it
// left; when the budget is spent, the step under way and every step not reached yet are forced
// together (the last ones start with nothing left), and all get FORCE_GRACE_MS to settle; then the
// report is read off each step's state, whatever is still pending. Nothing here waits unbounded.
import { type AbortHook, offAbort, onAbort } from '../core/abort.js';
import { clearTimer, startTimer, type Timer } from '../core/timer.js';
import { now } from '../core/track.js';
import { ClosedError, TimeoutError } from '../errors.js';
import type { LifecycleFailure, LifecycleReport, LifecycleStep, Straggler } from './report.js';
import type { Step } from './resources.js';

/**
 * After the budget is spent, what was forced (aborted tasks, destroyed sockets) gets this many ms
 * to settle before it is named as left running: `Lifecycle.shutdown()` resolves within its
 * `timeout` plus this (and the time its timers fire late on a busy event loop).
 *
 * @example
 * ```ts
 * import { FORCE_GRACE_MS, Lifecycle } from 'unwedge';
 * const life = new Lifecycle({ timeout: 25_000 }); // Kubernetes sends SIGKILL 30 s after SIGTERM
 * console.log(`reports within ${life.timeout + FORCE_GRACE_MS} ms of the start of its shutdown`);
 * ```
 */
export const FORCE_GRACE_MS = 100;

/** How a shutdown is told apart in its messages and its report. */
export interface Who {
  /** The lifecycle's name, for the report. */
  readonly name: string | undefined;
  /** How messages name it: `lifecycle "api"`. */
  readonly who: string;
  /** Tells a step's own failure once (onError or stderr), also after the report. */
  readonly report: (step: string, error: unknown) => void;
}

/** A step in a shutdown: when it started, what it was given, how it ended. */
class Run {
  started = -1;
  budget = 0;
  ended = -1;
  failed = false;
  settled: Promise<void> = Promise.resolve();
  constructor(readonly step: Step) {}
}

/** @internal Stops `steps` in this order within `timeout` ms, and reports. Never rejects. */
export async function stopAll(steps: readonly Step[], timeout: number, id: Who): Promise<LifecycleReport> {
  const start = now();
  const deadline = start + timeout;
  const force = new AbortController();
  const done = new AbortController();
  const failed: LifecycleFailure[] = [];
  const runs = steps.map((step) => new Run(step));
  const timer = startTimer(() => {
    force.abort(new TimeoutError(`${id.who} spent its ${timeout} ms shutdown budget`));
  }, timeout);
  let forcedHook: AbortHook | undefined;
  const forced = new Promise<void>((resolve) => {
    forcedHook = onAbort(force.signal, resolve);
  });
  const begin = (run: Run): void => {
    run.started = now();
    // What is left when it begins (the first step too: the shutdown's own start-up, a ms or two on a
    // loaded machine, is not given to anyone). Once the budget is spent a step gets nothing, even if
    // the timer that said so fired a fraction of a ms early.
    run.budget = force.signal.aborted ? 0 : Math.max(0, Math.round(deadline - run.started));
    let stopped: Promise<readonly LifecycleFailure[] | undefined>;
    try {
      stopped = Promise.resolve(run.step.stop(run.budget, force.signal, done.signal));
    } catch (error) {
      stopped = Promise.reject(error);
    }
    run.settled = stopped.then(
      (reported) => {
        run.ended = now();
        // Failures its own shutdown already reported (a registry's tasks): in the report, not told again.
        if (reported === undefined || reported.length === 0) return;
        run.failed = true;
        failed.push(...reported);
      },
      (error: unknown) => {
        run.ended = now();
        run.failed = true;
        failed.push({ name: run.step.name, error }); // after the report: told, but not in it (a copy)
        id.report(run.step.name, error);
      },
    );
  };
  let next = 0;
  for (; next < runs.length && !force.signal.aborted; next++) {
    const run = runs[next]!;
    begin(run);
    await Promise.race([run.settled, forced]);
  }
  if (force.signal.aborted) {
    for (; next < runs.length; next++) begin(runs[next]!);
    const pending = runs.filter((run) => run.ended < 0).map((run) => run.settled);
    if (pending.length > 0) {
      let grace: Timer | undefined;
      await Promise.race([
        Promise.all(pending),
        new Promise<void>((resolve) => {
          grace = startTimer(resolve, FORCE_GRACE_MS);
        }),
      ]);
      clearTimer(grace!);
    }
  }
  clearTimer(timer);
  offAbort(forcedHook);
  // Steps drop the waits of their own they still have (a pool's idle()), so that what they
  // report as still running is the work, not their wait for it.
  done.abort(new ClosedError(`${id.who} has reported`));
  return reportOf(runs, failed, start, timeout, id.name);
}

function reportOf(
  runs: readonly Run[],
  failed: readonly LifecycleFailure[],
  start: number,
  timeout: number,
  name: string | undefined,
): LifecycleReport {
  const t = now();
  const steps: LifecycleStep[] = [];
  const stragglers: Straggler[] = [];
  for (const run of runs) {
    const left = run.step.stragglers();
    if (left !== undefined) stragglers.push({ name: run.step.name, ...left });
    steps.push({
      name: run.step.name,
      budget: run.budget,
      elapsed: Math.round((run.ended < 0 ? t : run.ended) - run.started),
      outcome: run.failed ? 'failed' : left !== undefined ? 'left-running' : 'stopped',
    });
  }
  return {
    name,
    clean: stragglers.length === 0 && failed.length === 0,
    elapsed: Math.round(t - start),
    timeout,
    steps,
    stragglers,
    failed: [...failed],
  };
}
