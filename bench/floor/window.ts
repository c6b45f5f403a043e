// The floor for a sliding window over an iterable: at most `window` calls in flight, results in
// input order, first error rejects. No semaphores, no signal, no lazy-input bookkeeping.
export function floorWindow<T, R>(
  items: Iterable<T>,
  fn: (item: T) => R | PromiseLike<R>,
  window: number,
): Promise<R[]> {
  return new Promise((resolve, reject) => {
    const it = items[Symbol.iterator]();
    const results: R[] = [];
    let index = 0;
    let active = 0;
    let done = false;
    let failed = false;
    const next = (): void => {
      while (!done && !failed && active < window) {
        const step = it.next();
        if (step.done) done = true;
        else {
          const i = index++;
          active++;
          Promise.resolve(fn(step.value)).then((value) => {
            results[i] = value;
            active--;
            next();
          }, fail);
        }
      }
      if (done && active === 0 && !failed) resolve(results);
    };
    const fail = (error: unknown): void => {
      failed = true;
      reject(error);
    };
    next();
  });
}
