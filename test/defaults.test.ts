// Deadlock and nested-submission detection are on by default where an active AsyncLocalStorage is
// free (Node >= 24 with AsyncContextFrame), and opt-in on Node 20 and 22, where it would make every
// promise in the process about 2.4x as costly (issue 16; docs/hazards/nested-semaphore-deadlock.md).
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { contextIsFree } from '../src/core/task.js';
import { DeadlockError, TimeoutError } from '../src/errors.js';
import { fanOut } from '../src/fan-out/fan-out.js';
import { WorkerPool } from '../src/pool/index.js';
import { Semaphore } from '../src/semaphore/semaphore.js';
import { track } from './support/promises.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const major = Number(process.versions.node.split('.')[0]);
const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
const framesOn = flags.includes('--no-async-context-frame')
  ? false
  : major >= 24 || flags.includes('--experimental-async-context-frame');

test(`contextIsFree is ${framesOn} on Node ${process.version} (AsyncContextFrame ${framesOn ? 'on' : 'off'})`, () => {
  expect(contextIsFree).toBe(framesOn);
});

test("seed 004's same-semaphore shape: DeadlockError by default where context is free, else it waits", async () => {
  const storage = new Semaphore(2, { name: 'storage' });
  const parent = (id: number) =>
    storage.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return fanOut([1, 2], async (n) => id * 10 + n, { window: 2, semaphores: [storage] });
    });
  const results = [track(parent(1)), track(parent(2))];
  await vi.advanceTimersByTimeAsync(10_000);
  if (contextIsFree) {
    for (const r of results) expect(r.reason).toBeInstanceOf(DeadlockError);
    expect(storage.available).toBe(2);
  } else {
    // opt-in on this line: the hang is real (as p-limit's would be), and explicit detection reports it
    expect(results.map((r) => r.status)).toEqual(['pending', 'pending']);
    const detected = new Semaphore(1, { detectDeadlocks: true });
    await expect(detected.run(() => detected.acquire())).rejects.toBeInstanceOf(DeadlockError);
  }
});

test('a child submitted after an await runs on its parent slot by default where context is free', async () => {
  const pool = new WorkerPool({ concurrency: 1 });
  const parent = track(
    pool.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return pool.run(async () => 'child', { queueTimeout: 100 }); // no signal passed
    }),
  );
  await vi.advanceTimersByTimeAsync(200);
  if (contextIsFree) expect(parent.value).toBe('child');
  else expect(parent.reason).toBeInstanceOf(TimeoutError); // queued behind its own parent until its queueTimeout
  await pool.shutdown();
});
