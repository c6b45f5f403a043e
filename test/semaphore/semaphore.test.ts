import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { Semaphore, TimeoutError } from '../../src/index.js';
import { deferred, track } from '../support/promises.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Lets settled promises run their continuations. */
const flush = () => vi.advanceTimersByTimeAsync(0);

describe('acquire and release', () => {
  test('acquire resolves at once while permits are free and release returns them', async () => {
    const sem = new Semaphore(3);
    const a = await sem.acquire();
    const b = await sem.acquire({ weight: 2 });
    expect(sem.available).toBe(0);
    expect([a.weight, b.weight]).toEqual([1, 2]);
    a.release();
    expect(sem.available).toBe(1);
    b.release();
    expect(sem.available).toBe(3);
  });

  test('a second release of the same permit does nothing', async () => {
    const sem = new Semaphore(2);
    const permit = await sem.acquire();
    permit.release();
    permit.release();
    permit[Symbol.dispose]();
    expect(sem.available).toBe(2);
  });

  test('a permit is disposable with the Symbol.dispose of this Node version', async () => {
    const sem = new Semaphore(1);
    const permit = await sem.acquire();
    expect(typeof permit[Symbol.dispose]).toBe('function');
    permit[Symbol.dispose]();
    expect(sem.available).toBe(1);
  });

  test('waiters are served in FIFO order as permits come back', async () => {
    const sem = new Semaphore(1);
    const first = await sem.acquire();
    const order: number[] = [];
    const waits = [1, 2, 3].map((i) =>
      sem.acquire().then((p) => {
        order.push(i);
        p.release();
      }),
    );
    expect(sem.waiting).toBe(3);
    first.release();
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3]);
    expect(sem.available).toBe(1);
  });

  test('large acquire does not starve: a lighter later waiter is not served before a heavier earlier one', async () => {
    const sem = new Semaphore(2);
    const held = await sem.acquire();
    const heavy = track(sem.acquire({ weight: 2 }));
    const light = track(sem.acquire({ weight: 1 }));
    await flush();
    // One permit is free, enough for `light`, but `heavy` is ahead of it.
    expect(sem.available).toBe(1);
    expect(light.status).toBe('pending');
    held.release();
    await flush();
    expect(heavy.status).toBe('fulfilled');
    expect(light.status).toBe('pending');
    (heavy.value as { release(): void }).release();
    await flush();
    expect(light.status).toBe('fulfilled');
  });

  test('tryAcquire never jumps the line and never waits', async () => {
    const sem = new Semaphore(2);
    const held = sem.tryAcquire();
    expect(held).toBeDefined();
    const heavy = track(sem.acquire({ weight: 2 }));
    expect(sem.tryAcquire()).toBeUndefined(); // a permit is free, but someone is waiting
    held!.release();
    await flush();
    expect(heavy.status).toBe('fulfilled');
    expect(sem.tryAcquire()).toBeUndefined(); // nothing free
    expect(sem.tryAcquire(2)).toBeUndefined();
  });
});

