// fanOut: calls a function for every item of an iterable with at most `window` calls in flight,
// each gated by the semaphores and run on the pool it is given, and resolves with the results. The
// engine it shares with fanOutIterable is run.ts; what both are given, options.ts.
import { startCall } from '../core/live.js';
import { type FanOutFn, type FanOutInput, type FanOutOptions, type Parsed, parse } from './options.js';
import { Run } from './run.js';

/**
 * Calls `fn` for every item with at most `options.window` calls in flight, each gated by one
 * permit of every semaphore in `options.semaphores`, and resolves with the results in input
 * order. Input is read only as the window frees. Every call runs in the async context of this
 * `fanOut()` call (AsyncLocalStorage), on a pool too.
 *
 * Without `settle`, the first error aborts the calls in flight (through their `signal`), starts
 * nothing new, and rejects with that error **after** those calls have settled: when the promise
 * settles, nothing it started is still running. With `settle: true`, item errors never reject;
 * it resolves with a `PromiseSettledResult` per item. A call that its pool abandoned (a timeout, an
 * abort) keeps its permits and its window place until it settles. `options.signal` aborting stops it
 * too, aborts the calls in flight, and rejects at once with exactly its reason (or, when a call had
 * already failed and it was waiting for the others, at once with that failure: the first reason
 * wins, so that no failure goes unseen); calls that ignore their signal go on holding their permits
 * and pool slots until they settle.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { fanOut, Semaphore } from 'unwedge';
 * const STORAGE_CHUNKS = new Semaphore(32, { name: 'storage-chunks' }); // one per process
 * const download = (id: number, { signal }: { signal: AbortSignal }) => sleep(10, `chunk ${id}`, { signal });
 * const chunks = await fanOut([1, 2, 3], (id, { signal }) => download(id, { signal }), {
 *   window: 8, // at most 8 downloads in flight for this call
 *   semaphores: [STORAGE_CHUNKS], // at most 32 in the whole process
 * });
 * console.log(chunks); // → [ 'chunk 1', 'chunk 2', 'chunk 3' ]
 * const settled = await fanOut([1, 2], async (id) => (id === 2 ? Promise.reject(new Error('gone')) : id), {
 *   window: 2,
 *   settle: true, // an error per item instead of the first error for all
 * });
 * console.log(settled.map((r) => r.status)); // → [ 'fulfilled', 'rejected' ]
 * ```
 */
export function fanOut<T, R>(
  items: FanOutInput<T>,
  fn: FanOutFn<T, R>,
  options: FanOutOptions & { settle?: false },
): Promise<Awaited<R>[]>;
export function fanOut<T, R>(
  items: FanOutInput<T>,
  fn: FanOutFn<T, R>,
  options: FanOutOptions & { settle: true },
): Promise<PromiseSettledResult<Awaited<R>>[]>;
export function fanOut<T, R>(
  items: FanOutInput<T>,
  fn: FanOutFn<T, R>,
  options: FanOutOptions & { settle?: boolean },
): Promise<Awaited<R>[] | PromiseSettledResult<Awaited<R>>[]>;
export function fanOut<T, R>(
  items: FanOutInput<T>,
  fn: FanOutFn<T, R>,
  options: FanOutOptions & { settle?: boolean },
): Promise<unknown[]> {
  let parsed: Parsed;
  let settle: boolean;
  try {
    parsed = parse(items, fn, options, 'settle');
    settle = parsed.flag ?? false;
  } catch (error) {
    return Promise.reject(error);
  }
  if (parsed.signal?.aborted) return Promise.reject(parsed.signal.reason);
  return new Promise((resolve, reject) => {
    const results: unknown[] = [];
    const run = new Run<T, R>(items, fn, parsed, settle, {
      results,
      end(failed, reason) {
        if (failed) reject(reason);
        else resolve(results);
      },
    });
    startCall(run, fanOut);
    run.pump();
  });
}
