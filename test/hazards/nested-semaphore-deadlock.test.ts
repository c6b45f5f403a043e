// Hazard: docs/hazards/nested-semaphore-deadlock.md (seed 004). A holder of a semaphore whose
// children wait for the same semaphore: once every permit is held by such a parent, nothing can
// be released, and without detection the requests hang with no error and no log.
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { DeadlockError } from '../../src/errors.js';
import { fanOut } from '../../src/fan-out/fan-out.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { track } from '../support/promises.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Two requests, each holding a permit of `storage` while its chunks fan out on `storage` too. */
function twoRequests(storage: Semaphore) {
  const request = (id: number) =>
    storage.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1)); // both requests hold a permit by now
      return fanOut([1, 2, 3], async (n) => id * 10 + n, { window: 8, semaphores: [storage] });
    });
  return [track(request(1)), track(request(2))];
}

test('without detection, parents holding every permit wait for their own children forever', async () => {
  const storage = new Semaphore(2, { detectDeadlocks: false });
  const requests = twoRequests(storage);
  await vi.advanceTimersByTimeAsync(60_000);
  expect(requests.map((r) => r.status)).toEqual(['pending', 'pending']); // a minute later, and forever
  expect([storage.available, storage.waiting]).toEqual([0, 6]);
});

test('with detection, the nested waits are rejected with DeadlockError as soon as the cycle closes', async () => {
  const storage = new Semaphore(2, { name: 'storage', detectDeadlocks: true });
  const requests = twoRequests(storage);
  await vi.advanceTimersByTimeAsync(1);
  for (const r of requests) {
    expect(r.reason).toBeInstanceOf(DeadlockError);
    expect((r.reason as Error).message).toMatch(
      /^semaphore "storage" would deadlock: all 2 permits are held/,
    );
  }
  expect([storage.available, storage.waiting]).toEqual([2, 0]);
});

test('the fix: children gated by a semaphore of their own complete', async () => {
  const requests = new Semaphore(2, { detectDeadlocks: true });
  const chunks = new Semaphore(2, { detectDeadlocks: true });
  const request = (id: number) =>
    requests.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return fanOut([1, 2, 3], async (n) => id * 10 + n, { window: 8, semaphores: [chunks] });
    });
  const all = track(Promise.all([request(1), request(2)]));
  await vi.advanceTimersByTimeAsync(10);
  expect(all.value).toEqual([
    [11, 12, 13],
    [21, 22, 23],
  ]);
});
