// Tasks written with abort-controller-x helpers run under the pool's signal and stop when it
// aborts: the helper's cleanup runs, its timers go, and the slot comes back.
import { delay, execute, isAbortError, race } from 'abort-controller-x';
import PQueue from 'p-queue';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { PQueuePool } from '../../src/adapters/p-queue.js';
import { ClosedError, TimeoutError } from '../../src/errors.js';
import { WorkerPool } from '../../src/pool/index.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

test('execute, delay and race stop on the run signal’s abort, cleaning up, and free their slots', async () => {
  const errors: unknown[] = [];
  const pool = new WorkerPool({ concurrency: 3, onError: (e) => errors.push(e) });
  const cleanups: string[] = [];
  const controller = new AbortController();
  const { signal } = controller;
  const viaExecute = pool.run(
    (s) =>
      execute<string>(s, (resolve) => {
        const timer = setTimeout(() => resolve('executed'), 1_000);
        return () => {
          clearTimeout(timer);
          cleanups.push('execute');
        };
      }),
    { signal },
  );
  const viaDelay = pool.run(
    async (s) => {
      await delay(s, 1_000);
      return 'delayed';
    },
    { signal },
  );
  const viaRace = pool.run(
    (s) => race(s, (inner) => [delay(inner, 500).then(() => 'a'), delay(inner, 800).then(() => 'b')]),
    { signal },
  );
  await vi.advanceTimersByTimeAsync(100);
  expect(vi.getTimerCount()).toBe(4);
  const reason = new Error('client went away');
  controller.abort(reason);
  for (const run of [viaExecute, viaDelay, viaRace]) await expect(run).rejects.toBe(reason);
  await pool.idle({ timeout: 0 }).catch(() => {});
  await vi.advanceTimersByTimeAsync(0);
  expect(cleanups).toEqual(['execute']);
  expect(vi.getTimerCount()).toBe(0); // every helper timer was cleared: nothing runs on
  expect([pool.active, pool.abandoned]).toEqual([0, 0]);
  expect(errors).toEqual([]); // their AbortErrors are the abort coming back, not failures
});

test('a pool timeout and a shutdown reach the helpers too, through a front as well', async () => {
  const pool = new WorkerPool({ concurrency: 2, timeout: 200 });
  const seen: unknown[] = [];
  const task = async (s: AbortSignal) => {
    try {
      await delay(s, 10_000);
    } catch (error) {
      seen.push(isAbortError(error) ? 'AbortError' : (error as Error).name);
      throw error;
    }
  };
  const timedOut = expect(pool.run(task)).rejects.toThrow(TimeoutError);
  await vi.advanceTimersByTimeAsync(200);
  await timedOut;

  const front = new PQueuePool(new PQueue({ concurrency: 1 }));
  const shutDown = front.run(task);
  await vi.advanceTimersByTimeAsync(10);
  await front.shutdown();
  await expect(shutDown).rejects.toThrow(ClosedError);
  await front.idle();
  await pool.idle();
  // delay() rejects with the signal's reason: the pool's own error reached inside the task.
  expect(seen).toEqual(['TimeoutError', 'ClosedError']);
  expect(vi.getTimerCount()).toBe(0);
});
