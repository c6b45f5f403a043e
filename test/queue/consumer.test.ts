// consume(): the supervised consumer of a BoundedQueue (src/queue/consumer.ts).
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ClosedError, TimeoutError } from '../../src/errors.js';
import { BoundedQueue } from '../../src/queue/queue.js';
import { deferred, track } from '../support/promises.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** Lets settled promises run their continuations (and the next tick run). */
const flush = () => vi.advanceTimersByTimeAsync(0);

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

describe('bad input', () => {
  test('consume checks its handler and options synchronously', () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    expect(() => queue.consume(undefined as never)).toThrow(
      new TypeError('handler must be a function; received undefined'),
    );
    expect(() => queue.consume(() => {}, { concurrency: 0 })).toThrow(
      new RangeError('options.concurrency must be a positive integer; received 0'),
    );
    expect(() => queue.consume(() => {}, { timeout: 0 })).toThrow(
      new RangeError('options.timeout must be a number of milliseconds > 0; received 0'),
    );
    expect(() => queue.consume(() => {}, { timeout: -5 })).toThrow(RangeError);
    expect(() => queue.consume(() => {}, { signal: 'x' as never })).toThrow(TypeError);
    expect(() => queue.consume(() => {}, { onError: 'log' as never })).toThrow(
      new TypeError('options.onError must be a function; received "log"'),
    );
    expect(() => queue.consume(() => {}, null as never)).toThrow(TypeError);
  });

  test('stop rejects on bad options and still stops', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    const consumer = queue.consume(() => {});
    await expect(consumer.stop({ timeout: -1 })).rejects.toThrow(RangeError);
    await expect(consumer.stop()).resolves.toBeUndefined();
    await consumer.done;
  });
});

