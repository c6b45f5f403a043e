import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ClosedError, QueueFullError, TimeoutError } from '../../src/errors.js';
import { BoundedQueue } from '../../src/queue/queue.js';
import { track } from '../support/promises.js';

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

/** Takes everything left in the queue without waiting. */
function drain<T>(queue: BoundedQueue<T>): T[] {
  const items: T[] = [];
  while (queue.size > 0) items.push(queue.tryGet() as T);
  return items;
}

describe('construction', () => {
  test('capacity must be a positive safe integer', () => {
    expect(() => new BoundedQueue({ capacity: 0 })).toThrow(
      new RangeError('options.capacity must be a positive integer; received 0'),
    );
    expect(() => new BoundedQueue({ capacity: -1 })).toThrow(RangeError);
    expect(() => new BoundedQueue({ capacity: 1.5 })).toThrow(RangeError);
    expect(() => new BoundedQueue({ capacity: Number.NaN })).toThrow(RangeError);
    expect(() => new BoundedQueue({ capacity: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    expect(() => new BoundedQueue({ capacity: 2 ** 53 })).toThrow(RangeError);
    expect(() => new BoundedQueue({ capacity: '3' as unknown as number })).toThrow(
      new TypeError('options.capacity must be a positive integer; received "3"'),
    );
    expect(() => new BoundedQueue({} as { capacity: number })).toThrow(TypeError);
  });

  test('options must be an object and name a string', () => {
    expect(() => new BoundedQueue(undefined as unknown as { capacity: number })).toThrow(TypeError);
    expect(() => new BoundedQueue(null as unknown as { capacity: number })).toThrow(TypeError);
    expect(() => new BoundedQueue(4 as unknown as { capacity: number })).toThrow(TypeError);
    expect(() => new BoundedQueue({ capacity: 1, name: 7 as unknown as string })).toThrow(
      new TypeError('options.name must be a string; received 7'),
    );
  });

  test('a new queue is open and empty', () => {
    const queue = new BoundedQueue<number>({ capacity: 3, name: 'jobs' });
    expect(queue.name).toBe('jobs');
    expect(queue.capacity).toBe(3);
    expect(queue.size).toBe(0);
    expect(queue.unfinished).toBe(0);
    expect(queue.closed).toBe(false);
  });
});

describe('put and get', () => {
  test('items come out in the order they went in', async () => {
    const queue = new BoundedQueue<string>({ capacity: 3 });
    await queue.put('a');
    await queue.put('b');
    expect(queue.tryPut('c')).toBe(true);
    expect(queue.size).toBe(3);
    expect(await queue.get()).toBe('a');
    expect(queue.tryGet()).toBe('b');
    expect(await queue.get({ timeout: 10 })).toBe('c');
    expect(queue.size).toBe(0);
    expect(queue.tryGet()).toBeUndefined();
    expect(queue.unfinished).toBe(3);
  });

  test('a put that does not wait returns one shared resolved promise (nothing allocated)', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4 });
    const first = queue.put(1);
    expect(queue.put(2)).toBe(first);
    expect(queue.put(3, { timeout: 5 })).toBe(first);
    await expect(first).resolves.toBeUndefined();
  });

  test('the ring buffer wraps around and grows without losing order', async () => {
    const queue = new BoundedQueue<number>({ capacity: 100 });
    const out: number[] = [];
    let next = 0;
    for (let i = 0; i < 50; i++) expect(queue.tryPut(next++)).toBe(true);
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 37; i++) expect(queue.tryPut(next++)).toBe(true);
      expect(queue.size).toBe(87);
      for (let i = 0; i < 37; i++) out.push(await queue.get());
    }
    out.push(...drain(queue));
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
  });

  test('fills up to exactly its capacity, for a capacity that is not a power of two', () => {
    const queue = new BoundedQueue<number>({ capacity: 37 });
    for (let i = 0; i < 37; i++) expect(queue.tryPut(i)).toBe(true);
    expect(queue.tryPut(37)).toBe(false);
    expect(queue.size).toBe(37);
    expect(drain(queue)).toEqual(Array.from({ length: 37 }, (_, i) => i));
  });

  test('a huge capacity costs nothing up front', () => {
    const queue = new BoundedQueue<number>({ capacity: Number.MAX_SAFE_INTEGER });
    for (let i = 0; i < 1000; i++) queue.tryPut(i);
    expect(drain(queue)).toHaveLength(1000);
  });

  test('capacity 1 alternates put and get', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    for (let i = 0; i < 5; i++) {
      await queue.put(i);
      expect(queue.tryPut(99)).toBe(false);
      expect(await queue.get()).toBe(i);
    }
  });

  test('a waiting get is served directly by the next put', async () => {
    const queue = new BoundedQueue<string>({ capacity: 2 });
    const got = track(queue.get());
    const got2 = track(queue.get());
    await flush();
    expect(got.status).toBe('pending');
    await queue.put('x');
    expect(queue.tryPut('y')).toBe(true);
    await flush();
    expect(got.value).toBe('x');
    expect(got2.value).toBe('y');
    expect(queue.size).toBe(0);
    expect(queue.unfinished).toBe(2);
  });

  test('a put waits while the queue is full and enters when a get frees a slot', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    await queue.put(1);
    const second = track(queue.put(2));
    const third = track(queue.put(3));
    await flush();
    expect(second.status).toBe('pending');
    expect(queue.size).toBe(1);
    expect(await queue.get()).toBe(1);
    await flush();
    expect(second.status).toBe('fulfilled');
    expect(third.status).toBe('pending');
    expect(queue.size).toBe(1);
    expect(queue.tryGet()).toBe(2);
    await flush();
    expect(third.status).toBe('fulfilled');
    expect(queue.tryGet()).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a new put never overtakes a waiting one', async () => {
    const queue = new BoundedQueue<string>({ capacity: 1 });
    await queue.put('a');
    const waiting = track(queue.put('b'));
    expect(queue.tryPut('c')).toBe(false);
    const later = track(queue.put('d'));
    expect(await queue.get()).toBe('a');
    expect(queue.tryPut('e')).toBe(false); // 'b' took the freed slot
    expect(await queue.get()).toBe('b');
    expect(await queue.get()).toBe('d');
    await flush();
    expect([waiting.status, later.status]).toEqual(['fulfilled', 'fulfilled']);
  });

  test('an item that is a promise is not awaited by put', async () => {
    const queue = new BoundedQueue<Promise<number>>({ capacity: 1 });
    const never = new Promise<number>(() => {});
    await queue.put(never);
    expect(queue.size).toBe(1);
  });
});

