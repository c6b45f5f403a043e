// The floor for a concurrency limiter: the simplest correct code for the job. One caller promise
// per task, an array-indexed FIFO of { fn, resolve, reject } records, no options, no cancellation.
import { AsyncLocalStorage } from 'node:async_hooks';

interface Job {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

export function floorLimiter(concurrency: number): <T>(fn: () => T | PromiseLike<T>) => Promise<T> {
  let queue: Array<Job | undefined> = [];
  let head = 0;
  let active = 0;
  const done = (): void => {
    active--;
    if (head === queue.length) return;
    const job = queue[head]!;
    queue[head++] = undefined;
    if (head === queue.length) {
      queue = [];
      head = 0;
    }
    start(job);
  };
  const start = (job: Job): void => {
    active++;
    new Promise((resolve) => resolve(job.fn())).then(job.resolve, job.reject).then(done);
  };
  return <T>(fn: () => T | PromiseLike<T>) =>
    new Promise<T>((resolve, reject) => {
      const job = { fn, resolve, reject } as Job;
      if (active < concurrency) start(job);
      else queue.push(job);
    });
}

/**
 * The floor for a limiter that keeps its caller's async context (issue 16): the await pattern. A
 * queued caller awaits its turn and then calls `fn` itself, so `fn` runs in the caller's context
 * rather than the releaser's. One turn promise per queued task on top of the context-blind floor.
 */
export function floorLimiterInContext(concurrency: number): <T>(fn: () => T | PromiseLike<T>) => Promise<T> {
  let turns: Array<(() => void) | undefined> = [];
  let head = 0;
  let free = concurrency;
  const release = (): void => {
    if (head === turns.length) {
      free++;
      return;
    }
    const turn = turns[head]!;
    turns[head++] = undefined;
    if (head === turns.length) {
      turns = [];
      head = 0;
    }
    turn(); // the slot passes straight to the next in line
  };
  return async <T>(fn: () => T | PromiseLike<T>): Promise<T> => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => turns.push(resolve));
    try {
      return await fn();
    } finally {
      release();
    }
  };
}

/**
 * The floor for a limiter that also knows, in every task's async context, which task it is: the
 * context-keeping floor plus one `AsyncLocalStorage.run` per task. It is what deadlock detection
 * (`Semaphore`'s `detectDeadlocks`) and nested-run detection (the pools' `asyncContext`) need at
 * the least, so the fair floor for them where they are on by default (Node 24 and later).
 */
export function floorLimiterTracking(concurrency: number): <T>(fn: () => T | PromiseLike<T>) => Promise<T> {
  const limit = floorLimiterInContext(concurrency);
  const store = new AsyncLocalStorage<number>();
  let id = 0;
  return (fn) => limit(() => store.run(id++, fn));
}
