// What `inspect()` shows of a pool: its slots and their use, and each running task (or abandoned
// one), each queued run() and each idle() or shutdown() wait, with its age and timeout.
import { type Sample, sinceOf } from '../core/sample.js';
import { type Described, UNTIMED } from '../core/track.js';
import { type IdleWaiter, idleWaitWhat } from './idle.js';
import { ABANDONED, type Job, OwnJob } from './job.js';
import { startedAt } from './running.js';

/** @internal What a pool's snapshot is made from. */
export interface PoolView {
  name: string | undefined;
  concurrency: number;
  used: number;
  maxQueue: number;
  abandoned: number;
  state: string;
  /** "N slots, N in use, N waiting". */
  load: string;
  running: Iterable<Job>;
  queued: Iterable<Job>;
  queuedCount: number;
  watchers: Iterable<IdleWaiter>;
}

/** @internal A pool's entry in `inspect()`. */
export function poolSnapshot(p: PoolView, sample: Sample): Described {
  sample.take(p.running, runningSince, (job) => {
    const state = job.state === ABANDONED ? 'abandoned' : 'running';
    const timeout = job instanceof OwnJob ? job.timeout : undefined;
    return { key: job, what: 'task', since: runningSince(job), timeout, state };
  });
  sample.take(p.queued, sinceOf, (job) => {
    const timeout = job instanceof OwnJob ? job.queueTimeout : undefined;
    return { key: job, what: 'run (queued)', since: job.since, timeout };
  });
  sample.take(p.watchers, sinceOf, (w) => ({
    key: w,
    what: idleWaitWhat(w),
    since: w.since,
    timeout: w.timeout,
  }));
  const abandoned = p.abandoned > 0 ? ` (${p.abandoned} abandoned)` : '';
  const closed = p.state === 'open' ? '' : `, ${p.state}`;
  return {
    kind: 'pool',
    name: p.name,
    summary: `${p.load}${abandoned}, maxQueue ${p.maxQueue}${closed}`,
    stats: {
      concurrency: p.concurrency,
      active: p.used,
      queued: p.queuedCount,
      maxQueue: p.maxQueue,
      abandoned: p.abandoned,
      state: p.state,
    },
  };
}

const runningSince = (job: Job): number => startedAt.get(job) ?? UNTIMED;