describe('put timeouts: the dead consumer', () => {
  test('put rejects with QueueFullError after its timeout when the consumer is gone', async () => {
    const queue = new BoundedQueue<string>({ capacity: 2, name: 'transcribe-jobs' });
    await queue.put('a');
    await queue.put('b');
    await queue.put('c', { timeout: 0 }).catch(() => {});
    expect(await queue.get()).toBe('a'); // the consumer takes one item, then dies
    await flush();
    await queue.put('c');
    await vi.advanceTimersByTimeAsync(4_512);
    const put = track(queue.put('d', { timeout: 500 }));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(499);
    expect(put.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(put.status).toBe('rejected');
    const error = put.reason as QueueFullError;
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error.code).toBe('ERR_UNWEDGE_QUEUE_FULL');
    expect(error.message).toBe(
      'queue "transcribe-jobs" stayed full for 500 ms; the item was not added (capacity 2, last get 5012 ms ago)',
    );
    // The item was not added, and nothing is left running.
    expect(queue.size).toBe(2);
    expect(drain(queue)).toEqual(['b', 'c']);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('the QueueFullError says when no item was ever taken, and how many other puts wait', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    await queue.put(1);
    await vi.advanceTimersByTimeAsync(1_000);
    const first = track(queue.put(2, { timeout: 100 }));
    const second = track(queue.put(3));
    await vi.advanceTimersByTimeAsync(100);
    expect((first.reason as Error).message).toBe(
      'queue stayed full for 100 ms; the item was not added (capacity 1, no get since it was created 1100 ms ago, 1 other put waiting)',
    );
    expect(second.status).toBe('pending');
    queue.shutdown({ immediate: true });
    await flush();
    expect(second.reason).toBeInstanceOf(ClosedError);
  });

  test('the QueueFullError counts from the latest get, not the first', async () => {
    const queue = new BoundedQueue<number>({ capacity: 2 });
    await queue.put(1);
    await queue.put(2);
    await queue.get();
    await vi.advanceTimersByTimeAsync(3_000);
    await queue.get();
    await vi.advanceTimersByTimeAsync(1_000);
    await queue.put(3);
    await queue.put(4);
    const put = track(queue.put(5, { timeout: 100 }));
    await vi.advanceTimersByTimeAsync(100);
    expect((put.reason as Error).message).toContain('last get 1100 ms ago');
  });

  test('timeout 0 rejects at once when full and starts no timer', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1, name: 'q' });
    await queue.put(1, { timeout: 0 });
    const put = track(queue.put(2, { timeout: 0 }));
    expect(vi.getTimerCount()).toBe(0);
    await flush();
    expect(put.reason).toBeInstanceOf(QueueFullError);
    expect((put.reason as Error).message).toMatch(
      /^queue "q" is full; the item was not added \(capacity 1, /,
    );
    expect(drain(queue)).toEqual([1]);
  });

  test('Infinity means no limit and starts no timer', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    await queue.put(1);
    const put = track(queue.put(2, { timeout: Number.POSITIVE_INFINITY }));
    expect(vi.getTimerCount()).toBe(0);
    await queue.get();
    await flush();
    expect(put.status).toBe('fulfilled');
  });

  test('a put served before its timeout clears its timer and listener', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    const controller = new AbortController();
    await queue.put(1);
    const put = track(queue.put(2, { timeout: 1_000, signal: controller.signal }));
    expect(vi.getTimerCount()).toBe(1);
    expect(listeners(controller.signal)).toBe(1);
    await queue.get();
    await flush();
    expect(put.status).toBe('fulfilled');
    expect(vi.getTimerCount()).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
  });

  test('a timed-out put leaves the line: the puts behind it keep their order', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    await queue.put(0);
    const a = track(queue.put(1));
    const b = track(queue.put(2, { timeout: 10 }));
    const c = track(queue.put(3));
    await vi.advanceTimersByTimeAsync(10);
    expect(b.reason).toBeInstanceOf(QueueFullError);
    expect([await queue.get(), await queue.get(), await queue.get()]).toEqual([0, 1, 3]);
    await flush();
    expect([a.status, c.status]).toEqual(['fulfilled', 'fulfilled']);
  });
});

