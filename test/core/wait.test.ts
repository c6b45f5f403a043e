// The admission mechanism every wait goes through (src/core/wait.ts): bound(), liveHead(),
// resolveOnly() and failAll(), tested directly rather than through a primitive.
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { bound, failAll, liveHead, park, resolveOnly, Waiter, type WaitHost } from '../../src/core/wait.js';
import { WaiterList } from '../../src/core/waiters.js';
import { deferred, track } from '../support/promises.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const timeoutError = () => new Error('timed out');

describe('bound', () => {
  test('settles like the work when it settles first, and removes its timer and listener', async () => {
    const controller = new AbortController();
    const work = deferred<number>();
    const result = track(bound(work.promise, controller.signal, 1_000, timeoutError));
    expect(vi.getTimerCount()).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    work.resolve(7);
    await vi.advanceTimersByTimeAsync(0);
    expect(result).toEqual({ status: 'fulfilled', value: 7 });
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  test('rejects with the timeout error when time runs out first, calls onExpire with it, and consumes a late rejection', async () => {
    const work = deferred<number>();
    const expired: unknown[] = [];
    const result = track(bound(work.promise, undefined, 50, timeoutError, (reason) => expired.push(reason)));
    await vi.advanceTimersByTimeAsync(50);
    expect((result.reason as Error).message).toBe('timed out');
    expect(expired).toEqual([result.reason]);
    work.reject(new Error('late')); // never unhandled: the suite fails on an unhandled rejection
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('rejects with exactly the signal reason on abort, and takes an object with timeoutError()', async () => {
    const controller = new AbortController();
    const reason = { why: 'gone' };
    const result = track(bound(new Promise(() => {}), controller.signal, 50, { timeoutError }));
    controller.abort(reason);
    await vi.advanceTimersByTimeAsync(0);
    expect(result.reason).toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a thenable whose then() throws is a failed work', async () => {
    const broken = {
      // biome-ignore lint/suspicious/noThenProperty: a broken thenable on purpose
      then() {
        throw new Error('broken then');
      },
    };
    await expect(bound(broken, undefined, undefined, timeoutError)).rejects.toThrow('broken then');
  });
});

class TestWaiter extends Waiter<string> {}

function host(): WaitHost<TestWaiter> & { left: TestWaiter[] } {
  const left: TestWaiter[] = [];
  return { waiters: new WaiterList<TestWaiter>(), timeoutError, onLeave: (w) => left.push(w), left };
}

describe('liveHead', () => {
  test('drops heads whose signal is already aborted, rejecting each with its reason, and returns the first live one', async () => {
    const h = host();
    const [a, b, c] = [new AbortController(), new AbortController(), new AbortController()];
    const waits = [a, b, c].map((controller) => {
      const waiter = new TestWaiter();
      return { waiter, result: track(park<string, TestWaiter>(h, waiter, controller.signal, undefined)) };
    });
    // Aborted while their abort is still being dispatched: the signal says aborted, the listener has not run.
    Object.defineProperty(a.signal, 'aborted', { value: true });
    Object.defineProperty(a.signal, 'reason', { value: 'a gone' });
    Object.defineProperty(b.signal, 'aborted', { value: true });
    Object.defineProperty(b.signal, 'reason', { value: 'b gone' });
    const dropped: TestWaiter[] = [];
    expect(liveHead(h.waiters, (w) => dropped.push(w))).toBe(waits[2]!.waiter);
    expect(dropped).toEqual([waits[0]!.waiter, waits[1]!.waiter]);
    expect(h.waiters.length).toBe(1);
    await vi.advanceTimersByTimeAsync(0);
    expect([waits[0]!.result.reason, waits[1]!.result.reason]).toEqual(['a gone', 'b gone']);
    expect(waits[2]!.result.status).toBe('pending');
    c.abort('c gone');
    await vi.advanceTimersByTimeAsync(0);
    expect(waits[2]!.result.reason).toBe('c gone');
    expect(h.left).toEqual([waits[2]!.waiter]); // only a waiter that left on its own calls onLeave
  });
});

describe('resolveOnly', () => {
  class Lean extends Waiter<string> {}
  resolveOnly(Lean);

  test('a waiter keeps only its resolve function, and still rejects with exactly the reason', async () => {
    const h = { waiters: new WaiterList<Lean>(), timeoutError, onLeave: () => {} };
    const waiter = new Lean();
    const result = track(park<string, Lean>(h, waiter, undefined, 10));
    expect(Object.keys(waiter)).not.toContain('reject');
    const reason = new Error('no');
    h.waiters.remove(waiter);
    waiter.reject(reason);
    await vi.advanceTimersByTimeAsync(0);
    expect(result.reason).toBe(reason);
    const served = new Lean();
    const ok = track(park<string, Lean>(h, served, undefined, undefined));
    served.resolve('yes');
    await vi.advanceTimersByTimeAsync(0);
    expect(ok).toEqual({ status: 'fulfilled', value: 'yes' });
    vi.clearAllTimers();
  });
});

describe('failAll', () => {
  test('rejects every parked waiter in FIFO order and disarms them', async () => {
    const host: WaitHost<Waiter<number>> = {
      waiters: new WaiterList<Waiter<number>>(),
      timeoutError: () => new Error('timeout'),
      onLeave: () => {},
    };
    const controller = new AbortController();
    const order: number[] = [];
    const parked = [0, 1, 2].map((i) =>
      park<number>(host, new Waiter<number>(), controller.signal, 60_000).catch((error: Error) => {
        order.push(i);
        return error.message;
      }),
    );
    let n = 0;
    failAll(host.waiters, () => new Error(`closed ${n++}`));
    expect(await Promise.all(parked)).toEqual(['closed 0', 'closed 1', 'closed 2']);
    expect(order).toEqual([0, 1, 2]);
    expect(host.waiters.length).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