describe('timeouts', () => {
  test('acquire rejects with TimeoutError after its timeout and takes no permit', async () => {
    const sem = new Semaphore(2, { name: 'storage-chunks' });
    const held = await sem.acquire({ weight: 2 });
    const other = track(sem.acquire());
    const waiting = track(sem.acquire({ timeout: 250 }));
    await vi.advanceTimersByTimeAsync(249);
    expect(waiting.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(waiting.status).toBe('rejected');
    const error = waiting.reason as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.code).toBe('ERR_UNWEDGE_TIMEOUT');
    expect(error.message).toBe(
      'semaphore "storage-chunks" gave no permit within 250 ms (2 permits, 2 in use, 1 other waiting)',
    );
    expect(sem.waiting).toBe(1);
    held.release();
    await flush();
    expect(other.status).toBe('fulfilled');
    expect(sem.available).toBe(1);
  });

  test('a timeout message counts the waiters besides the caller, and says "1 permit"', async () => {
    const sem = new Semaphore(1, { name: 'db' });
    const held = await sem.acquire();
    const alone = track(sem.run(() => 1, { timeout: 100 }));
    await vi.advanceTimersByTimeAsync(100);
    expect((alone.reason as Error).message).toBe(
      'semaphore "db" gave no permit within 100 ms (1 permit, 1 in use, 0 others waiting)',
    );
    const behind = track(sem.acquire());
    const timed = [track(sem.acquire({ timeout: 50 })), track(sem.acquire({ timeout: 50 }))];
    await vi.advanceTimersByTimeAsync(50);
    expect((timed[0]!.reason as Error).message).toMatch(/\(1 permit, 1 in use, 2 others waiting\)$/);
    expect((timed[1]!.reason as Error).message).toMatch(/\(1 permit, 1 in use, 1 other waiting\)$/);
    // timeout 0 never joins the line: everyone in it is another waiter
    await expect(sem.acquire({ timeout: 0 })).rejects.toThrow(
      'semaphore "db" gave no permit within 0 ms (1 permit, 1 in use, 1 other waiting)',
    );
    held.release();
    await flush();
    (behind.value as { release(): void }).release();
  });

  test('a timed-out head lets the waiters behind it be served', async () => {
    const sem = new Semaphore(2);
    const held = await sem.acquire();
    const heavy = track(sem.acquire({ weight: 2, timeout: 100 }));
    const light = track(sem.acquire());
    await vi.advanceTimersByTimeAsync(100);
    expect(heavy.status).toBe('rejected');
    expect(light.status).toBe('fulfilled');
    expect(sem.available).toBe(0);
    held.release();
  });

  test('timeout 0 takes free permits at once and otherwise fails at once without waiting', async () => {
    const sem = new Semaphore(1);
    const permit = await sem.acquire({ timeout: 0 });
    await expect(sem.acquire({ timeout: 0 })).rejects.toThrow(/gave no permit within 0 ms/);
    await expect(sem.run(() => 1, { timeout: 0, weight: 1 })).rejects.toBeInstanceOf(TimeoutError);
    expect(sem.waiting).toBe(0);
    permit.release();
  });

  test('Infinity means no limit and starts no timer', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const waiting = track(sem.acquire({ timeout: Number.POSITIVE_INFINITY }));
    expect(vi.getTimerCount()).toBe(0);
    held.release();
    await flush();
    expect(waiting.status).toBe('fulfilled');
  });

  test('a timeout longer than 2^31-1 ms is not clamped to 1 ms', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const long = 2 ** 31 + 5_000;
    const waiting = track(sem.acquire({ timeout: long }));
    await vi.advanceTimersByTimeAsync(2 ** 31 - 1);
    expect(waiting.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(5_001);
    expect(waiting.status).toBe('rejected');
    expect(vi.getTimerCount()).toBe(0);
    held.release();
  });

  test('a long timeout is cleared when the wait is served', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const waiting = track(sem.acquire({ timeout: 2 ** 32 }));
    await vi.advanceTimersByTimeAsync(2 ** 31);
    held.release();
    await flush();
    expect(waiting.status).toBe('fulfilled');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('abort', () => {
  test('abort rejects with exactly signal.reason and the waiter leaves the line', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const waiting = track(sem.acquire({ signal: controller.signal }));
    const reason = { why: 'client went away' };
    controller.abort(reason);
    await flush();
    expect(waiting.status).toBe('rejected');
    expect(waiting.reason).toBe(reason);
    expect(sem.waiting).toBe(0);
    held.release();
    expect(sem.available).toBe(1);
  });

  test('an already-aborted signal rejects at once even when permits are free', async () => {
    const sem = new Semaphore(1);
    const reason = new Error('stop');
    await expect(sem.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(sem.run(() => 1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(sem.available).toBe(1);
  });

  test('an aborted head lets lighter waiters behind it be served', async () => {
    const sem = new Semaphore(2);
    const held = await sem.acquire();
    const controller = new AbortController();
    const heavy = track(sem.acquire({ weight: 2, signal: controller.signal }));
    const light = track(sem.acquire());
    controller.abort();
    await flush();
    expect(heavy.status).toBe('rejected');
    expect(light.status).toBe('fulfilled');
    held.release();
  });

  test('a permit freed in the same tick as the abort is handed back, never granted to the aborted waiter', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    // This listener runs before the semaphore's own (registered first) and frees the permit
    // while the abort is being dispatched.
    controller.signal.addEventListener('abort', () => held.release());
    const waiting = track(sem.acquire({ signal: controller.signal }));
    controller.abort(new Error('gone'));
    await flush();
    expect(waiting.status).toBe('rejected');
    expect((waiting.reason as Error).message).toBe('gone');
    expect(sem.available).toBe(1);
    expect(sem.waiting).toBe(0);
  });
});

describe('no leaks', () => {
  test('a granted wait removes its timer and its abort listener', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const waiting = sem.acquire({ signal: controller.signal, timeout: 1_000 });
    expect(vi.getTimerCount()).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    held.release();
    (await waiting).release();
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  test('a timed-out wait removes its abort listener and an aborted wait its timer', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const c1 = new AbortController();
    const timedOut = track(sem.acquire({ signal: c1.signal, timeout: 10 }));
    await vi.advanceTimersByTimeAsync(10);
    expect(timedOut.status).toBe('rejected');
    expect(getEventListeners(c1.signal, 'abort')).toHaveLength(0);
    const c2 = new AbortController();
    const aborted = track(sem.acquire({ signal: c2.signal, timeout: 10_000 }));
    c2.abort();
    await flush();
    expect(aborted.status).toBe('rejected');
    expect(vi.getTimerCount()).toBe(0);
    held.release();
  });
});

describe('run', () => {
  test('run returns fn result and releases the permit', async () => {
    const sem = new Semaphore(1);
    await expect(sem.run(() => 42)).resolves.toBe(42);
    await expect(sem.run(async () => 'x')).resolves.toBe('x');
    expect(sem.available).toBe(1);
  });

  test('run releases when fn throws synchronously or rejects, and passes the error on', async () => {
    const sem = new Semaphore(1);
    const boom = new Error('boom');
    await expect(
      sem.run(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(sem.run(() => Promise.reject(boom))).rejects.toBe(boom);
    await expect(sem.run(() => Promise.reject(boom), { weight: 1, timeout: 10 })).rejects.toBe(boom);
    expect(sem.available).toBe(1);
  });

  test('with deadlock detection on, run releases when fn throws synchronously or rejects (the Node 24 default)', async () => {
    const sem = new Semaphore(2, { detectDeadlocks: true });
    const boom = new Error('boom');
    await expect(
      sem.run(
        () => {
          throw boom;
        },
        { weight: 2 },
      ),
    ).rejects.toBe(boom);
    await expect(sem.run(() => Promise.reject(boom))).rejects.toBe(boom);
    await expect(sem.run(() => 'ok', { weight: 2 })).resolves.toBe('ok');
    expect(sem.available).toBe(2);
  });

  test('a holder of the only permit that waits for it is told so in one sentence, with "1 nested wait"', async () => {
    const sem = new Semaphore(1, { name: 'config', detectDeadlocks: true });
    const outer = sem.run(() => sem.run(() => 'never'));
    await expect(outer).rejects.toThrow(
      'semaphore "config" would deadlock: its only permit is held by a caller that waits for it itself (run()); rejected 1 nested wait',
    );
    expect([sem.available, sem.waiting]).toEqual([1, 0]);
  });

  test('with deadlock detection on, waits made after a run() has settled do not count as blocking it', async () => {
    const sem = new Semaphore(1, { detectDeadlocks: true });
    const late: Array<ReturnType<typeof track>> = [];
    const later = deferred();
    // The run settles at once; the reaction runs later, in its (by then given back) hold's context.
    await sem.run(() => {
      void later.promise.then(() => late.push(track(sem.acquire()), track(sem.acquire())));
    });
    const outsider = await sem.acquire(); // held by code outside any run()
    later.resolve();
    await flush();
    const [first, second] = late;
    // Not a deadlock: the outsider will release. Counting the settled run as a holder said it was.
    expect([first!.status, second!.status]).toEqual(['pending', 'pending']);
    outsider.release();
    await flush();
    expect(first!.status).toBe('fulfilled');
    (first!.value as { release(): void }).release();
    await flush();
    expect(second!.status).toBe('fulfilled');
  });

  test('run with a weight holds that many permits while fn runs, on every path', async () => {
    const sem = new Semaphore(3);
    let seen = -1;
    await sem.run(
      () => {
        seen = sem.available;
      },
      { weight: 3 },
    );
    expect(seen).toBe(0);
    expect(sem.available).toBe(3);
    await expect(sem.run(() => Promise.reject(new Error('x')), { weight: 2 })).rejects.toThrow('x');
    await expect(
      sem.run(
        () => {
          throw new Error('sync');
        },
        { weight: 2 },
      ),
    ).rejects.toThrow('sync');
    expect(sem.available).toBe(3);
  });

  test('run never has more than permits fns in flight and starts them in order', async () => {
    const sem = new Semaphore(2);
    let inFlight = 0;
    let peak = 0;
    const started: number[] = [];
    const gates: Array<() => void> = [];
    const runs = [0, 1, 2, 3, 4].map((i) =>
      sem.run(
        () =>
          new Promise<number>((resolve) => {
            started.push(i);
            inFlight++;
            peak = Math.max(peak, inFlight);
            gates.push(() => {
              inFlight--;
              resolve(i);
            });
          }),
      ),
    );
    await flush();
    expect(started).toEqual([0, 1]);
    while (gates.length > 0) {
      gates.shift()!();
      await flush();
    }
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
    expect(sem.available).toBe(2);
  });

  test('a queued run that times out never calls fn', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const fn = vi.fn(() => 1);
    const queued = track(sem.run(fn, { timeout: 50 }));
    await vi.advanceTimersByTimeAsync(50);
    expect(queued.status).toBe('rejected');
    expect(queued.reason).toBeInstanceOf(TimeoutError);
    held.release();
    await flush();
    expect(fn).not.toHaveBeenCalled();
    expect(sem.available).toBe(1);
  });

  test('a queued run with a weight starts when enough permits come back', async () => {
    const sem = new Semaphore(2);
    const held = await sem.acquire();
    const queued = track(sem.run(() => sem.available, { weight: 2 }));
    held.release();
    await flush();
    expect(queued.value).toBe(0);
    expect(sem.available).toBe(2);
  });
});

describe('getters and names', () => {
  test('permits, available and waiting describe the state', async () => {
    const sem = new Semaphore(4, { name: 'db' });
    expect([sem.name, sem.permits, sem.available, sem.waiting]).toEqual(['db', 4, 4, 0]);
    const p = await sem.acquire({ weight: 3 });
    const w = track(sem.acquire({ weight: 2 }));
    expect([sem.available, sem.waiting]).toEqual([1, 1]);
    p.release();
    await flush();
    expect(w.status).toBe('fulfilled');
  });

  test('an unnamed semaphore says "semaphore" and a weighted timeout names the weight', async () => {
    const sem = new Semaphore(3);
    const held = await sem.acquire({ weight: 2 });
    await expect(sem.acquire({ weight: 2, timeout: 0 })).rejects.toThrow(
      'semaphore gave no 2 permits within 0 ms (3 permits, 2 in use, 0 others waiting)',
    );
    held.release();
  });
});

describe('prototype pollution', () => {
  test('an aborted signal set on Object.prototype does not stop a wait from hearing its own abort', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const proto = Object.prototype as { signal?: AbortSignal };
    proto.signal = AbortSignal.abort();
    let waiting: Promise<unknown>;
    try {
      waiting = sem.acquire({ signal: controller.signal }); // adds its abort listener now
    } finally {
      delete proto.signal;
    }
    const reason = new Error('gone');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    held.release();
    expect(sem.available).toBe(1);
  });
});