describe('abort', () => {
  test('an aborted put rejects with exactly signal.reason, adds nothing and leaves the line', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    await queue.put(1);
    const controller = new AbortController();
    const put = track(queue.put(2, { signal: controller.signal, timeout: 1_000 }));
    const behind = track(queue.put(3));
    const reason = { why: 'client went away' };
    controller.abort(reason);
    await flush();
    expect(put.reason).toBe(reason);
    expect(listeners(controller.signal)).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(await queue.get()).toBe(1);
    expect(await queue.get()).toBe(3);
    await flush();
    expect(behind.status).toBe('fulfilled');
  });

  test('a signal aborted before the call rejects at once, even when there is room', async () => {
    const queue = new BoundedQueue<number>({ capacity: 2 });
    const reason = new Error('gone');
    const signal = AbortSignal.abort(reason);
    await expect(queue.put(1, { signal })).rejects.toBe(reason);
    expect(queue.size).toBe(0);
    queue.tryPut(5);
    await expect(queue.get({ signal })).rejects.toBe(reason);
    await expect(queue.join({ signal })).rejects.toBe(reason);
    expect(queue.size).toBe(1);
    expect(listeners(signal)).toBe(0);
  });

  test('an aborted get rejects with exactly signal.reason and takes nothing', async () => {
    const queue = new BoundedQueue<number>({ capacity: 2 });
    const controller = new AbortController();
    const get = track(queue.get({ signal: controller.signal, timeout: 1_000 }));
    controller.abort('stop');
    await flush();
    expect(get.reason).toBe('stop');
    expect(listeners(controller.signal)).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await queue.put(7);
    expect(queue.size).toBe(1);
    expect(queue.unfinished).toBe(1);
  });

  test('a get aborted in the same tick an item arrives does not take it (the grant/abort race)', async () => {
    const queue = new BoundedQueue<string>({ capacity: 2 });
    const controller = new AbortController();
    // A listener that runs before the queue's own: it puts an item while the abort is being dispatched.
    controller.signal.addEventListener('abort', () => queue.tryPut('x'), { once: true });
    const aborted = track(queue.get({ signal: controller.signal }));
    const other = track(queue.get());
    controller.abort('gone');
    await flush();
    expect(aborted.reason).toBe('gone');
    expect(other.value).toBe('x');
    expect(queue.unfinished).toBe(1);
  });

  test('a put aborted in the same tick a slot frees does not add its item', async () => {
    const queue = new BoundedQueue<string>({ capacity: 1 });
    await queue.put('a');
    const controller = new AbortController();
    controller.signal.addEventListener('abort', () => queue.tryGet(), { once: true });
    const aborted = track(queue.put('b', { signal: controller.signal }));
    const behind = track(queue.put('c'));
    controller.abort('gone');
    await flush();
    expect(aborted.reason).toBe('gone');
    expect(behind.status).toBe('fulfilled');
    expect(drain(queue)).toEqual(['c']);
  });
});

