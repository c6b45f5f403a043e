// One call of a fan-out under the limits it shares with the rest of the process: a permit of every
// semaphore (in one global order), then a slot of the pool. A limit limits running work, so the
// gate never settles before the call itself has: a call the pool abandoned keeps what it holds.

import { ignore } from '../core/never.js';
import { type Permit, runInPermit } from '../semaphore/semaphore.js';
import type { FanOutContext, FanOutFn, Parsed } from './options.js';

/**
 * @internal Takes one permit of each semaphore in global order, then calls `fn` (on the pool, if
 * any). Settles with the call's outcome, or the pool's (a timeout, an abort, a shutdown), but never
 * before the call itself has settled: a call the pool abandoned still holds its permits and its
 * place in the window, so that `window` and the semaphores limit what really runs. `abandoned` is
 * told the pool's error at once, while that call still runs.
 */
export async function gated<T, R>(
  fn: FanOutFn<T, R>,
  item: T,
  context: FanOutContext,
  options: Parsed,
  abandoned: ((error: unknown) => void) | undefined,
): Promise<unknown> {
  const permits: Permit[] = [];
  let running: Promise<unknown> | undefined;
  try {
    for (const semaphore of options.semaphores) {
      permits.push(await semaphore.acquire({ signal: context.signal }));
    }
    const call = (signal: AbortSignal) =>
      fn(item, signal === context.signal ? context : { signal, index: context.index });
    const label = `fanOut item ${context.index}`;
    const inPermits = (i: number, signal: AbortSignal): unknown =>
      i === permits.length ? call(signal) : runInPermit(permits[i]!, label, () => inPermits(i + 1, signal));
    const pool = options.pool;
    if (pool === undefined) return await inPermits(0, context.signal);
    const task = (signal: AbortSignal): unknown => {
      const result = inPermits(0, signal); // a synchronous throw ends the call at once
      running = Promise.resolve(result).then(ignore, ignore);
      return result;
    };
    try {
      return await pool.run(task, { signal: context.signal });
    } catch (error) {
      // The pool gave up on a call that still runs: without `settle` that error stops the fan-out
      // now (nothing new starts), though this call keeps its permits and window place until it ends.
      if (running !== undefined) abandoned?.(error);
      throw error;
    } finally {
      if (running !== undefined) await running;
    }
  } finally {
    for (const permit of permits) permit.release();
  }
}
