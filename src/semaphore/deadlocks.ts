// Deadlock detection for one Semaphore (its `detectDeadlocks` option): which of its permits are
// held by code running inside them (a run() callback, a fanOut() call), which parked waits are
// made inside such holds, and, when every permit in use is held by code that itself waits for the
// semaphore, the rejection of those nested waits. The holds live in core/holds.ts; a semaphore
// without detection has none of this, and its paths only test for it.
import { type Hold, heldHere, newHold, within } from '../core/holds.js';
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
  /** The holds of the semaphore's permits by run()/fanOut() code. */
  readonly #holds = new Set<Hold>();
  /** Waiters in line whose wait is made inside a hold of this semaphore. */
  #nested = 0;

  constructor(
    private readonly owner: object,
    /** Gives `weight` permits back to the semaphore (and serves its line). */
    private readonly release: (weight: number) => void,
  ) {}

  /** A new hold of `weight` permits by code labelled `label` (e.g. `fanOut item 3`). */
  hold(weight: number, label: string): Hold {
    const hold = newHold(this.owner, weight, label);
    this.#holds.add(hold);
    return hold;
  }

  /** The permits of `hold` are given back: it holds nothing any more. */
  drop(hold: Hold): void {
    this.#holds.delete(hold);
  }

  /**
   * Calls `fn` on `weight` permits already taken, inside a hold of them, and gives them back when
   * its result settles (return, throw or rejection).
   */
  run(fn: () => unknown, weight: number): Promise<unknown> {
    const hold = this.hold(weight, 'run()');
    const done = () => {
      this.drop(hold);
      this.release(weight);
    };
    let result: unknown;
    try {
      result = within(hold, fn);
    } catch (error) {
      done();
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (value) => {
        done();
        return value;
      },
      (error: unknown) => {
        done();
        throw error;
      },
    );
  }

  /** `waiter` was just parked: if its wait is made inside holds of this semaphore, it blocks them. Returns whether it does. */
  block(waiter: W): boolean {
    const blocking = heldHere(this.owner);
    if (blocking.length === 0) return false;
    waiter.blocking = blocking;
    this.#nested++;
    for (const hold of blocking) hold.blocked++;
    return true;
  }

  /** A waiter left the line or was served: it no longer blocks the holds it waited inside. */
  readonly unblock = (waiter: W): void => {
    if (waiter.blocking === undefined) return;
    this.#nested--;
    for (const hold of waiter.blocking) hold.blocked--;
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
    let stuck = 0;
    for (const hold of this.#holds) if (hold.blocked > 0) stuck += hold.weight;
    if (stuck < total - free) return false;
    const holders = [...this.#holds].map((h) => h.label).join(', ');
    const victims = [...waiters].filter((w) => w.blocking !== undefined);
    for (const waiter of victims) {
      waiters.remove(waiter);
      this.unblock(waiter);
      fail(
        waiter,
        new DeadlockError(
          `${who} would deadlock: all ${total} permits are held by callers that wait for it themselves ` +
            `(${holders}); rejected ${victims.length} nested wait${victims.length === 1 ? '' : 's'}`,
        ),
      );
    }
    return true;
  }
}
