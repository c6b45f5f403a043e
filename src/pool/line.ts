// The line of queued jobs as core/wait.ts sees it: a host apart from the pool, so that the hooks
// it calls are not on the pool's runtime surface.
import type { WaitLabel } from '../core/track.js';
import type { WaitHost } from '../core/wait.js';
import type { WaiterList } from '../core/waiters.js';
import type { TimeoutError } from '../errors.js';
import { type Job, OwnJob } from './job.js';

/** The pool a line belongs to, as the line sees it. */
interface LinePool {
  readonly name: string | undefined;
}

/**
 * @internal What the line asks of its pool, whose members for it are `#private`: set once, by
 * BasePool's static block (module functions, not a closure per pool).
 */
export const lineHooks = {} as {
  /** The error of a job whose queueTimeout fired while it was still in line. */
  queueTimeoutError: (pool: LinePool, ms: number | undefined) => TimeoutError;
  /** A job left the line without a slot (its timeout or its signal). */
  leftLine: (pool: LinePool, job: Job) => void;
};

/** @internal */
export class JobLine implements WaitHost<Job> {
  constructor(
    readonly pool: LinePool,
    readonly waiters: WaiterList<Job>,
  ) {}
  timeoutError(job: Job): TimeoutError {
    return lineHooks.queueTimeoutError(this.pool, job instanceof OwnJob ? job.queueTimeout : undefined);
  }
  onLeave(job: Job): void {
    lineHooks.leftLine(this.pool, job);
  }
  describeWait(job: Job): WaitLabel {
    const timeout = job instanceof OwnJob ? job.queueTimeout : undefined;
    return { kind: 'pool', name: this.pool.name, what: 'run (queued)', timeout };
  }
}
