// Who holds which semaphore, in the current async context: the wait-for graph behind deadlock
// detection. Enabling any AsyncLocalStorage on Node 20 roughly doubles the cost of every promise
// in the process (measured: 1.5 µs → 3.0 µs per task), so the store is created only when a
// semaphore opts in with `detectDeadlocks`, and consulted only on slow paths.
import type { AsyncLocalStorage } from 'node:async_hooks';
import { newStore } from './task.js';

/** One holding of permits by a run() or fanOut() callback, and how many of its descendants wait. */
export interface Hold {
  readonly owner: object;
  readonly weight: number;
  readonly label: string;
  readonly parent: Hold | undefined;
  /**
   * Parked acquisitions, made inside this hold's context, on this hold's own owner; -1 once its
   * permits are given back (then nothing made inside it blocks it).
   */
  blocked: number;
}

let store: AsyncLocalStorage<Hold> | undefined;

/** A new hold of `weight` on `owner`, nested in the current context's holds. */
export function newHold(owner: object, weight: number, label: string): Hold {
  store ??= newStore<Hold>();
  return { owner, weight, label, parent: store.getStore(), blocked: 0 };
}

/** Runs `fn(...args)` (and everything it starts) inside `hold`. */
export function within<T, A extends unknown[]>(hold: Hold, fn: (...args: A) => T, ...args: A): T {
  return store!.run(hold, fn, ...args);
}

/** The innermost hold the current async context runs inside. */
export function currentHold(): Hold | undefined {
  return store?.getStore();
}

/** The holds on `owner`, not yet given back, that the current async context runs inside, innermost first. */
export function heldHere(owner: object): Hold[] {
  const held: Hold[] = [];
  for (let h = store?.getStore(); h !== undefined; h = h.parent)
    if (h.owner === owner && h.blocked >= 0) held.push(h);
  return held;
}
