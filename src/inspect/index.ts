// See every stuck wait. A Node process has no py-spy for promises: an `await` that never resumes
// leaves no stack behind. But every wait in unwedge goes through one mechanism that knows what is
// parked, on what, since when and (with origins on) from where, so it can be dumped on demand,
// watched for stalls, and published on diagnostics_channel. A blocked event loop is watched from
// a worker thread, the only place that can still speak while the main thread is stuck.

import { flags, retime } from '../core/track.js';
import * as check from '../core/validate.js';

export type { TaskErrorMessage, WaitEndMessage, WaitStartMessage } from '../core/channels.js';
export type { WaitOutcome } from '../core/track.js';
export {
  type AgeRange,
  formatInspect,
  type InspectOptions,
  type InspectReport,
  inspect,
  type OmittedWaits,
  type PrimitiveReport,
  type WaitReport,
} from './dump.js';
export {
  type EventLoopBlock,
  type EventLoopWatcher,
  type WatchEventLoopOptions,
  watchEventLoop,
} from './event-loop.js';
export { type Stall, type Watcher, type WatchStallsOptions, watchStalls, writeStall } from './stalls.js';

/**
 * The diagnostics_channel names unwedge publishes on. Messages are built only while someone
 * subscribes; each wait publishes `waitStart` then `waitEnd` with the same `id`.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * import { channels, type WaitEndMessage } from 'unwedge/inspect';
 * subscribe(channels.waitEnd, (message) => {
 *   const { kind, name, outcome, duration } = message as WaitEndMessage;
 *   if (duration > 1_000) console.warn(`${kind} ${name ?? ''} waited ${Math.round(duration)} ms: ${outcome}`);
 * });
 * ```
 */
export const channels = {
  /** A wait parked (or a `withTimeout` / `fanOut` call started): a `WaitStartMessage`. */
  waitStart: 'unwedge:wait:start',
  /** That wait ended: a `WaitEndMessage` with its `outcome` and `duration`. */
  waitEnd: 'unwedge:wait:end',
  /** A task failed and was reported (a queue consumer's handler, a pool or registry task): a `TaskErrorMessage`. */
  taskError: 'unwedge:task:error',
} as const;

/** Options of {@link configure}. */
export interface InspectConfig {
  /**
   * Record the stack of the call that started each wait (`Error.captureStackTrace`, trimmed to
   * your frames), shown as its origin. Costs a few µs per parked wait and per `withTimeout` /
   * `fanOut` call; off by default, or on when the process starts with `UNWEDGE_ORIGINS=1`.
   */
  captureOrigins?: boolean;
  /**
   * Record when each wait starts, so that {@link inspect} gives its exact age. Costs one clock
   * read per parked wait (10-15 % of a parked `Semaphore.run` in the limiter benchmark; nothing on
   * the paths that do not wait). Off by default, but on anyway while origins are, and while a
   * {@link watchStalls} watcher, a `dumpOnSignal` or a `createInspectHandler` (from
   * `unwedge/inspect/http`) is installed: install one at start-up and every later wait has its
   * age. With it off, a wait's age counts from the first snapshot that saw it
   * (`ageIsLowerBound`).
   */
  recordAges?: boolean;
}

const CONFIG_KEYS = ['captureOrigins', 'recordAges'] as const;

/**
 * Changes what waits record from now on (waits already parked keep what they have), and returns
 * the configuration in effect before, to restore it later.
 *
 * @example
 * ```ts
 * import { configure, formatInspect } from 'unwedge/inspect';
 * const previous = configure({ captureOrigins: true }); // for an investigation
 * // ... reproduce the hang, then:
 * process.stderr.write(formatInspect());
 * configure(previous);
 * ```
 */
export function configure(options: InspectConfig): Required<InspectConfig> {
  const o = check.options<InspectConfig>(options, CONFIG_KEYS);
  const origins = check.boolean(o.captureOrigins, 'options.captureOrigins');
  const ages = check.boolean(o.recordAges, 'options.recordAges');
  const previous = { captureOrigins: flags.origins, recordAges: flags.ages };
  if (origins !== undefined) flags.origins = origins;
  if (ages !== undefined) flags.ages = ages;
  retime();
  return previous;
}
