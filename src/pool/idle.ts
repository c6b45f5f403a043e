// A pool's `idle()` and `shutdown()` waits: parked in their own line (a WaitHost apart from the
// queued jobs), settled when the pool goes idle, and counting what a shutdown did for its report.
import type { WaitLabel } from '../core/track.js';
import { Waiter } from '../core/wait.js';
import type { PoolShutdownReport } from './contract.js';

/** @internal An `idle()` wait (`drain` undefined) or a `shutdown()` wait, with its report's counts. */
export class IdleWaiter extends Waiter<void> {
  cancelled = 0;
  aborted = 0;
  stillRunning = 0;
  constructor(
    readonly timeout: number | undefined,
    readonly drain: boolean | undefined,
  ) {
    super();
  }
}

/** @internal What an idle waiter waits in: `idle`, `shutdown` or `shutdown (drain)`. */
export function idleWaitWhat(w: IdleWaiter): string {
  return w.drain === undefined ? 'idle' : w.drain ? 'shutdown (drain)' : 'shutdown';
}

/** @internal How an idle waiter is named in diagnostics_channel messages (`this`: its line). */
export function describeIdleWaiter(this: { name: string | undefined }, w: IdleWaiter): WaitLabel {
  return { kind: 'pool', name: this.name, what: idleWaitWhat(w), timeout: w.timeout };
}

/** @internal A shutdown's report, from its waiter's counts. */
export function reportOf(w: IdleWaiter): PoolShutdownReport {
  return { cancelled: w.cancelled, aborted: w.aborted, stillRunning: w.stillRunning };
}