describe('a completed hand-off stands (Go and Trio channels; asyncio re-queues instead)', () => {
  test('a get served by tryPut, then aborted in the same tick, resolves with the item', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    const controller = new AbortController();
    const got = track(queue.get({ signal: controller.signal }));
    expect(queue.tryPut(1)).toBe(true);
    controller.abort(new Error('too late'));
    await flush();
    expect(got).toEqual({ status: 'fulfilled', value: 1 });
    expect(queue.size).toBe(0); // taken, not re-queued
    expect(queue.unfinished).toBe(1);
  });

  test('a waiting put completed by a get, then aborted or timed out in the same tick, resolves', async () => {
    const queue = new BoundedQueue<string>({ capacity: 1 });
    await queue.put('a');
    const controller = new AbortController();
    const put = track(queue.put('b', { signal: controller.signal, timeout: 10 }));
    expect(queue.tryGet()).toBe('a'); // frees the slot: b is added now
    controller.abort(new Error('too late'));
    await vi.advanceTimersByTimeAsync(10);
    expect(put.status).toBe('fulfilled');
    expect(drain(queue)).toEqual(['b']);
  });
});

describe('get timeouts', () => {
  test('get rejects with TimeoutError after its timeout when nothing arrives', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4, name: 'events' });
    const get = track(queue.get({ timeout: 250 }));
    await vi.advanceTimersByTimeAsync(249);
    expect(get.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(get.reason).toBeInstanceOf(TimeoutError);
    expect((get.reason as TimeoutError).code).toBe('ERR_UNWEDGE_TIMEOUT');
    expect((get.reason as Error).message).toBe('queue "events" gave no item within 250 ms (capacity 4)');
    expect(vi.getTimerCount()).toBe(0);
    await queue.put(1);
    expect(queue.size).toBe(1); // the timed-out getter took nothing
  });

  test('get with timeout 0 takes an item if there is one, else rejects at once', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4 });
    await expect(queue.get({ timeout: 0 })).rejects.toThrow(new TimeoutError('queue is empty (capacity 4)'));
    expect(vi.getTimerCount()).toBe(0);
    await queue.put(3);
    await expect(queue.get({ timeout: 0 })).resolves.toBe(3);
  });

  test('a get served before its timeout clears its timer and listener', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4 });
    const controller = new AbortController();
    const get = track(queue.get({ timeout: 100, signal: controller.signal }));
    await queue.put(9);
    await flush();
    expect(get.value).toBe(9);
    expect(vi.getTimerCount()).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
  });
});

