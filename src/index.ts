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
