// Hazard: docs/hazards/lost-async-context.md. A limiter that starts a queued function from inside
// whichever task freed the slot runs it in that task's async context: one request's logger, trace
// span and tenant id end up on another request's work.
import { AsyncLocalStorage } from 'node:async_hooks';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { expect, test } from 'vitest';
import { LimitPool } from '../../src/adapters/p-limit.js';
import { PQueuePool } from '../../src/adapters/p-queue.js';
import { fanOut } from '../../src/fan-out/fan-out.js';
import { WorkerPool } from '../../src/pool/index.js';
import { BoundedQueue } from '../../src/queue/queue.js';
import { TaskRegistry } from '../../src/registry/registry.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';

const als = new AsyncLocalStorage<{ req: number }>();
const REQUESTS = 20;

/** What each request's task saw as its request, before and after its first await. */
type Seen = Array<[before: number | undefined, after: number | undefined]>;

/**
 * Twenty requests, each in its own context, submit one task through `submit`; each task yields
 * (so that the others queue behind it) and records the request it sees.
 */
async function requests(submit: (task: () => Promise<void>, req: number) => Promise<unknown>): Promise<Seen> {
  const seen: Seen = [];
  await Promise.all(
    Array.from({ length: REQUESTS }, (_, req) =>
      als.run({ req }, () =>
        submit(async () => {
          const before = als.getStore()?.req;
          await new Promise((resolve) => setImmediate(resolve));
          seen[req] = [before, als.getStore()?.req];
        }, req),
      ),
    ),
  );
  return seen;
}

const own: Seen = Array.from({ length: REQUESTS }, (_, req) => [req, req]);

test('p-queue starts a queued task in the context of the task that freed its slot (the wrong pattern)', async () => {
  const queue = new PQueue({ concurrency: 1 });
  const seen = await requests((task) => queue.add(task));
  expect(seen).not.toEqual(own);
  expect(seen.filter(([before], req) => before !== req).length).toBeGreaterThan(REQUESTS / 2);
});

test('p-limit 7 keeps the caller context (it waits for its turn on a promise made by the caller)', async () => {
  const limit = pLimit(1);
  expect(await requests((task) => limit(task))).toEqual(own);
});

test.each([
  ['no options', undefined],
  ['a signal', () => ({ signal: new AbortController().signal })],
  ['a timeout', () => ({ timeout: 60_000 })],
  ['a queueTimeout', () => ({ queueTimeout: 60_000 })],
])('WorkerPool.run starts a queued task in its caller context (%s)', async (_, options) => {
  const pool = new WorkerPool({ concurrency: 1 });
  expect(await requests((task) => pool.run(task, options?.()))).toEqual(own);
  // and a task that takes the signal parameter (an own job) as well
  expect(await requests((task) => pool.run((_signal) => task(), options?.()))).toEqual(own);
});

test.each([
  ['no options', undefined],
  ['a signal', () => ({ signal: new AbortController().signal })],
  ['a timeout and weight 2', () => ({ timeout: 60_000, weight: 2 })],
])('Semaphore.run starts a queued callback in its caller context (%s)', async (_, options) => {
  const sem = new Semaphore(2);
  expect(await requests((task) => sem.run(task, options?.()))).toEqual(own);
});

test('Semaphore.run keeps the context with deadlock detection on', async () => {
  const sem = new Semaphore(1, { detectDeadlocks: true });
  expect(await requests((task) => sem.run(task))).toEqual(own);
});

test('the p-queue and p-limit fronts start a queued task in its caller context', async () => {
  const pq = new PQueuePool(new PQueue({ concurrency: 1 }));
  expect(await requests((task) => pq.run(task))).toEqual(own);
  expect(await requests((task) => pq.run(task, { signal: new AbortController().signal }))).toEqual(own);
  const pl = new LimitPool(pLimit(1));
  expect(await requests((task) => pl.run(task))).toEqual(own);
  expect(await requests((task) => pl.run(task, { timeout: 60_000 }))).toEqual(own);
});

test("fanOut calls run in the fanOut caller's context, through a shared semaphore and pool", async () => {
  const sem = new Semaphore(4); // lets calls reach the pool, where they queue
  const pool = new WorkerPool({ concurrency: 1 });
  const seen = await requests((task) => fanOut([1, 2], () => task(), { window: 2, semaphores: [sem], pool }));
  expect(seen).toEqual(own);
});

test("TaskRegistry.spawn runs the task in the spawner's context", async () => {
  const tasks = new TaskRegistry();
  expect(await requests((task) => tasks.spawn('t', task).done)).toEqual(own);
  await tasks.shutdown();
});

test("a consumer's handlers run in the context of the consume() call, never a producer's", async () => {
  const queue = new BoundedQueue<number>({ capacity: 100 });
  const seen: Array<number | undefined> = [];
  const consumer = als.run({ req: -1 }, () =>
    queue.consume(
      async () => {
        seen.push(als.getStore()?.req);
        await new Promise((resolve) => setImmediate(resolve));
        seen.push(als.getStore()?.req);
      },
      { concurrency: 2 },
    ),
  );
  await Promise.all(Array.from({ length: 10 }, (_, req) => als.run({ req }, () => queue.put(req))));
  await queue.join();
  queue.close();
  await consumer.done;
  expect(seen).toEqual(Array(20).fill(-1));
});