describe('consume', () => {
  test('a consumer whose handler throws on every third item drains 10,000 items and reports 3,333 errors', async () => {
    const queue = new BoundedQueue<number>({ capacity: 64, name: 'work' });
    const errors: Array<[unknown, number]> = [];
    let handled = 0;
    const consumer = queue.consume(
      async (item) => {
        handled++;
        if (item % 3 === 2) throw new Error(`item ${item} failed`);
      },
      { onError: (error, item) => errors.push([error, item]) },
    );
    for (let i = 0; i < 10_000; i++) await queue.put(i);
    queue.close();
    await consumer.done;
    expect(handled).toBe(10_000);
    expect(errors).toHaveLength(3_333);
    expect(errors[0]).toEqual([new Error('item 2 failed'), 2]);
    expect(errors.every(([error, item]) => (error as Error).message === `item ${item} failed`)).toBe(true);
    expect(queue.unfinished).toBe(0);
    await expect(queue.join({ timeout: 0 })).resolves.toBeUndefined();
  });

  test('runs at most `concurrency` handlers at once, and all items', async () => {
    const queue = new BoundedQueue<number>({ capacity: 10 });
    let active = 0;
    let peak = 0;
    const done: number[] = [];
    const consumer = queue.consume(
      async (item) => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((resolve) => setTimeout(resolve, 10 + (item % 3)));
        active--;
        done.push(item);
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 10; i++) await queue.put(i);
    queue.close();
    await vi.advanceTimersByTimeAsync(100);
    await consumer.done;
    expect(peak).toBe(3);
    expect(done.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(queue.unfinished).toBe(0);
  });

  test('a handler that throws synchronously is reported too, and consumption goes on', async () => {
    const queue = new BoundedQueue<string>({ capacity: 4 });
    const errors: unknown[] = [];
    const seen: string[] = [];
    const consumer = queue.consume(
      (item) => {
        seen.push(item);
        if (item === 'bad') throw new TypeError('sync');
      },
      { onError: (error) => errors.push(error) },
    );
    await queue.put('a');
    await queue.put('bad');
    await queue.put('c');
    queue.close();
    await consumer.done;
    expect(seen).toEqual(['a', 'bad', 'c']);
    expect(errors).toEqual([new TypeError('sync')]);
  });

  test('without onError, a failure goes to stderr with the queue name and the stack', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const queue = new BoundedQueue<number>({ capacity: 2, name: 'mailer' });
    const consumer = queue.consume(() => {
      throw new Error('smtp down');
    });
    await queue.put(1);
    queue.close();
    await consumer.done;
    expect(write).toHaveBeenCalledTimes(1);
    const text = String(write.mock.calls[0]![0]);
    expect(text).toContain('queue "mailer" consumer: handler failed');
    expect(text).toContain('Error: smtp down');
    expect(text).toMatch(/\n\s+at /); // the stack
  });

  test('an onError that throws is reported on stderr with the original error, and consumption goes on', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const queue = new BoundedQueue<number>({ capacity: 2 });
    const seen: number[] = [];
    const consumer = queue.consume(
      (item) => {
        seen.push(item);
        throw new Error(`bad ${item}`);
      },
      {
        onError: () => {
          throw new Error('logger broken');
        },
      },
    );
    await queue.put(1);
    await queue.put(2);
    queue.close();
    await consumer.done;
    expect(seen).toEqual([1, 2]);
    const text = write.mock.calls.map((c) => String(c[0])).join('');
    expect(text).toContain('logger broken');
    expect(text).toContain('bad 1');
    expect(text).toContain('bad 2');
  });

  test('a handler past its timeout has its signal aborted and is reported at once, and keeps its place until it settles', async () => {
    const queue = new BoundedQueue<string>({ capacity: 4, name: 'jobs' });
    const errors: Array<[unknown, string]> = [];
    const signals: AbortSignal[] = [];
    const seen: string[] = [];
    const hung = deferred();
    const consumer = queue.consume(
      (item, signal) => {
        seen.push(item);
        signals.push(signal);
        if (item === 'hang') return hung.promise; // ignores its signal
        return undefined;
      },
      { timeout: 1_000, onError: (error, item) => errors.push([error, item]) },
    );
    await queue.put('hang');
    await queue.put('next');
    await flush();
    expect(seen).toEqual(['hang']);
    expect(queue.unfinished).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(TimeoutError);
    expect(errors).toHaveLength(1);
    expect(errors[0]![1]).toBe('hang');
    expect((errors[0]![0] as Error).message).toBe(
      'queue "jobs" consumer: handler still running after 1000 ms; its signal was aborted',
    );
    expect(errors[0]![0]).toBe(signals[0]!.reason);
    // concurrency 1 limits what really runs: the abandoned handler still holds the one place
    await vi.advanceTimersByTimeAsync(60_000);
    expect(seen).toEqual(['hang']);
    expect(queue.unfinished).toBe(2);
    hung.resolve();
    await flush();
    expect(seen).toEqual(['hang', 'next']);
    expect(queue.unfinished).toBe(0);
    expect(errors).toHaveLength(1); // settling after its timeout is not a second failure
    queue.close();
    await consumer.done;
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a handler stopped before its timeout is not reported as timed out when the timeout passes', async () => {
    const queue = new BoundedQueue<string>({ capacity: 4 });
    const errors: unknown[] = [];
    const hung = deferred();
    const consumer = queue.consume(() => hung.promise, {
      timeout: 100,
      onError: (error) => errors.push(error),
    });
    await queue.put('a');
    await vi.advanceTimersByTimeAsync(10);
    const stopped = consumer.stop();
    await vi.advanceTimersByTimeAsync(200); // past its timeout, still running (it ignores its signal)
    expect(errors).toEqual([]);
    hung.resolve();
    await stopped;
    expect(vi.getTimerCount()).toBe(0);
  });

  test("a handler that rethrows its abort the way Node's own APIs do (an AbortError whose cause is the reason) is not a failure", async () => {
    const queue = new BoundedQueue<string>({ capacity: 4 });
    const errors: unknown[] = [];
    // What `timers/promises` and fetch throw when their signal aborts: an AbortError, cause = reason.
    const aborted = (signal: AbortSignal) =>
      new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () =>
          reject(
            Object.assign(new Error('The operation was aborted', { cause: signal.reason }), {
              name: 'AbortError',
            }),
          ),
        ),
      );
    const consumer = queue.consume((_item, signal) => aborted(signal), {
      timeout: 100,
      onError: (error) => errors.push(error),
    });
    await queue.put('timed-out');
    await vi.advanceTimersByTimeAsync(100);
    expect(errors).toEqual([expect.any(TimeoutError)]); // its timeout, once: not its AbortError again
    await queue.put('stopped');
    await flush();
    await consumer.stop();
    expect(errors).toHaveLength(1); // stopped: not a failure at all
  });

  test('a handler that fails differently after its timeout is reported again, once', async () => {
    const queue = new BoundedQueue<string>({ capacity: 4 });
    const errors: unknown[] = [];
    const hung = deferred();
    const consumer = queue.consume(() => hung.promise, {
      timeout: 10,
      onError: (error) => errors.push(error),
    });
    await queue.put('a');
    await vi.advanceTimersByTimeAsync(10);
    expect(errors).toHaveLength(1);
    const late = new Error('late');
    hung.reject(late);
    await flush();
    expect(errors).toEqual([expect.any(TimeoutError), late]);
    queue.close();
    await consumer.done;
  });

  test('a handler that finishes in time leaves no timer behind', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4 });
    const consumer = queue.consume(async () => {}, { timeout: 5_000 });
    await queue.put(1);
    await flush();
    expect(queue.unfinished).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    queue.close();
    await consumer.done;
  });

  test('stop aborts running handlers with ClosedError, takes no more items and resolves when they settled', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4, name: 'jobs' });
    const errors: unknown[] = [];
    const signals: AbortSignal[] = [];
    const consumer = queue.consume(
      (_item, signal) => {
        signals.push(signal);
        return new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => setTimeout(() => reject(signal.reason), 50), { once: true });
        });
      },
      { concurrency: 2, onError: (error) => errors.push(error) },
    );
    for (const i of [1, 2, 3]) await queue.put(i);
    await flush();
    expect(signals).toHaveLength(2);
    const stopped = track(consumer.stop());
    const done = track(consumer.done);
    expect(signals.every((s) => s.aborted && s.reason instanceof ClosedError)).toBe(true);
    expect((signals[0]!.reason as Error).message).toBe('queue "jobs" consumer was stopped');
    await vi.advanceTimersByTimeAsync(49);
    expect(stopped.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(stopped.status).toBe('fulfilled');
    expect(done.status).toBe('fulfilled');
    // Cancelled by us, not failed: nothing reported. Item 3 stays queued.
    expect(errors).toEqual([]);
    expect(queue.size).toBe(1);
    expect(queue.unfinished).toBe(1);
    await expect(consumer.stop()).resolves.toBeUndefined();
  });

  test('a handler that fails differently after stop is still reported', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4 });
    const errors: unknown[] = [];
    const consumer = queue.consume(
      (_item, signal) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(new Error('cleanup failed')), { once: true });
        }),
      { onError: (error) => errors.push(error) },
    );
    await queue.put(1);
    await flush();
    await consumer.stop();
    expect(errors).toEqual([new Error('cleanup failed')]);
  });

  test('stop with a timeout gives up on a handler that ignores its signal', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4, name: 'jobs' });
    const hung = deferred();
    const consumer = queue.consume(() => hung.promise);
    await queue.put(1);
    await flush();
    const stopped = track(consumer.stop({ timeout: 200 }));
    await vi.advanceTimersByTimeAsync(200);
    expect(stopped.reason).toBeInstanceOf(TimeoutError);
    expect((stopped.reason as Error).message).toBe(
      'queue "jobs" consumer: 1 handler still running 200 ms after stop()',
    );
    await expect(consumer.stop({ timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    const reason = new Error('no more waiting');
    await expect(consumer.stop({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    const controller = new AbortController();
    const viaSignal = track(consumer.stop({ signal: controller.signal }));
    controller.abort(reason);
    await flush();
    expect(viaSignal.reason).toBe(reason);
    expect(listeners(controller.signal)).toBe(0);
    hung.resolve();
    await consumer.done;
    await expect(consumer.stop({ timeout: 10 })).resolves.toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  test('an item taken in the same tick as stop() still reaches the handler, already cancelled', async () => {
    const queue = new BoundedQueue<string>({ capacity: 4 });
    const seen: Array<[string, boolean]> = [];
    const consumer = queue.consume((item, signal) => {
      seen.push([item, signal.aborted]);
    });
    await flush(); // the consumer waits in get()
    expect(queue.tryPut('x')).toBe(true); // handed to the waiting get...
    const stopped = consumer.stop(); // ...whose continuation has not run yet
    await stopped;
    expect(seen).toEqual([['x', true]]);
    expect(queue.unfinished).toBe(0);
  });

  test('aborting the consumer signal stops it with that reason and removes the listener', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4 });
    const controller = new AbortController();
    const reasons: unknown[] = [];
    const consumer = queue.consume(
      (_item, signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener(
            'abort',
            () => {
              reasons.push(signal.reason);
              resolve();
            },
            { once: true },
          );
        }),
      { signal: controller.signal },
    );
    expect(listeners(controller.signal)).toBe(1);
    await queue.put(1);
    await queue.put(2);
    await flush();
    const reason = { why: 'shutting down' };
    controller.abort(reason);
    await consumer.done;
    expect(reasons).toEqual([reason]);
    expect(listeners(controller.signal)).toBe(0);
    expect(queue.size).toBe(1);
  });

  test('a consumer whose signal is already aborted takes nothing', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4 });
    await queue.put(1);
    const handler = vi.fn();
    const signal = AbortSignal.abort();
    const consumer = queue.consume(handler, { signal });
    await consumer.done;
    expect(handler).not.toHaveBeenCalled();
    expect(queue.size).toBe(1);
    expect(listeners(signal)).toBe(0);
  });

  test('the consumer signal listener is removed when the queue drains', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4 });
    const controller = new AbortController();
    const consumer = queue.consume(() => {}, { signal: controller.signal });
    await queue.put(1);
    queue.close();
    await consumer.done;
    expect(listeners(controller.signal)).toBe(0);
  });

  test('an immediate shutdown ends the consumer once its running handlers finish', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4 });
    const running = deferred();
    const seen: number[] = [];
    const consumer = queue.consume((item) => {
      seen.push(item);
      return running.promise;
    });
    for (const i of [1, 2, 3]) await queue.put(i);
    await flush();
    queue.shutdown({ immediate: true });
    const done = track(consumer.done);
    await flush();
    expect(done.status).toBe('pending');
    running.resolve();
    await flush();
    expect(done.status).toBe('fulfilled');
    expect(seen).toEqual([1]);
    expect(queue.unfinished).toBe(0);
  });

  test('a handler that calls taskDone itself gets the RangeError reported, not a corrupt count', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4 });
    const errors: unknown[] = [];
    const consumer = queue.consume(() => queue.taskDone(), { onError: (error) => errors.push(error) });
    await queue.put(1);
    queue.close();
    await consumer.done;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(RangeError);
    expect(queue.unfinished).toBe(0);
  });

  test('two consumers share a queue without taking an item twice', async () => {
    const queue = new BoundedQueue<number>({ capacity: 8 });
    const seen: number[] = [];
    const a = queue.consume((item) => {
      seen.push(item);
    });
    const b = queue.consume(
      async (item) => {
        seen.push(item);
      },
      { concurrency: 2 },
    );
    for (let i = 0; i < 100; i++) await queue.put(i);
    queue.close();
    await Promise.all([a.done, b.done]);
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
