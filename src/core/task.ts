// The running phase: what happens to a caller's function once it is admitted. Two rules hold for
// every primitive that runs a caller's function later (pool, fronts, Semaphore.run, fanOut, consume):
// 1. It starts in the async context of the call that submitted it, never in the context of
//    whichever task freed the slot (docs/hazards/lost-async-context.md): `callerContext()`.
// 2. Abandoning it (abort, timeout, shutdown) settles its caller at once, but every slot, permit
//    and window place it holds is given back only when it really settles (docs/hazards/
//    abandoned-work-keeps-its-slot.md).
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';

/**
 * The async context of the current call, to start a function in later: `runInAsyncScope(fn)` calls
 * it there, whoever calls `runInAsyncScope`. Every primitive that queues a caller's function takes
 * one when it queues it, and only then (a function started at once already runs in its caller's
 * context).
 *
 * Why an AsyncResource and not the await pattern (a turn promise per queued task, whose reaction
 * starts the task): measured end to end, 200,000 queued `WorkerPool.run`s at concurrency 16 cost
 * ~1.05 us each this way against ~1.5-2.3 us with a turn promise on Node 24 (0.85 us before the
 * context was kept at all), ~1.8 us against ~2.0-2.6 us on Node 20 (1.5 us before), and the task
 * starts in the same tick as its grant. Per operation (bench/context.ts): 106-182 ns to make, 16-19
 * ns to enter on Node 20-26; `AsyncLocalStorage.snapshot()` costs 1.1-12.6 us.
 */
export function callerContext(): AsyncResource {
  return new AsyncResource('unwedge.task');
}

/**
 * Whether an active AsyncLocalStorage is free in this process: true where Node propagates context
 * through AsyncContextFrame (the default from Node 24, or Node 22 with
 * `--experimental-async-context-frame`), false where it uses async_hooks (Node 20 and 22, or 24+
 * with `--no-async-context-frame`). Measured per `await` (bench/context.ts): 61 -> 194 ns on Node
 * 20 and 54 -> 170 ns on 22 once a store is active; 72 -> 58 ns on 24 and 70 -> 48 ns on 26.
 * (Free per promise, not per `run()`: `AsyncLocalStorage.run` costs ~275 ns on 24/26, 22-28 ns on
 * 20/22.) The async_hooks store is the one whose class has `_propagate`.
 */
export const contextIsFree: boolean =
  typeof (AsyncLocalStorage.prototype as { _propagate?: unknown })._propagate !== 'function';

/**
 * A new AsyncLocalStorage. Given an options object without a prototype: from Node 24 its
 * constructor reads `options.name` and `options.defaultValue` from `{}`, so a `name` set on
 * `Object.prototype` (prototype pollution) made `new WorkerPool()` throw there.
 */
export function newStore<T>(): AsyncLocalStorage<T> {
  return new (AsyncLocalStorage as new (options: object) => AsyncLocalStorage<T>)(Object.create(null));
}
