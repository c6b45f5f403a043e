// The SIGTERM handler every service writes by hand, once: the first signal runs the shutdown,
// prints its report when it is not clean, and exits with a code that says so; a second signal
// exits at once, as an impatient operator (or Ctrl-C twice) expects. The README's own WorkerPool
// snippet printed the report and left the process running: nothing here waits for the event loop
// to empty by itself.
import { constants } from 'node:os';
import * as check from '../core/validate.js';
import { formatLifecycleReport, type LifecycleReport } from './report.js';

/**
 * Options of {@link Lifecycle.handleSignals}.
 *
 * @example
 * ```ts
 * import { type HandleSignalsOptions, Lifecycle } from 'unwedge';
 * const life = new Lifecycle({ timeout: 5_000 });
 * const options: HandleSignalsOptions = {
 *   signals: ['SIGTERM'], // leave Ctrl-C to the debugger
 *   exit: (code) => console.log(`would exit with ${code}`), // default: process.exit
 * };
 * life.handleSignals(options);
 * process.kill(process.pid, 'SIGTERM');
 * await new Promise((resolve) => setTimeout(resolve, 100)); // → would exit with 0
 * ```
 */
export interface HandleSignalsOptions {
  /** The signals that start the shutdown. Default `['SIGTERM', 'SIGINT']`. */
  signals?: readonly NodeJS.Signals[];
  /**
   * Called with the exit code instead of `process.exit`: 0 after a clean shutdown, 1 after one that
   * was not, 128 + the signal's number on a second signal. Default `process.exit`.
   */
  exit?: (code: number) => void;
}

const SIGNALS_KEYS = ['signals', 'exit'] as const;

const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/** @internal {@link HandleSignalsOptions}, checked: a TypeError or RangeError names the bad one. */
export interface SignalsConfig {
  readonly signals: readonly NodeJS.Signals[];
  readonly exit: (code: number) => void;
}

/** @internal Checks {@link HandleSignalsOptions}; nothing is installed yet. */
export function checkSignalsOptions(options: HandleSignalsOptions | undefined): SignalsConfig {
  const o = check.options<HandleSignalsOptions>(options, SIGNALS_KEYS);
  let signals = DEFAULT_SIGNALS;
  if (o.signals !== undefined) {
    if (!Array.isArray(o.signals))
      throw new TypeError(
        `options.signals must be an array of signal names; received ${check.show(o.signals)}`,
      );
    if (o.signals.length === 0)
      throw new RangeError('options.signals must name at least one signal; received an empty array');
    signals = o.signals.map((name: unknown, i: number) => {
      if (
        typeof name !== 'string' ||
        !(name in constants.signals) ||
        name === 'SIGKILL' ||
        name === 'SIGSTOP'
      )
        throw new RangeError(
          `options.signals[${i}] must be a signal a process can handle, e.g. "SIGTERM"; received ${check.show(name)}`,
        );
      return name as NodeJS.Signals;
    });
  }
  const exit =
    o.exit === undefined
      ? (code: number) => process.exit(code)
      : check.func<(code: number) => void>(o.exit, 'options.exit');
  return { signals, exit };
}

/**
 * @internal Installs the listeners and returns their removal (idempotent). `shutdown` starts the
 * shutdown, or returns the one already under way; `who` names the lifecycle in the line a second
 * signal writes to stderr.
 */
export function installSignals(
  shutdown: () => Promise<LifecycleReport>,
  config: SignalsConfig,
  who: string,
): () => void {
  const { signals, exit } = config;
  let signalled = false;
  let exited = false;
  let removed = false;
  const listener = (signal: NodeJS.Signals): void => {
    if (signalled) {
      exited = true;
      remove();
      const code = 128 + (constants.signals[signal] as number); // a name checked by checkSignalsOptions
      // The operator asked to skip the rest: say so, or the exit looks like a crash with no report.
      process.stderr.write(
        `unwedge: ${who}: ${signal} again during its shutdown: exiting at once with code ${code}; ` +
          'what still ran is not reported\n',
      );
      exit(code);
      return;
    }
    signalled = true;
    void shutdown().then((report) => {
      remove();
      if (exited) return; // a second signal already did (with an exit hook that returns)
      exited = true;
      if (!report.clean) process.stderr.write(formatLifecycleReport(report));
      exit(report.clean ? 0 : 1);
    });
  };
  const remove = (): void => {
    if (removed) return;
    removed = true;
    for (const signal of signals) process.off(signal, listener);
  };
  // A signal listener does not keep the process alive (unlike a timer or a socket).
  for (const signal of signals) process.on(signal, listener);
  return remove;
}
