// The running phase: what happens to a caller's function once it is admitted. Two rules hold for
// every primitive that runs a caller's function later (pool, fronts, Semaphore.run, fanOut, consume):
// 1. It starts in the async context of the call that submitted it, never in the context of
//    whichever task freed the slot (docs/hazards/lost-async-context.md).
// 2. Abandoning it (abort, timeout, shutdown) settles its caller at once, but every slot, permit
//    and window place it holds is given back only when it really settles (docs/hazards/
//    abandoned-work-keeps-its-slot.md).
import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Starts `start(grant)` once `granted` fulfils, in the async context of this call; rejects as
 * `granted` does, without calling `start`.
 *
 * This is the await pattern (`await turn; return fn()`): a promise reaction runs in the context in
 * which it was registered, and it is registered here, by the caller, while the grant comes later
 * from whoever frees a slot. p-limit does the same (`new Promise(enqueue).then(run)`); p-queue,
 * fastq and cockatiel call the queued function from the releaser and leak its context. Binding the
 * function instead (`AsyncResource.bind`, `AsyncLocalStorage.snapshot()`) cost 3.1-13.5x the
 * context-blind floor per queued task; this costs one promise reaction (bench/limiter.ts).
 */
export function startInCallerContext<W, R>(granted: Promise<W>, start: (grant: W) => R): Promise<Awaited<R>> {
  return granted.then(start) as Promise<Awaited<R>>;
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
