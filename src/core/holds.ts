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
  /** Parked acquisitions, made inside this hold's context, on this hold's own owner. */
  blocked: number;
}

let store: AsyncLocalStorage<Hold> | undefined;

/** A new hold of `weight` on `owner`, nested in the current context's holds. */
export function newHold(owner: object, weight: number, label: string): Hold {
  store ??= newStore<Hold>();
  return { owner, weight, label, parent: store.getStore(), blocked: 0 };
}

/** Runs `fn` (and everything it starts) inside `hold`. */
export function within<T>(hold: Hold, fn: () => T): T {
  return store!.run(hold, fn);
}

/** The holds on `owner` that the current async context runs inside, innermost first. */
export function heldHere(owner: object): Hold[] {
  const held: Hold[] = [];
  for (let h = store?.getStore(); h !== undefined; h = h.parent) if (h.owner === owner) held.push(h);
  return held;
}
