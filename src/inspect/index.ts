/**
 * See every stuck wait. A Node process has no py-spy for promises: an `await` that never resumes
 * leaves no stack behind. But every wait in unwedge goes through one mechanism that knows what is
 * parked, on what, since when and (with origins on) from where, so it can be dumped on demand
 * ({@link inspect}, {@link formatInspect}), watched for stalls ({@link watchStalls}), and published
 * on diagnostics_channel ({@link channels}). A blocked event loop is watched from a worker thread,
 * the only place that can still speak while the main thread is stuck ({@link watchEventLoop}).
 * Nothing here keeps the process alive. The HTTP route and the signal are in `unwedge/inspect/http`.
 *
 * @module unwedge/inspect
 */

import { flags, retime } from '../core/track.js';
import * as check from '../core/validate.js';

export type {
  LeaseLostMessage,
  RefusedMessage,
  RunTrace,
  TaskErrorMessage,
  WaitEndMessage,
  WaitStartMessage,
  WaitTrace,
} from '../core/channels.js';
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
 * import { subscribe, unsubscribe } from 'node:diagnostics_channel';
 * import { Semaphore } from 'unwedge';
 * import { channels, type WaitEndMessage } from 'unwedge/inspect';
 * const onEnd = (message: unknown) => {
 *   const { kind, name, what, outcome } = message as WaitEndMessage;
 *   console.log(`${kind} ${name}: ${what} ${outcome}`); // → semaphore channels-demo: acquire 1 permit timeout
 * };
 * subscribe(channels.waitEnd, onEnd);
 * const sem = new Semaphore(1, { name: 'channels-demo' });
 * const permit = await sem.acquire(); // no wait: nothing published
 * await sem.acquire({ timeout: 10 }).catch(() => {}); // parks, then times out
 * permit.release();
 * unsubscribe(channels.waitEnd, onEnd);
 * ```
 */
export const channels = {
  /** A wait parked (or a `withTimeout` / `fanOut` call started): a `WaitStartMessage`. */
  waitStart: 'unwedge:wait:start',
  /** That wait ended: a `WaitEndMessage` with its `outcome` and `duration`. */
  waitEnd: 'unwedge:wait:end',
  /** A task failed and was reported (a queue consumer's handler, a pool or registry task): a `TaskErrorMessage`. */
  taskError: 'unwedge:task:error',
  /** A call refused without waiting (a pool's or queue's line full, a closed primitive): a `RefusedMessage`. */
  refused: 'unwedge:refused',
  /** A `RedisSemaphore` permit's lease was lost: a `LeaseLostMessage`. */
  leaseLost: 'unwedge:lease:lost',
  /** The TracingChannel of every parked wait (`tracing:unwedge:wait:start`, …): `WaitTrace` messages. */
  wait: 'unwedge:wait',
  /** The TracingChannel of every task run (pool, registry, consumer): `RunTrace` messages. */
  run: 'unwedge:run',
} as const;

/**
 * Options of {@link configure}.
 *
 * @example
 * ```ts
 * import { configure, type InspectConfig } from 'unwedge/inspect';
 * const config: InspectConfig = { captureOrigins: true, recordAges: true };
 * const previous = configure(config);
 * console.log(previous); // → { captureOrigins: false, recordAges: false }
 * configure(previous);
 * ```
 */
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
 * import { BoundedQueue } from 'unwedge';
 * import { configure, inspect } from 'unwedge/inspect';
 * const previous = configure({ captureOrigins: true }); // for an investigation
 * const jobs = new BoundedQueue<string>({ capacity: 1, name: 'configure-demo' });
 * await jobs.put('a');
 * const stuck = jobs.put('b').catch(() => {}); // waits: the queue is full and nobody takes
 * const [put] = inspect().primitives.find((p) => p.name === 'configure-demo')!.waits;
 * console.log(put!.what, put!.origin.length > 0); // → put true
 * jobs.shutdown({ immediate: true });
 * await stuck;
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
