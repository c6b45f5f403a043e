// Hazard: docs/hazards/abandoned-work-keeps-its-slot.md. A caller that stops waiting for a task
// (abort, timeout, shutdown) must not give its limit back while the task still runs: a task that
// ignores its signal would otherwise put more work on the backend than the limit allows.
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { fanOut } from '../../src/fan-out/fan-out.js';
import { WorkerPool } from '../../src/pool/index.js';
import { BoundedQueue } from '../../src/queue/queue.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { track } from '../support/promises.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A backend call that ignores its signal and takes `ms`, counting how many run at once. */
function backend(ms: number) {
  const counts = { now: 0, most: 0, started: 0 };
  const call = async () => {
    counts.now++;
    counts.started++;
    counts.most = Math.max(counts.most, counts.now);
    await new Promise((resolve) => setTimeout(resolve, ms));
    counts.now--;
  };
  return { counts, call };
}

test('an aborted fan-out settles at once, and its call keeps the permit until it ends', async () => {
  const sem = new Semaphore(1); // seed 004: the process-wide cap on the storage backend
  const pool = new WorkerPool({ concurrency: 4 });
  const { counts, call } = backend(100);
  const controller = new AbortController();
  const first = track(fanOut(['a'], call, { window: 1, semaphores: [sem], pool, signal: controller.signal }));
  await vi.advanceTimersByTimeAsync(10);
  const reason = new Error('client went away');
  controller.abort(reason);
  await vi.advanceTimersByTimeAsync(0);
  expect(first.reason).toBe(reason); // the caller is free at once
  expect(sem.available).toBe(0); // the call still runs on the backend, holding its permit
  const second = track(fanOut(['b'], call, { window: 1, semaphores: [sem], pool }));
  await vi.advanceTimersByTimeAsync(300);
  expect(second.status).toBe('fulfilled');
  expect(counts.most).toBe(1); // never 2 calls under Semaphore(1)
  expect(sem.available).toBe(1);
  await pool.shutdown();
});

test('calls a pool timed out keep their window place: window 1 runs one call at a time', async () => {
  const pool = new WorkerPool({ concurrency: 8, timeout: 10 });
  const { counts, call } = backend(50);
  const result = track(fanOut([1, 2, 3, 4, 5], call, { window: 1, pool, settle: true }));
  await vi.advanceTimersByTimeAsync(240);
  expect(result.status).toBe('pending'); // the fifth call still runs
  expect(counts.most).toBe(1);
  await vi.advanceTimersByTimeAsync(10);
  expect(counts.now).toBe(0); // it resolves only when nothing it started still runs
  expect(result.status).toBe('fulfilled');
  const settled = result.value as PromiseSettledResult<unknown>[];
  expect(settled.map((r) => r.status)).toEqual(Array(5).fill('rejected'));
  expect((settled[0] as PromiseRejectedResult).reason).toBeInstanceOf(TimeoutError);
  expect(counts.most).toBe(1);
  await pool.shutdown();
});

test('a fan-out whose call ignores its signal still settles when its signal aborts', async () => {
  const controller = new AbortController();
  const result = track(fanOut([1], () => new Promise(() => {}), { window: 1, signal: controller.signal }));
  await vi.advanceTimersByTimeAsync(10);
  controller.abort(new Error('stop'));
  await vi.advanceTimersByTimeAsync(0);
  expect((result.reason as Error).message).toBe('stop');
});

test('consumer handlers past their timeout keep their place: concurrency 1 runs one at a time', async () => {
  const queue = new BoundedQueue<number>({ capacity: 8 });
  const { counts, call } = backend(50);
  const errors: unknown[] = [];
  const consumer = queue.consume(call, { concurrency: 1, timeout: 10, onError: (e) => errors.push(e) });
  for (let i = 0; i < 5; i++) await queue.put(i);
  queue.close();
  const done = track(consumer.done);
  await vi.advanceTimersByTimeAsync(20);
  expect([consumer.active, consumer.abandoned]).toEqual([1, 1]); // past its timeout, still running
  await vi.advanceTimersByTimeAsync(220);
  expect(done.status).toBe('pending'); // the fifth handler still runs
  await vi.advanceTimersByTimeAsync(10);
  expect(done.status).toBe('fulfilled');
  expect(counts).toEqual({ now: 0, most: 1, started: 5 });
  expect([consumer.active, consumer.abandoned]).toEqual([0, 0]);
  expect(errors).toHaveLength(5); // each timeout reported once
});

test("a fan-out stopped by a failed call, waiting for one that ignores its signal, still settles on the caller's abort", async () => {
  const controller = new AbortController();
  const result = track(
    fanOut([1, 2], (n) => (n === 1 ? Promise.reject(new Error('item 1')) : new Promise(() => {})), {
      window: 2,
      signal: controller.signal,
    }),
  );
  await vi.advanceTimersByTimeAsync(10);
  expect(result.status).toBe('pending'); // waits for item 2, which it aborted
  controller.abort(new Error('stop'));
  await vi.advanceTimersByTimeAsync(0);
  expect((result.reason as Error).message).toBe('item 1'); // the first reason stands
});

test('a call the pool timed out stops the fan-out at once: nothing new starts while it winds down', async () => {
  const pool = new WorkerPool({ concurrency: 4, timeout: 10 });
  const started: number[] = [];
  const call = async (n: number) => {
    started.push(n);
    await new Promise((resolve) => setTimeout(resolve, n === 1 ? 50 : 4)); // item 1 ignores its signal
  };
  const result = track(fanOut([1, 2, 3, 4, 5, 6, 7, 8], call, { window: 2, pool }));
  await vi.advanceTimersByTimeAsync(10); // item 1 times out; items 2, 3 and 4 ran beside it
  expect(started).toEqual([1, 2, 3, 4]);
  await vi.advanceTimersByTimeAsync(100);
  expect(started).toEqual([1, 2, 3, 4]); // stopped at its first error, not when item 1 ended
  expect(result.reason).toBeInstanceOf(TimeoutError); // rejected once item 1 really ended
  await pool.shutdown();
});
