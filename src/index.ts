/**
 * Non-blocking concurrency primitives for Node.js services: every wait is bounded, cancellable
 * and visible. A {@link Semaphore}, a {@link WorkerPool}, a {@link BoundedQueue}, {@link fanOut},
 * a {@link TaskRegistry} for background work and {@link withTimeout}; each wait takes a `timeout`
 * in ms and an `AbortSignal`, and every failure of ours is an {@link UnwedgeError} with a stable
 * `code`. The other entry points: `unwedge/redis` (one limit across processes), `unwedge/inspect`
 * and `unwedge/inspect/http` (see what waits, and for how long), and the fronts `unwedge/piscina`,
 * `unwedge/p-queue` and `unwedge/p-limit` (the pool contract for pools you already run).
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { Semaphore, TimeoutError } from 'unwedge';
 * const db = new Semaphore(1, { name: 'db' });
 * const slow = db.run(() => sleep(200)); // holds the only permit for 200 ms
 * try {
 *   await db.run(() => sleep(10), { timeout: 50 });
 * } catch (error) {
 *   if (error instanceof TimeoutError) console.log(error.code); // → ERR_UNWEDGE_TIMEOUT
 * }
 * await slow;
 * ```
 * @module unwedge
 */

// The public surface of unwedge, on one screen.

export {
  ClosedError,
  DeadlockError,
  LeaseLostError,
  QueueFullError,
  TimeoutError,
  UnwedgeError,
  type UnwedgeErrorOptions,
} from './errors.js';
export { fanOut } from './fan-out/fan-out.js';
export { type FanOutIterableOptions, fanOutIterable } from './fan-out/iterable.js';
export type { FanOutContext, FanOutFn, FanOutInput, FanOutOptions, PoolLike } from './fan-out/options.js';
export {
  channels,
  configure,
  type EventLoopBlock,
  type EventLoopWatcher,
  formatInspect,
  type InspectConfig,
  type InspectReport,
  inspect,
  type PrimitiveReport,
  type Stall,
  type TaskErrorMessage,
  type WaitEndMessage,
  type WaitOutcome,
  type WaitReport,
  type WaitStartMessage,
  type WatchEventLoopOptions,
  type Watcher,
  type WatchStallsOptions,
  watchEventLoop,
  watchStalls,
  writeStall,
} from './inspect/index.js';
export {
  Lifecycle,
  type LifecycleOptions,
  type LifecycleState,
  type Resource,
  type UseOptions,
} from './lifecycle/lifecycle.js';
export {
  formatLifecycleReport,
  type LifecycleFailure,
  type LifecycleReport,
  type LifecycleStep,
  type StepOutcome,
  type Straggler,
} from './lifecycle/report.js';
export { FORCE_GRACE_MS } from './lifecycle/run.js';
export type { HandleSignalsOptions } from './lifecycle/signals.js';
export {
  type Pool,
  type PoolIdleOptions,
  type PoolOptions,
  type PoolRunOptions,
  type PoolShutdownOptions,
  type PoolShutdownReport,
  type PoolTask,
  WorkerPool,
  type WorkerPoolOptions,
} from './pool/index.js';
export type { ConsumeOptions, Consumer } from './queue/consumer.js';
export type { BoundedQueueOptions, QueueShutdownOptions, QueueWaitOptions } from './queue/options.js';
export { BoundedQueue } from './queue/queue.js';
export {
  type RegistryShutdownOptions,
  type RegistryShutdownReport,
  type SpawnOptions,
  type Task,
  type TaskInfo,
  TaskRegistry,
  type TaskRegistryOptions,
  type TaskState,
} from './registry/registry.js';
export {
  type AcquireOptions,
  type Permit,
  Semaphore,
  type SemaphoreLike,
  type SemaphoreOptions,
} from './semaphore/semaphore.js';
export { type WithTimeoutOptions, type Work, withTimeout } from './timeout.js';
