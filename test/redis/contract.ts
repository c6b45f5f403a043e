// The semaphore contract: what every semaphore of unwedge does, whether its permits live in this
// process or in Redis. Run on real time (Redis is real), with short timeouts; each wait is bounded.
// Assertions that something did NOT happen read the semaphore's state once every call made so far
// has taken effect (`state()`), never the passage of time.
import { expect, test } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import type { AcquireOptions, Permit } from '../../src/semaphore/semaphore.js';
import { track } from '../support/promises.js';

export interface Subject {
  acquire(options?: AcquireOptions): Promise<Permit>;
  /** `RedisSemaphore.acquireIfFree`, or `Semaphore.tryAcquire` with its synchronous result (or throw) wrapped. */
  acquireIfFree(weight?: number): Promise<Permit | undefined>;
  run<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<Awaited<T>>;
  /** Permits in use and callers queued, once every call made so far has taken effect. */
  state(): Promise<{ used: number; queued: number }>;
}

export type MakeSubject = (permits: number, options?: { name?: string }) => Subject;

/**
 * How early a timer may fire as measured by performance.now(): Node starts a timer from libuv's
 * loop time, cached at the start of the loop turn, which lags on a busy machine.
 */
export const TIMER_SLACK = 25;

/** Settles as `promise` does, or rejects after `ms` naming `what`: a wait in a test never hangs. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Resolves once `check()` holds, asking every 10 ms; rejects after `ms` naming `what`. */
export async function waitUntil(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves once `predicate` holds for `subject.state()`, re-reading after each answer (bounded). */
async function until(subject: Subject, predicate: (s: { used: number; queued: number }) => boolean) {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const s = await subject.state();
    if (predicate(s)) return s;
    if (Date.now() > deadline) throw new Error(`state never matched: ${JSON.stringify(s)}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Every permit is free: all of them can be taken at once, and then none more. */
async function expectAllFree(subject: Subject, permits: number) {
  const all = await subject.acquireIfFree(permits);
  expect(all, 'all permits free').toBeDefined();
  expect(await subject.acquireIfFree(1), 'no permit beyond the limit').toBeUndefined();
  all!.release();
}

export function semaphoreContract(make: MakeSubject): void {
  test('acquire resolves at once while permits are free and release returns them', async () => {
    const sem = make(3);
    const a = await sem.acquire();
    const b = await sem.acquire({ weight: 2 });
    expect([a.weight, b.weight]).toEqual([1, 2]);
    expect(await sem.state()).toEqual({ used: 3, queued: 0 });
    expect(await sem.acquireIfFree()).toBeUndefined();
    a.release();
    b.release();
    await expectAllFree(sem, 3);
  });

  test('a second release of the same permit does nothing', async () => {
    const sem = make(2);
    const permit = await sem.acquire();
    const other = await sem.acquire();
    permit.release();
    permit.release();
    permit[Symbol.dispose]();
    expect(await sem.state()).toEqual({ used: 1, queued: 0 });
    other.release();
    await expectAllFree(sem, 2);
  });

  test('waiters are served in FIFO order as permits come back', async () => {
    const sem = make(1);
    const first = await sem.acquire();
    const order: number[] = [];
    const waits = [1, 2, 3].map((i) =>
      sem.acquire().then((p) => {
        order.push(i);
        p.release();
      }),
    );
    await until(sem, (s) => s.queued === 3);
    first.release();
    await within(Promise.all(waits), 2_000, 'three waiters');
    expect(order).toEqual([1, 2, 3]);
    await expectAllFree(sem, 1);
  });

  test('large acquire does not starve: a lighter later waiter is not served before a heavier earlier one', async () => {
    const sem = make(2);
    const held = await sem.acquire();
    const heavy = sem.acquire({ weight: 2 });
    const lightWait = sem.acquire({ weight: 1 });
    const light = track(lightWait);
    // One permit is free, enough for `light`, but `heavy` is ahead of it.
    expect(await until(sem, (s) => s.queued === 2)).toEqual({ used: 1, queued: 2 });
    expect(light.status).toBe('pending');
    held.release();
    const big = await within(heavy, 2_000, 'heavy waiter');
    expect(await sem.state()).toEqual({ used: 2, queued: 1 });
    expect(light.status).toBe('pending');
    big.release();
    (await within(lightWait, 2_000, 'light waiter')).release();
    await expectAllFree(sem, 2);
  });

  test('acquireIfFree (tryAcquire in process) never jumps the line and never waits', async () => {
    const sem = make(2);
    const held = await sem.acquireIfFree();
    expect(held).toBeDefined();
    const heavy = sem.acquire({ weight: 2 });
    await until(sem, (s) => s.queued === 1);
    expect(await sem.acquireIfFree()).toBeUndefined(); // a permit is free, but someone is waiting
    held!.release();
    const big = await within(heavy, 2_000, 'heavy waiter');
    expect(await sem.acquireIfFree()).toBeUndefined(); // nothing free
    expect(await sem.acquireIfFree(2)).toBeUndefined();
    big.release();
    await expectAllFree(sem, 2);
  });

  test('acquire rejects with TimeoutError after its timeout and takes no permit', async () => {
    const sem = make(2, { name: 'storage-chunks' });
    const held = await sem.acquire({ weight: 2 });
    const other = sem.acquire();
    const started = performance.now();
    const error = await within(sem.acquire({ timeout: 100 }), 2_000, 'timed wait').then(
      () => expect.fail('served'),
      (e: unknown) => e as TimeoutError,
    );
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(100 - TIMER_SLACK);
    expect(elapsed).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.code).toBe('ERR_UNWEDGE_TIMEOUT');
    expect(error.message).toMatch(
      /^semaphore "storage-chunks" gave no permit within 100 ms \(2 permits[,;] /,
    );
    expect(await sem.state()).toEqual({ used: 2, queued: 1 });
    held.release();
    (await within(other, 2_000, 'other waiter')).release();
    await expectAllFree(sem, 2);
  });

  test('a timed-out head lets the waiters behind it be served', async () => {
    const sem = make(2);
    const held = await sem.acquire();
    const heavy = track(sem.acquire({ weight: 2, timeout: 100 }));
    const light = sem.acquire();
    const permit = await within(light, 2_000, 'light waiter behind a timed-out head');
    expect(heavy.status).toBe('rejected');
    expect(heavy.reason).toBeInstanceOf(TimeoutError);
    permit.release();
    held.release();
    await expectAllFree(sem, 2);
  });

  test('timeout 0 takes free permits at once and otherwise fails at once without waiting', async () => {
    const sem = make(1);
    const permit = await sem.acquire({ timeout: 0 });
    await expect(sem.acquire({ timeout: 0 })).rejects.toThrow(/gave no permit within 0 ms/);
    await expect(sem.run(() => 1, { timeout: 0, weight: 1 })).rejects.toBeInstanceOf(TimeoutError);
    expect(await sem.state()).toEqual({ used: 1, queued: 0 });
    permit.release();
    await expectAllFree(sem, 1);
  });

  test('abort rejects with exactly signal.reason and the waiter leaves the line', async () => {
    const sem = make(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const waiting = sem.acquire({ signal: controller.signal });
    await until(sem, (s) => s.queued === 1);
    const reason = { why: 'client went away' };
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(await sem.state()).toEqual({ used: 1, queued: 0 });
    held.release();
    await expectAllFree(sem, 1);
  });

  test('an already-aborted signal rejects at once even when permits are free', async () => {
    const sem = make(1);
    const reason = new Error('stop');
    await expect(sem.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(sem.run(() => 1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expectAllFree(sem, 1);
  });

  test('an aborted head lets lighter waiters behind it be served', async () => {
    const sem = make(2);
    const held = await sem.acquire();
    const controller = new AbortController();
    const heavy = track(sem.acquire({ weight: 2, signal: controller.signal }));
    const light = sem.acquire();
    await until(sem, (s) => s.queued === 2);
    controller.abort();
    const permit = await within(light, 2_000, 'light waiter behind an aborted head');
    expect(heavy.status).toBe('rejected');
    permit.release();
    held.release();
    await expectAllFree(sem, 2);
  });

  test('a permit freed in the same tick as the abort is handed back, never granted to the aborted waiter', async () => {
    const sem = make(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    // This listener runs before the semaphore's own (registered first) and frees the permit
    // while the abort is being dispatched.
    controller.signal.addEventListener('abort', () => held.release());
    const waiting = sem.acquire({ signal: controller.signal });
    await until(sem, (s) => s.queued === 1);
    controller.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    await expectAllFree(sem, 1);
    expect(await sem.state()).toEqual({ used: 0, queued: 0 });
  });

  test('run returns fn result and releases the permit on every path', async () => {
    const sem = make(1);
    await expect(sem.run(() => 42)).resolves.toBe(42);
    await expect(sem.run(async () => 'x')).resolves.toBe('x');
    const boom = new Error('boom');
    await expect(
      sem.run(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(sem.run(() => Promise.reject(boom))).rejects.toBe(boom);
    await expect(sem.run(() => Promise.reject(boom), { weight: 1, timeout: 1_000 })).rejects.toBe(boom);
    await expectAllFree(sem, 1);
  });

  test('run with a weight holds that many permits while fn runs', async () => {
    const sem = make(3);
    const during = await sem.run(() => sem.state(), { weight: 3 });
    expect(during.used).toBe(3);
    await expect(sem.run(() => Promise.reject(new Error('x')), { weight: 2 })).rejects.toThrow('x');
    await expectAllFree(sem, 3);
  });

  test('run never has more than permits fns in flight and starts them in order', async () => {
    const sem = make(2);
    let inFlight = 0;
    let peak = 0;
    const started: number[] = [];
    const runs = [0, 1, 2, 3, 4, 5].map((i) =>
      sem.run(async () => {
        started.push(i);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        return i;
      }),
    );
    expect(await within(Promise.all(runs), 3_000, 'six runs')).toEqual([0, 1, 2, 3, 4, 5]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBeLessThanOrEqual(2);
    await expectAllFree(sem, 2);
  });

  test('a queued run that times out never calls fn', async () => {
    const sem = make(1);
    const held = await sem.acquire();
    let called = false;
    await expect(
      sem.run(
        () => {
          called = true;
        },
        { timeout: 50 },
      ),
    ).rejects.toBeInstanceOf(TimeoutError);
    held.release();
    await expectAllFree(sem, 1);
    expect(called).toBe(false);
  });
}
