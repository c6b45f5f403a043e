// Deadlock detection for one Semaphore (its `detectDeadlocks` option): which of its permits are
// held by code running inside them (a run() callback, a fanOut() call), which parked waits are
// made inside such holds, and, when every permit in use is held by code that itself waits for the
// semaphore, the rejection of those nested waits. The holds live in core/holds.ts; a semaphore
// without detection has none of this, and its paths only test for it.
import { count } from '../core/count.js';
import { currentHold, type Hold, heldHere, newHold, within } from '../core/holds.js';
import { fail, type Waiter } from '../core/wait.js';
import type { WaiterList } from '../core/waiters.js';
import { DeadlockError } from '../errors.js';

/** A parked wait, as detection sees it: how many permits it wants, and the holds it blocks. */
export interface NestedWait extends Waiter<unknown> {
  readonly weight: number;
  /** The holds of this semaphore that this wait is made inside; set only while it blocks them. */
  blocking: Hold[] | undefined;
}

/** The detection of one semaphore: its holds, and its waits made inside them. */
export class Deadlocks<W extends NestedWait> {
  /**
   * Permits held by holds that some parked wait of this semaphore is made inside (`blocked > 0`).
   * Kept as a sum rather than found by walking a set of every hold: adding and deleting each
   * run()'s hold in a Set, and a closure per run to drop it, cost ~1.1 us per `Semaphore.run` on
   * Node 24 and 26 on top of the AsyncLocalStorage.run it needs (3925 vs 2737 ns per task,
   * concurrency 16; .vitest-tmp/alscost.ts).
   */
  #stuck = 0;
  /** Waiters in line whose wait is made inside a hold of this semaphore. */
  #nested = 0;

  constructor(
    private readonly owner: object,
    /** Gives `weight` permits back to the semaphore (and serves its line). */
    private readonly release: (weight: number) => void,
  ) {}

  /** A new hold of `weight` permits by code labelled `label` (e.g. `fanOut item 3`). */
  hold(weight: number, label: string): Hold {
    return newHold(this.owner, weight, label);
  }

  /** The permits of `hold` are given back: it holds nothing any more, and blocks nothing. */
  drop(hold: Hold): void {
    if (hold.blocked > 0) this.#stuck -= hold.weight;
    hold.blocked = -1; // dropped: waits still parked inside it no longer count it (see unblock)
  }

  /**
   * Calls `fn` on `weight` permits already taken, inside a hold of them, and gives them back when
   * its result settles (return, throw or rejection).
   */
  run(fn: () => unknown, weight: number): Promise<unknown> {
    return within(this.hold(weight, 'run()'), this.#start, fn);
  }

  // Runs inside the hold, so the reactions below find it as the current hold: no closure per run.
  readonly #start = (fn: () => unknown): Promise<unknown> => {
    let result: unknown;
    try {
      result = fn();
    } catch (error) {
      this.#end();
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(this.#fulfilled, this.#rejected);
  };

  readonly #fulfilled = (value: unknown): unknown => {
    this.#end();
    return value;
  };

  readonly #rejected = (error: unknown): never => {
    this.#end();
    throw error;
  };

  /** The run() whose hold is current has settled: its permits go back. */
  #end(): void {
    const hold = currentHold()!;
    this.drop(hold);
    this.release(hold.weight);
  }

  /** `waiter` was just parked: if its wait is made inside holds of this semaphore, it blocks them. Returns whether it does. */
  block(waiter: W): boolean {
    const blocking = heldHere(this.owner);
    if (blocking.length === 0) return false;
    waiter.blocking = blocking;
    this.#nested++;
    for (const hold of blocking) if (hold.blocked++ === 0) this.#stuck += hold.weight;
    return true;
  }

  /** A waiter left the line or was served: it no longer blocks the holds it waited inside. */
  readonly unblock = (waiter: W): void => {
    if (waiter.blocking === undefined) return;
    this.#nested--;
    for (const hold of waiter.blocking)
      if (hold.blocked > 0 && --hold.blocked === 0) this.#stuck -= hold.weight;
    waiter.blocking = undefined;
  };

  /**
   * If the head of `waiters` cannot be served and every permit in use (`total - free`) is held by
   * code that is itself waiting here, nothing can ever be released: takes the nested waits out of
   * line and rejects them with a `DeadlockError` naming `who` and the holders. Returns whether it
   * rejected any (then the waits behind them may be served).
   */
  detect(waiters: WaiterList<W>, free: number, total: number, who: string): boolean {
    // No wait in line is made inside a holder: nothing to detect. Without this check, every release
    // behind a full line walked every hold (4 % of Semaphore.run on Node 24 with 16 permits).
    if (this.#nested === 0) return false;
    const head = waiters.head;
    if (head === undefined || head.weight <= free) return false;
    if (this.#stuck < total - free) return false;
    const victims = [...waiters].filter((w) => w.blocking !== undefined);
    const holds = [...new Set(victims.flatMap((w) => w.blocking!))];
    const held = total === 1 ? 'its only permit is' : `all ${total} permits are`;
    const by =
      holds.length === 1 ? 'a caller that waits for it itself' : 'callers that wait for it themselves';
    const holders = holds.map((h) => h.label).join(', ');
    for (const waiter of victims) {
      waiters.remove(waiter);
      this.unblock(waiter);
      fail(
        waiter,
        new DeadlockError(
          `${who} would deadlock: ${held} held by ${by} (${holders}); ` +
            `rejected ${count(victims.length, 'nested wait')}`,
        ),
      );
    }
    return true;
  }
}
