// The floor for a concurrency limiter: the simplest correct code for the job. One caller promise
// per task, an array-indexed FIFO of { fn, resolve, reject } records, no options, no cancellation.
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
