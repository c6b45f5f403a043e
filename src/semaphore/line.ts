// A Semaphore's line: its parked callers, and the host core/wait.ts parks them on. Kept apart from
// the Semaphore (as queue.ts's Line is) and held in a `#private` field of it, so that none of the
// hooks the wait mechanism calls (`waiters`, `timeoutError`, `onLeave`, `describeWait`) is
// reachable on a Semaphore at runtime.
import type { AsyncResource } from 'node:async_hooks';
import { count } from '../core/count.js';
import type { Hold } from '../core/holds.js';
import { callerContext } from '../core/task.js';
import type { WaitLabel } from '../core/track.js';
import { resolveOnly, Waiter, type WaitHost } from '../core/wait.js';
import { WaiterList } from '../core/waiters.js';
import { TimeoutError } from '../errors.js';

/** A parked `acquire` (no `fn`) or a parked `run` (with `fn`, started when served). */
export class SemaphoreWaiter extends Waiter<unknown> {
  /**
   * With deadlock detection: the holds of this semaphore that this wait blocks. Set only then
   * (declared, not initialised: one field less per parked waiter otherwise).
   */
  declare blocking: Hold[] | undefined;
  /** A parked `run`'s caller context, which `fn` starts in. */
  readonly context: AsyncResource | undefined;
  constructor(
    readonly weight: number,
    readonly timeout: number | undefined,
    readonly fn: (() => unknown) | undefined,
  ) {
    super();
    this.context = fn === undefined ? undefined : callerContext();
  }
}

resolveOnly(SemaphoreWaiter);

/** `acquire 1 permit`, `run (2 permits)`: a parked caller in `inspect()` and diagnostics_channel. */
export function waitWhat(w: SemaphoreWaiter): string {
  const permits = count(w.weight, 'permit');
  return w.fn === undefined ? `acquire ${permits}` : `run (${permits})`;
}

/** What the line reads of its semaphore: its public figures. */
interface Owner {
  readonly name: string | undefined;
  readonly permits: number;
  readonly available: number;
}

/**
 * The line of parked callers of one semaphore, oldest first, and their host. The line is its own
 * list of waiters: one object per semaphore, not two (a semaphore made per request is common).
 */
export class SemaphoreLine extends WaiterList<SemaphoreWaiter> implements WaitHost<SemaphoreWaiter> {
  constructor(
    private readonly owner: Owner,
    /** A waiter left by abort or timeout: if it was blocking the head, those behind may fit now. */
    readonly onLeave: (waiter: SemaphoreWaiter) => void,
  ) {
    super();
  }

  /** Itself. A field, not a getter: park() reads it on every wait, and a getter measured slower on parked runs. */
  readonly waiters: WaiterList<SemaphoreWaiter> = this;

  /** `semaphore "storage-chunks"`, or `semaphore` when it has no name. */
  who(): string {
    return this.owner.name === undefined ? 'semaphore' : `semaphore ${JSON.stringify(this.owner.name)}`;
  }

  /**
   * The error of a wait for `weight` permits that gave up after `timeout` ms; `parked`: it is still
   * in line (a timer fired), so the waiters it names are the others.
   */
  timeoutError(waiter: { weight: number; timeout: number | undefined }, parked = true): TimeoutError {
    const { permits, available } = this.owner;
    const what = waiter.weight === 1 ? 'permit' : `${waiter.weight} permits`;
    const others = count(this.length - (parked ? 1 : 0), 'other');
    const state = `${count(permits, 'permit')}, ${permits - available} in use, ${others} waiting`;
    return new TimeoutError(`${this.who()} gave no ${what} within ${waiter.timeout} ms (${state})`);
  }

  describeWait(w: SemaphoreWaiter): WaitLabel {
    return { kind: 'semaphore', name: this.owner.name, what: waitWhat(w), timeout: w.timeout };
  }
}