describe('bad input', () => {
  const bad: Array<[unknown, ErrorConstructor, string]> = [
    [null, TypeError, 'options must be an object; received null'],
    [5, TypeError, 'options must be an object; received 5'],
    [
      { timeout: -1 },
      RangeError,
      'options.timeout must be a number of milliseconds >= 0 (or Infinity); received -1',
    ],
    [
      { timeout: '5' },
      TypeError,
      'options.timeout must be a number of milliseconds >= 0 (or Infinity); received "5"',
    ],
    [
      { timeout: Number.NaN },
      RangeError,
      'options.timeout must be a number of milliseconds >= 0 (or Infinity); received NaN',
    ],
    [{ signal: {} }, TypeError, 'options.signal must be an AbortSignal; received an object'],
  ];

  test.each(bad)('put, get and join reject (never throw) on options %o', async (options, type, message) => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    const calls = [
      () => queue.put(1, options as never),
      () => queue.get(options as never),
      () => queue.join(options as never),
    ];
    for (const call of calls) {
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = call();
      }).not.toThrow();
      await expect(promise).rejects.toThrow(new type(message));
    }
    expect(queue.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('shutdown checks its options', () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    expect(() => queue.shutdown({ immediate: 'yes' as unknown as boolean })).toThrow(
      new TypeError('options.immediate must be a boolean; received "yes"'),
    );
    expect(() => queue.shutdown(3 as never)).toThrow(TypeError);
    expect(queue.closed).toBe(false);
  });
});

