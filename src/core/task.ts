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
 * Measured per queued task (bench/context.ts, with an AsyncLocalStorage active): an AsyncResource
 * costs 165-260 ns to make and 13-25 ns to enter on Node 20-26, less than the await pattern's turn
 * promise and its reaction (334-1,195 ns), and it starts the task in the same tick as the grant;
 * `AsyncLocalStorage.snapshot()` costs 0.9-11.6 us.
 */
export function callerContext(): AsyncResource {
  return new AsyncResource('unwedge.task');
}

/**
 * Whether an active AsyncLocalStorage is free in this process: true where Node propagates context
 * through AsyncContextFrame (the default from Node 24, or Node 22 with
 * `--experimental-async-context-frame`), false where it uses async_hooks (Node 20 and 22, or 24+
 * with `--no-async-context-frame`), on which an active store made every promise 2.3-2.4x as
 * costly (588 vs 580 ns per promise chain on 24/26). The async_hooks store is the one whose class
 * has `_propagate`.
 */
export const contextIsFree: boolean =
  typeof (AsyncLocalStorage.prototype as { _propagate?: unknown })._propagate !== 'function';
