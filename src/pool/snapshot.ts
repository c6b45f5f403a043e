// What `inspect()` shows of a pool: its slots and their use, and each running task (or abandoned
// one), each queued run() and each idle() or shutdown() wait, with its age and timeout.
import { type PrimitiveSnapshot, UNTIMED, type WaitSnapshot } from '../core/track.js';
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
  watchers: Iterable<IdleWaiter>;
}

/** @internal A pool's entry in `inspect()`. */
export function poolSnapshot(p: PoolView): PrimitiveSnapshot {
  const waits: WaitSnapshot[] = [];
  for (const job of p.running) {
    const state = job.state === ABANDONED ? 'abandoned' : 'running';
    const timeout = job instanceof OwnJob ? job.timeout : undefined;
    waits.push({ key: job, what: 'task', since: startedAt.get(job) ?? UNTIMED, timeout, state });
  }
  let queued = 0;
  for (const job of p.queued) {
    const timeout = job instanceof OwnJob ? job.queueTimeout : undefined;
    waits.push({ key: job, what: 'run (queued)', since: job.since, timeout });
    queued++;
  }
  for (const w of p.watchers) {
    waits.push({ key: w, what: idleWaitWhat(w), since: w.since, timeout: w.timeout });
  }
  const abandoned = p.abandoned > 0 ? ` (${p.abandoned} abandoned)` : '';
  const closed = p.state === 'open' ? '' : `, ${p.state}`;
  return {
    kind: 'pool',
    name: p.name,
    summary: `${p.load}${abandoned}, maxQueue ${p.maxQueue}${closed}`,
    stats: {
      concurrency: p.concurrency,
      active: p.used,
      queued,
      maxQueue: p.maxQueue,
      abandoned: p.abandoned,
      state: p.state,
    },
    waits,
  };
}