describe('close', () => {
  test('close refuses new puts; getters drain what is left, then reject with ClosedError', async () => {
    const queue = new BoundedQueue<number>({ capacity: 3, name: 'jobs' });
    await queue.put(1);
    await queue.put(2);
    queue.close();
    expect(queue.closed).toBe(true);
    await expect(queue.put(3)).rejects.toThrow(
      new ClosedError('queue "jobs" is closed; the item was not added'),
    );
    await expect(queue.put(3, { timeout: 5 })).rejects.toBeInstanceOf(ClosedError);
    expect(() => queue.tryPut(3)).toThrow(new ClosedError('queue "jobs" is closed; the item was not added'));
    expect(queue.size).toBe(2);
    expect(await queue.get()).toBe(1);
    expect(queue.tryGet()).toBe(2);
    await expect(queue.get()).rejects.toThrow(new ClosedError('queue "jobs" is closed and drained'));
    await expect(queue.get({ timeout: 10 })).rejects.toBeInstanceOf(ClosedError);
    expect(() => queue.tryGet()).toThrow(ClosedError);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('close rejects waiting putters with ClosedError; their items are not added', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    await queue.put(1);
    const controller = new AbortController();
    const waiting = track(queue.put(2, { timeout: 1_000, signal: controller.signal }));
    queue.close();
    await flush();
    expect(waiting.reason).toBeInstanceOf(ClosedError);
    expect(vi.getTimerCount()).toBe(0);
    expect(listeners(controller.signal)).toBe(0);
    expect(drain(queue)).toEqual([1]);
  });

  test('close rejects waiting getters with ClosedError and clears their timers', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    const a = track(queue.get({ timeout: 1_000 }));
    const b = track(queue.get());
    queue.close();
    await flush();
    expect(a.reason).toBeInstanceOf(ClosedError);
    expect(b.reason).toBeInstanceOf(ClosedError);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('close is idempotent and shutdown() without immediate is close()', async () => {
    const queue = new BoundedQueue<number>({ capacity: 2 });
    await queue.put(1);
    queue.shutdown();
    queue.close();
    queue.shutdown({});
    queue.shutdown({ immediate: false });
    expect(queue.closed).toBe(true);
    expect(queue.size).toBe(1);
    expect(await queue.get()).toBe(1);
  });
});

describe('taskDone and join', () => {
  test('join resolves at once when nothing is unfinished', async () => {
    const queue = new BoundedQueue<number>({ capacity: 1 });
    await expect(queue.join()).resolves.toBeUndefined();
    await expect(queue.join({ timeout: 0 })).resolves.toBeUndefined();
  });

  test('join waits until every item put has had taskDone', async () => {
    const queue = new BoundedQueue<number>({ capacity: 3 });
    await queue.put(1);
    await queue.put(2);
    const joined = track(queue.join());
    await queue.get();
    queue.taskDone();
    await flush();
    expect(joined.status).toBe('pending');
    expect(queue.unfinished).toBe(1);
    await queue.get();
    await flush();
    expect(joined.status).toBe('pending'); // taken is not done
    queue.taskDone();
    await flush();
    expect(joined.status).toBe('fulfilled');
    expect(queue.unfinished).toBe(0);
  });

  test('taskDone beyond the items taken throws RangeError and corrupts nothing', async () => {
    const queue = new BoundedQueue<number>({ capacity: 2, name: 'jobs' });
    expect(() => queue.taskDone()).toThrow(
      new RangeError(
        'queue "jobs": taskDone() called more times than items were taken (0 queued, none taken and not done)',
      ),
    );
    await queue.put(1);
    await queue.put(2);
    // An item still queued is not taken: taskDone for it is a bug, not a prepayment.
    expect(() => queue.taskDone()).toThrow(RangeError);
    expect(queue.unfinished).toBe(2);
    await queue.get();
    queue.taskDone();
    expect(() => queue.taskDone()).toThrow(RangeError);
    expect(queue.unfinished).toBe(1);
  });

  test('join rejects with TimeoutError after its timeout, naming what is unfinished', async () => {
    const queue = new BoundedQueue<number>({ capacity: 3, name: 'jobs' });
    await queue.put(1);
    await queue.put(2);
    await queue.get();
    const joined = track(queue.join({ timeout: 300 }));
    await vi.advanceTimersByTimeAsync(300);
    expect(joined.reason).toBeInstanceOf(TimeoutError);
    expect((joined.reason as Error).message).toBe(
      'queue "jobs" still had after 300 ms 2 unfinished items (1 queued, 1 taken without taskDone)',
    );
    expect(vi.getTimerCount()).toBe(0);
    await expect(queue.join({ timeout: 0 })).rejects.toThrow(
      new TimeoutError('queue "jobs" has 2 unfinished items (1 queued, 1 taken without taskDone)'),
    );
  });

  test('an aborted join rejects with exactly signal.reason and clears its listener', async () => {
    const queue = new BoundedQueue<number>({ capacity: 3 });
    await queue.put(1);
    const controller = new AbortController();
    const joined = track(queue.join({ signal: controller.signal, timeout: 1_000 }));
    const other = track(queue.join());
    controller.abort('enough');
    await flush();
    expect(joined.reason).toBe('enough');
    expect(listeners(controller.signal)).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await queue.get();
    queue.taskDone();
    await flush();
    expect(other.status).toBe('fulfilled');
  });

  test('join resolved by taskDone clears its timer', async () => {
    const queue = new BoundedQueue<number>({ capacity: 3 });
    await queue.put(1);
    await queue.get();
    const joined = track(queue.join({ timeout: 1_000 }));
    expect(vi.getTimerCount()).toBe(1);
    queue.taskDone();
    await flush();
    expect(joined.status).toBe('fulfilled');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('shutdown({ immediate: true }): the questions Python 3.13 answered', () => {
  test('drops the queued items: size is 0 and they count as done for join', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4, name: 'jobs' });
    for (const i of [1, 2, 3]) await queue.put(i);
    await queue.get(); // taken before the shutdown, not yet done
    const joined = track(queue.join());
    queue.shutdown({ immediate: true });
    expect(queue.closed).toBe(true);
    expect(queue.size).toBe(0);
    expect(queue.unfinished).toBe(1);
    await flush();
    expect(joined.status).toBe('pending');
    // taskDone may still be called, once for each item taken before the shutdown...
    queue.taskDone();
    await flush();
    expect(joined.status).toBe('fulfilled');
    // ...and not for the dropped ones.
    expect(() => queue.taskDone()).toThrow(RangeError);
  });

  test('tryGet throws ClosedError and get rejects with it, even though items were queued', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4, name: 'jobs' });
    await queue.put(1);
    await queue.put(2);
    queue.shutdown({ immediate: true });
    expect(() => queue.tryGet()).toThrow(
      new ClosedError('queue "jobs" was shut down (2 queued items dropped)'),
    );
    await expect(queue.get()).rejects.toThrow(ClosedError);
    await expect(queue.put(3)).rejects.toThrow(
      new ClosedError('queue "jobs" was shut down; the item was not added'),
    );
    expect(() => queue.tryPut(3)).toThrow(ClosedError);
  });

  test('every waiting putter and getter rejects with ClosedError at once', async () => {
    const full = new BoundedQueue<number>({ capacity: 1 });
    await full.put(1);
    const putter = track(full.put(2, { timeout: 1_000 }));
    const empty = new BoundedQueue<number>({ capacity: 1 });
    const getter = track(empty.get({ timeout: 1_000 }));
    full.shutdown({ immediate: true });
    empty.shutdown({ immediate: true });
    await flush();
    expect(putter.reason).toBeInstanceOf(ClosedError);
    expect(getter.reason).toBeInstanceOf(ClosedError);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('join resolves at once when nothing taken is outstanding', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4 });
    await queue.put(1);
    const joined = track(queue.join({ timeout: 1_000 }));
    queue.shutdown({ immediate: true });
    await flush();
    expect(joined.status).toBe('fulfilled');
    expect(vi.getTimerCount()).toBe(0);
    await expect(queue.join()).resolves.toBeUndefined();
  });

  test('after close(), an immediate shutdown drops what is left; a second one does nothing', async () => {
    const queue = new BoundedQueue<number>({ capacity: 4 });
    await queue.put(1);
    await queue.put(2);
    queue.close();
    expect(await queue.get()).toBe(1);
    queue.shutdown({ immediate: true });
    expect(queue.size).toBe(0);
    queue.shutdown({ immediate: true });
    queue.close();
    expect(queue.unfinished).toBe(1);
  });

  test('await using shuts the queue down immediately', async () => {
    let outside: BoundedQueue<number> | undefined;
    {
      await using queue = new BoundedQueue<number>({ capacity: 2 });
      outside = queue;
      await queue.put(1);
    }
    expect(outside.closed).toBe(true);
    expect(outside.size).toBe(0);
    await expect(outside[Symbol.asyncDispose]()).resolves.toBeUndefined();
  });
});

