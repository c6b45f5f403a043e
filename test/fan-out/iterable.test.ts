// fanOutIterable: the lazy form of fanOut, an async iterable of the results (src/fan-out/iterable.ts).
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { fanOut, fanOutIterable, type PoolLike } from '../../src/index.js';
import { track } from '../support/promises.js';

const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('fanOutIterable', () => {
  test('an iterable never iterated adds no listener to its signal; the first next() does', async () => {
    const controller = new AbortController();
    const iterable = fanOutIterable([1], async (n) => n, { window: 1, signal: controller.signal });
    const it = iterable[Symbol.asyncIterator]();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(await it.next()).toEqual({ done: false, value: 1 });
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  test('yields in input order by default and as completed with ordered: false', async () => {
    const delays = [30, 10, 20];
    const call = (ms: number) => new Promise<number>((resolve) => setTimeout(() => resolve(ms), ms));
    const collect = async (ordered: boolean) => {
      const out: number[] = [];
      const done = (async () => {
        for await (const v of fanOutIterable(delays, call, { window: 3, ordered })) out.push(v);
      })();
      await vi.advanceTimersByTimeAsync(30);
      await done;
      return out;
    };
    expect(await collect(true)).toEqual([30, 10, 20]);
    expect(await collect(false)).toEqual([10, 20, 30]);
  });

  test('never reads more than window items ahead of the consumer', async () => {
    let read = 0;
    function* input() {
      for (let i = 0; i < 100; i++) {
        read++;
        yield i;
      }
    }
    const it = fanOutIterable(input(), async (n) => n, { window: 4 })[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(0);
    await flush();
    expect(read).toBeLessThanOrEqual(5); // 4 slots held by unconsumed results, plus the one taken
    await it.return!();
  });

  test('breaking out aborts the calls in flight and waits for them to settle', async () => {
    const signals: AbortSignal[] = [];
    let settledCalls = 0;
    const call = (n: number, { signal }: { signal: AbortSignal }) => {
      signals.push(signal);
      if (n === 0) return Promise.resolve(n);
      return new Promise<number>((_, reject) => {
        signal.addEventListener('abort', () =>
          setTimeout(() => {
            settledCalls++;
            reject(signal.reason);
          }, 10),
        );
      });
    };
    const loop = track(
      (async () => {
        for await (const v of fanOutIterable([0, 1, 2], call, { window: 3 })) {
          if (v === 0) break;
        }
      })(),
    );
    await flush();
    expect(signals[0]!.aborted).toBe(true);
    expect(loop.status).toBe('pending'); // still waiting for the aborted calls to settle
    await vi.advanceTimersByTimeAsync(10);
    expect(loop.status).toBe('fulfilled');
    expect(settledCalls).toBe(2);
  });

  test('throws the first error and the signal reason', async () => {
    const boom = new Error('boom');
    const consume = async (iterable: AsyncIterable<unknown>) => {
      for await (const _ of iterable) {
        /* drain */
      }
    };
    await expect(
      consume(fanOutIterable([1, 2], (n) => (n === 2 ? Promise.reject(boom) : n), { window: 1 })),
    ).rejects.toBe(boom);
    const reason = new Error('stop');
    await expect(
      consume(fanOutIterable([1], async (n) => n, { window: 1, signal: AbortSignal.abort(reason) })),
    ).rejects.toBe(reason);
  });

  test('bad options throw at once, when the iterable is created', () => {
    expect(() => fanOutIterable([1], async (n) => n, { window: 0 })).toThrow(RangeError);
    expect(() => fanOutIterable([1], async (n) => n, { window: 1, ordered: 'yes' as never })).toThrow(
      'options.ordered must be a boolean; received "yes"',
    );
  });
});

describe('fanOutIterable edges', () => {
  test('next() while a next() is pending is an error; return() before the first next() ends it', async () => {
    const it = fanOutIterable(
      [1, 2],
      (n) => new Promise<number>((resolve) => setTimeout(() => resolve(n), 10)),
      {
        window: 1,
      },
    )[Symbol.asyncIterator]();
    const first = it.next();
    await expect(it.next()).rejects.toThrow('a previous next() is pending');
    await vi.advanceTimersByTimeAsync(10);
    expect(await first).toEqual({ done: false, value: 1 });
    await vi.advanceTimersByTimeAsync(10);
    expect(await it.next()).toEqual({ done: false, value: 2 });
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(await it.return!()).toEqual({ done: true, value: undefined });
    const fresh = fanOutIterable([1], async (n) => n, { window: 1 })[Symbol.asyncIterator]();
    expect(await fresh.return!()).toEqual({ done: true, value: undefined });
  });

  test('an async input stopped while reading does not start the item it was reading', async () => {
    const controller = new AbortController();
    let release!: () => void;
    async function* input() {
      yield 1;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      yield 2;
    }
    const fn = vi.fn(async (n: number) => n);
    const result = track(fanOut(input(), fn, { window: 4, signal: controller.signal }));
    await flush();
    controller.abort(new Error('stop'));
    release();
    await flush();
    expect((result.reason as Error).message).toBe('stop');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  test('with a pool, fn gets the pool signal and its own index', async () => {
    const pool: PoolLike = { run: (task) => Promise.resolve(task(new AbortController().signal)) };
    const seen: number[] = [];
    for await (const v of fanOutIterable(
      [5, 6],
      (n, { index }) => {
        seen.push(index);
        return n;
      },
      {
        window: 2,
        pool,
      },
    )) {
      void v;
    }
    expect(seen).toEqual([0, 1]);
  });
});
