import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { DeadlockError, fanOut, type PoolLike, Semaphore } from '../../src/index.js';
import { track } from '../support/promises.js';

const flush = () => vi.advanceTimersByTimeAsync(0);

/** A call whose completion the test controls, recording what is in flight. */
function gatedCalls() {
  const open = new Map<
    number,
    { resolve: (v: number) => void; reject: (e: unknown) => void; signal: AbortSignal }
  >();
  let peak = 0;
  const fn = (item: number, { signal, index }: { signal: AbortSignal; index: number }) =>
    new Promise<number>((resolve, reject) => {
      open.set(index, { resolve, reject, signal });
      peak = Math.max(peak, open.size);
      const done = () => open.delete(index);
      signal.addEventListener('abort', () => {
        done();
        reject(signal.reason);
      });
      const settle = {
        resolve: (v: number) => {
          done();
          resolve(v);
        },
        reject: (e: unknown) => {
          done();
          reject(e);
        },
        signal,
      };
      open.set(index, settle);
      void item;
    });
  return { fn, open, peak: () => peak };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('fanOut', () => {
  test('resolves with results in input order whatever the completion order', async () => {
    const delays = [30, 10, 20, 0, 5];
    const result = track(
      fanOut(delays, (ms) => new Promise<number>((resolve) => setTimeout(() => resolve(ms), ms)), {
        window: 5,
      }),
    );
    await vi.advanceTimersByTimeAsync(30);
    expect(result.value).toEqual(delays);
  });

  test('never has more than window calls in flight and reads input only as the window frees', async () => {
    const { fn, open, peak } = gatedCalls();
    let read = 0;
    function* input() {
      for (let i = 0; i < 10; i++) {
        read++;
        yield i;
      }
    }
    const result = track(fanOut(input(), fn, { window: 3 }));
    await flush();
    expect(open.size).toBe(3);
    expect(read).toBe(3);
    while (open.size > 0) {
      const [index, call] = open.entries().next().value!;
      call.resolve(index * 10);
      await flush();
      expect(read - 10 <= 0).toBe(true);
    }
    expect(peak()).toBe(3);
    expect(result.value).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  });

  test('an empty input resolves to [] at once', async () => {
    const fn = vi.fn();
    await expect(fanOut([], fn, { window: 4 })).resolves.toEqual([]);
    await expect(fanOut((async function* () {})(), fn, { window: 4 })).resolves.toEqual([]);
    expect(fn).not.toHaveBeenCalled();
  });

  test('the first error aborts the calls in flight, starts nothing new, and rejects only after they settled', async () => {
    const { fn, open } = gatedCalls();
    const started: number[] = [];
    const boom = new Error('item 1 failed');
    const result = track(
      fanOut(
        [0, 1, 2, 3, 4, 5],
        (item, ctx) => {
          started.push(item);
          return fn(item, ctx);
        },
        { window: 3 },
      ),
    );
    await flush();
    const signals = [...open.values()].map((c) => c.signal);
    // Item 2 ignores its abort for a while: the fan-out must not settle before it does.
    const slow = open.get(2)!;
    open.get(1)!.reject(boom);
    await flush();
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(signals[0]!.reason).toBe(boom);
    expect(started).toEqual([0, 1, 2]);
    expect(result.status).toBe('rejected'); // items 0 and 2 were aborted and settled through their signal
    expect(result.reason).toBe(boom);
    void slow;
  });

  test('rejects with the first error only after a call that ignores its abort has settled', async () => {
    let finishSlow!: () => void;
    const boom = new Error('boom');
    const result = track(
      fanOut(
        [0, 1],
        (item) =>
          item === 0
            ? new Promise<void>((resolve) => {
                finishSlow = resolve;
              })
            : Promise.reject(boom),
        { window: 2 },
      ),
    );
    await flush();
    expect(result.status).toBe('pending');
    finishSlow();
    await flush();
    expect(result.reason).toBe(boom);
  });

  test('with settle, item errors never reject and every item reports its outcome', async () => {
    const boom = new Error('odd');
    const result = await fanOut([1, 2, 3, 4], (n) => (n % 2 ? Promise.reject(boom) : n * 2), {
      window: 2,
      settle: true,
    });
    expect(result).toEqual([
      { status: 'rejected', reason: boom },
      { status: 'fulfilled', value: 4 },
      { status: 'rejected', reason: boom },
      { status: 'fulfilled', value: 8 },
    ]);
  });

  test('a synchronous throw is an item error', async () => {
    const boom = new Error('sync');
    await expect(
      fanOut(
        [1],
        () => {
          throw boom;
        },
        { window: 1 },
      ),
    ).rejects.toBe(boom);
    const settled = await fanOut(
      [1, 2],
      () => {
        throw boom;
      },
      { window: 1, settle: true },
    );
    expect(settled.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  test('options.signal stops it with exactly its reason, even with settle', async () => {
    const { fn, open } = gatedCalls();
    const controller = new AbortController();
    const result = track(fanOut([1, 2, 3, 4], fn, { window: 2, signal: controller.signal, settle: true }));
    await flush();
    const reason = { client: 'gone' };
    controller.abort(reason);
    await flush();
    expect(open.size).toBe(0);
    expect(result.reason).toBe(reason);
    await expect(fanOut([1], fn, { window: 1, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  test.each([
    ['sync', false],
    ['async', true],
  ])(
    'a signal aborted while the %s input is being opened stops it before any call, and closes the input',
    async (_, isAsync) => {
      const controller = new AbortController();
      const reason = new Error('client went away');
      let calls = 0;
      let closed = 0;
      let read = 0;
      const iterator = {
        next: () => {
          const step = read < 3 ? { done: false, value: ++read } : { done: true, value: undefined };
          return isAsync ? Promise.resolve(step) : step;
        },
        return: () => {
          closed++;
          return isAsync
            ? Promise.resolve({ done: true, value: undefined })
            : { done: true, value: undefined };
        },
      };
      const input = {
        [isAsync ? Symbol.asyncIterator : Symbol.iterator]() {
          controller.abort(reason); // e.g. opening a cursor fails the request
          return iterator;
        },
      } as unknown as Iterable<number>;
      const result = fanOut(input, async () => ++calls, { window: 2, signal: controller.signal });
      await expect(result).rejects.toBe(reason);
      await flush();
      expect(calls).toBe(0);
      expect(closed).toBe(1);
    },
  );

  test('an input iterator that throws rejects the fan-out after the calls in flight settle', async () => {
    const boom = new Error('bad input');
    function* input() {
      yield 1;
      throw boom;
    }
    await expect(fanOut(input(), async (n) => n, { window: 4 })).rejects.toBe(boom);
    async function* asyncInput() {
      yield 1;
      throw boom;
    }
    await expect(fanOut(asyncInput(), async (n) => n, { window: 4 })).rejects.toBe(boom);
  });

  test('a generator input is closed (its finally runs) when the fan-out stops early', async () => {
    let closed = false;
    function* input() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    await expect(
      fanOut(input(), (n) => (n === 3 ? Promise.reject(new Error('x')) : n), { window: 2 }),
    ).rejects.toThrow('x');
    expect(closed).toBe(true);
  });

  test('async input is read one item at a time, never more than window ahead', async () => {
    let read = 0;
    async function* input() {
      for (let i = 0; i < 6; i++) {
        read++;
        yield i;
      }
    }
    const { fn, open } = gatedCalls();
    const result = track(fanOut(input(), fn, { window: 2 }));
    await flush();
    expect(read).toBe(2);
    for (let i = 0; i < 6; i++) {
      const [index, call] = open.entries().next().value!;
      call.resolve(index);
      await flush();
      expect(read).toBeLessThanOrEqual(i + 3);
    }
    expect(result.value).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('semaphores', () => {
  test('a call takes one permit of every semaphore before it starts and returns them when it settles', async () => {
    const a = new Semaphore(2);
    const b = new Semaphore(3);
    const { fn, open } = gatedCalls();
    const first = track(fanOut([0, 1, 2, 3], fn, { window: 4, semaphores: [a, b] }));
    await flush();
    expect(open.size).toBe(2); // a caps it
    expect([a.available, b.available]).toEqual([0, 1]);
    for (let i = 0; i < 4; i++) {
      const [index, call] = open.entries().next().value!;
      call.resolve(index);
      await flush();
    }
    expect(first.value).toEqual([0, 1, 2, 3]);
    expect([a.available, b.available]).toEqual([2, 3]);
  });

  test('a process-global semaphore caps concurrent fan-outs together', async () => {
    const storage = new Semaphore(4);
    let inFlight = 0;
    let peak = 0;
    const call = async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 10));
      inFlight--;
    };
    const all = Promise.all(
      [1, 2, 3].map(() => fanOut(new Array(20).fill(0), call, { window: 8, semaphores: [storage] })),
    );
    await vi.advanceTimersByTimeAsync(200);
    await all;
    expect(peak).toBe(4);
    expect(storage.available).toBe(4);
  });

  test('permits are returned on every path: throw, rejection, abort while waiting for a permit', async () => {
    const sem = new Semaphore(1);
    await expect(
      fanOut(
        [1, 2, 3],
        (n) => {
          if (n === 2) throw new Error('sync');
          return n;
        },
        { window: 3, semaphores: [sem] },
      ),
    ).rejects.toThrow('sync');
    expect(sem.available).toBe(1);
    const controller = new AbortController();
    const held = await sem.acquire();
    const waiting = track(
      fanOut([1, 2], async (n) => n, { window: 2, semaphores: [sem], signal: controller.signal }),
    );
    await flush();
    expect(sem.waiting).toBe(2);
    controller.abort(new Error('stop'));
    await flush();
    expect(waiting.status).toBe('rejected');
    expect(sem.waiting).toBe(0);
    held.release();
    expect(sem.available).toBe(1);
  });

  test('two fan-outs naming the same semaphores in opposite orders cannot deadlock (one global order)', async () => {
    const a = new Semaphore(1);
    const b = new Semaphore(1);
    const work = () => new Promise((resolve) => setTimeout(resolve, 5));
    // Taken in the named order, the first call of each would hold one and wait for the other.
    const both = track(
      Promise.all([
        fanOut([1, 2], work, { window: 2, semaphores: [a, b] }),
        fanOut([1, 2], work, { window: 2, semaphores: [b, a] }),
      ]),
    );
    await vi.advanceTimersByTimeAsync(100);
    expect(both.status).toBe('fulfilled');
    expect([a.available, b.available]).toEqual([1, 1]);
  });

  test('the same semaphore named twice is taken once', async () => {
    const sem = new Semaphore(1);
    await expect(fanOut([1, 2], async (n) => n, { window: 2, semaphores: [sem, sem] })).resolves.toEqual([
      1, 2,
    ]);
  });
});

describe('pool', () => {
  test('calls run on the pool only after their permits are taken, with the pool signal', async () => {
    const sem = new Semaphore(1);
    const submitted: number[] = [];
    const pool: PoolLike = {
      run: (task) => {
        submitted.push(sem.available);
        const controller = new AbortController();
        return Promise.resolve(task(controller.signal));
      },
    };
    const seen: AbortSignal[] = [];
    const result = await fanOut(
      [1, 2, 3],
      (n, { signal }) => {
        seen.push(signal);
        return n * 2;
      },
      { window: 3, semaphores: [sem], pool },
    );
    expect(result).toEqual([2, 4, 6]);
    expect(submitted).toEqual([0, 0, 0]); // the permit was held at submission each time
    expect(new Set(seen).size).toBe(3);
    expect(sem.available).toBe(1);
  });
});

describe('deadlocks', () => {
  test("seed 004's shape is reported, not hung: two parents each hold a permit and fan out children on the same semaphore", async () => {
    const storage = new Semaphore(2, { name: 'storage', detectDeadlocks: true });
    const parent = (id: number) =>
      storage.run(async () => {
        await new Promise((resolve) => setTimeout(resolve, 1)); // both parents hold a permit by now
        return fanOut([1, 2, 3], (n) => new Promise((resolve) => setTimeout(() => resolve(id * 10 + n), 5)), {
          window: 8,
          semaphores: [storage],
        });
      });
    const results = [track(parent(1)), track(parent(2))];
    await vi.advanceTimersByTimeAsync(1); // reported as soon as the cycle closes, well within 100 ms
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect(r.reason).toBeInstanceOf(DeadlockError);
      expect((r.reason as DeadlockError).code).toBe('ERR_UNWEDGE_DEADLOCK');
      expect((r.reason as Error).message).toMatch(
        /^semaphore "storage" would deadlock: all 2 permits are held by callers that wait for it themselves \(run\(\), run\(\)\)/,
      );
    }
    expect(storage.available).toBe(2);
    expect(storage.waiting).toBe(0);
  });

  test('a nested acquire inside run() is reported when it can never be served', async () => {
    const sem = new Semaphore(1, { detectDeadlocks: true });
    await expect(sem.run(() => sem.acquire())).rejects.toBeInstanceOf(DeadlockError);
    expect(sem.available).toBe(1);
  });

  test('a child fan-out inside a parent fan-out item on the same semaphore is reported', async () => {
    const sem = new Semaphore(2, { detectDeadlocks: true });
    const outer = fanOut([1, 2], () => fanOut([1, 2], async (n) => n, { window: 2, semaphores: [sem] }), {
      window: 2,
      semaphores: [sem],
    });
    await expect(outer).rejects.toThrow(
      /held by callers that wait for it themselves \(fanOut item 0, fanOut item 1\)/,
    );
    expect(sem.available).toBe(2);
  });

  test('no false alarm: with a spare permit, nested children run through it and everything completes', async () => {
    const sem = new Semaphore(3, { detectDeadlocks: true });
    const parent = (id: number) =>
      sem.run(() =>
        fanOut([1, 2, 3], (n) => new Promise((resolve) => setTimeout(() => resolve(id * 10 + n), 5)), {
          window: 8,
          semaphores: [sem],
        }),
      );
    const all = track(Promise.all([parent(1), parent(2)]));
    await vi.advanceTimersByTimeAsync(100);
    expect(all.value).toEqual([
      [11, 12, 13],
      [21, 22, 23],
    ]);
  });

  test('no false alarm: a queued run() started by a release inside another holder is not that holder', async () => {
    const sem = new Semaphore(2, { detectDeadlocks: true });
    // x takes a nested permit and releases it, then merely sleeps while holding its own.
    const x = track(
      sem.run(async () => {
        await sem.run(() => new Promise((resolve) => setTimeout(resolve, 1)));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }),
    );
    await flush();
    // y is queued; x's nested release starts it. y then waits for a permit itself, behind w.
    const y = track(sem.run(() => sem.run(() => 'inner')));
    const w = track(sem.run(() => 'w'));
    await vi.advanceTimersByTimeAsync(200);
    expect([x.status, y.status, w.status]).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(y.value).toBe('inner');
  });

  test('no false alarm: a holder that is merely slow, or waits on something else, is not a deadlock', async () => {
    const sem = new Semaphore(1, { detectDeadlocks: true });
    const other = new Semaphore(1);
    const otherHeld = await other.acquire();
    const slowHolder = track(sem.run(() => new Promise((resolve) => setTimeout(resolve, 1_000))));
    const elsewhere = track(sem.run(() => other.acquire().then((p) => p.release()))); // queued behind slowHolder
    const outsider = track(sem.acquire()); // an outside caller waiting its turn
    await vi.advanceTimersByTimeAsync(999);
    expect([slowHolder.status, elsewhere.status, outsider.status]).toEqual(['pending', 'pending', 'pending']);
    await vi.advanceTimersByTimeAsync(1);
    expect(slowHolder.status).toBe('fulfilled');
    // `elsewhere` now holds sem and waits on `other`: not a wait on sem, so no deadlock error.
    expect(elsewhere.status).toBe('pending');
    otherHeld.release();
    await flush();
    expect(elsewhere.status).toBe('fulfilled');
    expect(outsider.status).toBe('fulfilled');
    (outsider.value as { release(): void }).release();
  });

  test('without detectDeadlocks the nested wait simply waits (and can be bounded by a timeout)', async () => {
    const sem = new Semaphore(1, { detectDeadlocks: false }); // the default on Node 20 and 22
    const result = track(sem.run(() => sem.acquire({ timeout: 50 })));
    await vi.advanceTimersByTimeAsync(50);
    expect((result.reason as Error).name).toBe('TimeoutError');
  });
});

describe('bad input', () => {
  test.each([
    [
      'items not iterable',
      () => fanOut(5 as never, async () => 1, { window: 1 }),
      TypeError,
      /^items must be an iterable or async iterable; received 5$/,
    ],
    [
      'items null',
      () => fanOut(null as never, async () => 1, { window: 1 }),
      TypeError,
      /^items must be .*; received null$/,
    ],
    [
      'fn not a function',
      () => fanOut([1], 'x' as never, { window: 1 }),
      TypeError,
      /^fn must be a function; received "x"$/,
    ],
    [
      'options missing',
      () => fanOut([1], async () => 1, undefined as never),
      TypeError,
      /^options must be an object with a window; received undefined$/,
    ],
    [
      'window 0',
      () => fanOut([1], async () => 1, { window: 0 }),
      RangeError,
      /^options\.window must be a positive integer; received 0$/,
    ],
    [
      'window 1.5',
      () => fanOut([1], async () => 1, { window: 1.5 }),
      RangeError,
      /^options\.window must be a positive integer; received 1\.5$/,
    ],
    [
      'window missing',
      () => fanOut([1], async () => 1, {} as never),
      TypeError,
      /^options\.window must be a positive integer; received undefined$/,
    ],
    [
      'semaphores not an array',
      () => fanOut([1], async () => 1, { window: 1, semaphores: new Semaphore(1) as never }),
      TypeError,
      /^options\.semaphores must be an array of semaphores; received an instance of Semaphore$/,
    ],
    [
      'a semaphore without acquire',
      () => fanOut([1], async () => 1, { window: 1, semaphores: [{}] as never }),
      TypeError,
      /^options\.semaphores\[0\] must have an acquire\(\) method; received an object$/,
    ],
    [
      'pool without run',
      () => fanOut([1], async () => 1, { window: 1, pool: {} as never }),
      TypeError,
      /^options\.pool must have a run\(\) method; received an object$/,
    ],
    [
      'pool null',
      () => fanOut([1], async () => 1, { window: 1, pool: null as never }),
      TypeError,
      /^options\.pool must have a run\(\) method; received null$/,
    ],
    [
      'signal not a signal',
      () => fanOut([1], async () => 1, { window: 1, signal: {} as never }),
      TypeError,
      /^options\.signal must be an AbortSignal; received an object$/,
    ],
    [
      'settle not a boolean',
      () => fanOut([1], async () => 1, { window: 1, settle: 1 as never }),
      TypeError,
      /^options\.settle must be a boolean; received 1$/,
    ],
  ])('fanOut rejects at once: %s', async (_label, call, errorClass, message) => {
    const promise = call();
    await expect(promise).rejects.toBeInstanceOf(errorClass);
    await expect(promise).rejects.toThrow(message);
  });
});