describe('async iteration', () => {
  test('yields items until the queue is closed and drained', async () => {
    const queue = new BoundedQueue<number>({ capacity: 2 });
    const seen: number[] = [];
    const loop = (async () => {
      for await (const item of queue) {
        seen.push(item);
        queue.taskDone();
      }
    })();
    for (let i = 0; i < 5; i++) await queue.put(i);
    queue.close();
    await loop;
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    await expect(queue.join({ timeout: 0 })).resolves.toBeUndefined();
  });

  test('breaking out of a for await loses no item that was not yielded', async () => {
    const queue = new BoundedQueue<number>({ capacity: 5 });
    for (let i = 0; i < 5; i++) await queue.put(i);
    const seen: number[] = [];
    for await (const item of queue) {
      seen.push(item);
      if (item === 1) break;
    }
    expect(seen).toEqual([0, 1]);
    expect(drain(queue)).toEqual([2, 3, 4]);
  });

  test('return() while a next() waits cancels that get, so a later item is not swallowed', async () => {
    const queue = new BoundedQueue<string>({ capacity: 2 });
    const iterator = queue[Symbol.asyncIterator]();
    expect(iterator[Symbol.asyncIterator]()).toBe(iterator);
    const pending = track(iterator.next());
    await expect(iterator.return!()).resolves.toEqual({ done: true, value: undefined });
    await flush();
    expect(pending.value).toEqual({ done: true, value: undefined });
    await queue.put('kept');
    expect(queue.size).toBe(1);
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
    expect(queue.size).toBe(1);
  });

  test('iteration ends at an immediate shutdown', async () => {
    const queue = new BoundedQueue<number>({ capacity: 2 });
    const iterator = queue[Symbol.asyncIterator]();
    const pending = track(iterator.next());
    queue.shutdown({ immediate: true });
    await flush();
    expect(pending.value).toEqual({ done: true, value: undefined });
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
  });
});
