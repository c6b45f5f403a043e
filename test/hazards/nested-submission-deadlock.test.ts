// Hazard: docs/hazards/nested-submission-deadlock.md (seed 004). A task that submits children to
// its own pool and awaits them holds its slot while they wait for one; once every slot is such a
// parent, nothing can run again.
import pLimit from 'p-limit';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { WorkerPool } from '../../src/pool/index.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const child = (name: string) => async () => {
  await new Promise((resolve) => setTimeout(resolve, 10)); // a chunk download
  return name;
};

test('with p-limit, 2 parents awaiting 3 children each through the same limit(2) never finish', async () => {
  const limit = pLimit(2);
  const parent = (p: number) => limit(() => Promise.all([1, 2, 3].map((c) => limit(child(`${p}.${c}`)))));
  let done = 0;
  for (const run of [parent(1), parent(2)]) run.then(() => done++);
  await vi.advanceTimersByTimeAsync(60_000);
  expect(done).toBe(0); // a minute of virtual time later: still waiting, and nothing will change
  expect([limit.activeCount, limit.pendingCount]).toEqual([2, 6]);
  limit.clearQueue();
});

test('with WorkerPool, 2 parents awaiting 3 children each at concurrency 2 complete', async () => {
  const pool = new WorkerPool({ concurrency: 2, name: 'storage' });
  const parent = (p: number) =>
    pool.run(() => Promise.all([1, 2, 3].map((c) => pool.run(child(`${p}.${c}`)))));
  const runs = Promise.all([parent(1), parent(2)]);
  await vi.advanceTimersByTimeAsync(10);
  expect(await runs).toEqual([
    ['1.1', '1.2', '1.3'],
    ['2.1', '2.2', '2.3'],
  ]);
  expect(pool.active).toBe(0);
});

test('children submitted after an await complete too: with the parent signal, or with asyncContext', async () => {
  const bySignal = new WorkerPool({ concurrency: 2 });
  const byContext = new WorkerPool({ concurrency: 2, asyncContext: true });
  const parent = (pool: WorkerPool, passSignal: boolean) =>
    pool.run(async (signal) => {
      await new Promise((resolve) => setTimeout(resolve, 5)); // look up which chunks to fetch
      return Promise.all([1, 2, 3].map((c) => pool.run(child(`${c}`), passSignal ? { signal } : undefined)));
    });
  const runs = Promise.all([
    parent(bySignal, true),
    parent(bySignal, true),
    parent(byContext, false),
    parent(byContext, false),
  ]);
  await vi.advanceTimersByTimeAsync(15);
  expect(await runs).toEqual(Array(4).fill(['1', '2', '3']));
});
