// No method reachable at runtime lifts a limit (issue 16): TypeScript's `private` is not enforced
// in JavaScript, and `sem.release()` once made a semaphore stop limiting anything. Every function
// on each primitive's runtime surface is called with the arguments an intruder could find (the
// internal waiter and running job included), and the limit must still hold.
import type { Redis } from 'ioredis';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { expect, test } from 'vitest';
import { LimitPool } from '../src/adapters/p-limit.js';
import { PQueuePool } from '../src/adapters/p-queue.js';
import { Lifecycle } from '../src/lifecycle/lifecycle.js';
import { FORCE_GRACE_MS } from '../src/lifecycle/run.js';
import { WorkerPool } from '../src/pool/index.js';
import { BoundedQueue } from '../src/queue/queue.js';
import { RedisSemaphore } from '../src/redis/index.js';
import { TaskRegistry } from '../src/registry/registry.js';
import { Semaphore } from '../src/semaphore/semaphore.js';
import { ticks } from './pool/contract.js';
import { deferred } from './support/promises.js';

/** Every function-valued property a caller can reach on `o`, by name (constructor excluded). */
function methodsOf(o: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = o; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const key of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, key)!;
      if (typeof d.value === 'function' && key !== 'constructor') names.add(key);
    }
  }
  return [...names].sort();
}

/** Calls `o[name]` with each argument list, ignoring what it throws or rejects with. */
async function poke(o: Record<string, unknown>, names: string[], argLists: unknown[][]): Promise<void> {
  for (const name of names) {
    for (const args of argLists) {
      try {
        const result = (o[name] as (...a: unknown[]) => unknown).apply(o, args);
        if (result instanceof Promise) result.catch(() => {});
      } catch {}
    }
  }
  await ticks();
}

test('the names an async-mutex user would try are not there', () => {
  const sem = new Semaphore(1) as unknown as Record<string, unknown>;
  const pool = new WorkerPool({ concurrency: 1 }) as unknown as Record<string, unknown>;
  for (const name of ['release', 'releaseAll', 'cancel', 'setValue', 'start', 'finish', 'begin', 'grant']) {
    expect(sem[name], `sem.${name}`).toBeUndefined();
    expect(pool[name], `pool.${name}`).toBeUndefined();
  }
});

test("the wait mechanism's hooks are not reachable on a Semaphore (they live on its private line)", async () => {
  const sem = new Semaphore(1) as unknown as Record<string, unknown>;
  const held = await (sem as unknown as Semaphore).acquire();
  const parked = (sem as unknown as Semaphore).acquire(); // a line to reach, if it could be reached
  for (const name of ['waiters', 'timeoutError', 'onLeave', 'describeWait', 'serve', 'holds']) {
    expect(sem[name], `sem.${name}`).toBeUndefined();
  }
  expect(
    methodsOf(sem).filter((name) => !['acquire', 'tryAcquire', 'run', 'wait', 'list'].includes(name)),
  ).toEqual([]);
  held.release();
  (await parked).release();
});

test("the wait mechanism's hooks are not reachable on a pool, a front, a queue or a registry", () => {
  const subjects = {
    WorkerPool: new WorkerPool({ concurrency: 1 }),
    PQueuePool: new PQueuePool(new PQueue({ concurrency: 1 })),
    LimitPool: new LimitPool(pLimit(1)),
    BoundedQueue: new BoundedQueue({ capacity: 1 }),
    TaskRegistry: new TaskRegistry(),
  };
  for (const [kind, subject] of Object.entries(subjects)) {
    const o = subject as unknown as Record<string, unknown>;
    for (const name of ['timeoutError', 'onLeave', 'describeWait']) {
      expect(o[name], `${kind}.${name}`).toBeUndefined();
    }
  }
  // A queue's lines themselves: `getters.waiters.drain()` would leave every get() pending forever.
  const queue = subjects.BoundedQueue as unknown as Record<string, unknown>;
  for (const name of ['putters', 'getters', 'joiners', 'waiters']) {
    expect(queue[name], `BoundedQueue.${name}`).toBeUndefined();
  }
});

test('no method of a Semaphore, called as release() or release(n), gives out more permits than it has', async () => {
  const sem = new Semaphore(1);
  const held = await sem.acquire();
  let running = 0;
  let most = 0;
  const queued = sem.run(async () => {
    running++;
    most = Math.max(most, running);
    await ticks(1);
    running--;
  });
  // `release()`, `release(1)`: what a user of async-mutex's Semaphore writes.
  const methods = methodsOf(sem).filter((name) => name !== 'run' && name !== 'acquire' && name !== 'wait');
  await poke(sem as unknown as Record<string, unknown>, methods, [[], [1], [5]]);
  expect(sem.available).toBe(0);
  expect(most).toBe(0); // the queued run() is still waiting for the held permit
  held.release();
  held.release(); // idempotent
  await queued;
  expect(most).toBe(1);
  expect(sem.available).toBe(1);
});

test('a RedisSemaphore shows its public surface only: the hooks of the wait core are on a private host', () => {
  // A client stub: constructing a RedisSemaphore sends nothing to Redis.
  const client = { evalsha() {}, duplicate() {}, status: 'ready', on() {} } as unknown as Redis;
  const sem = new RedisSemaphore(client, { key: 'surface', permits: 1 });
  expect(Object.keys(sem).sort()).toEqual(['key', 'leaseMs', 'name']);
  expect(methodsOf(sem)).toEqual(['acquire', 'acquireIfFree', 'close', 'inspect', 'run']);
  for (const name of ['waiters', 'timeoutError', 'onLeave', 'describeWait', 'release', 'grant']) {
    expect((sem as unknown as Record<string, unknown>)[name], `sem.${name}`).toBeUndefined();
  }
});

test('a Lifecycle shows its public surface only: its steps and its budget cannot be reached or changed', async () => {
  const life = new Lifecycle({ timeout: 100 });
  life.defer(() => new Promise(() => {}), { name: 'hangs' });
  expect(Object.keys(life)).toEqual(['name']);
  expect(methodsOf(life)).toEqual(['defer', 'handleSignals', 'shutdown', 'use']);
  for (const name of ['steps', 'run', 'report', 'stop', 'force', 'deadline']) {
    expect((life as unknown as Record<string, unknown>)[name], `life.${name}`).toBeUndefined();
  }
  expect(() => {
    (life as { timeout: number }).timeout = Number.POSITIVE_INFINITY;
  }).toThrow(TypeError);
  const t0 = performance.now();
  const report = await life.shutdown();
  expect(report.timeout).toBe(100);
  expect(performance.now() - t0).toBeLessThan(100 + FORCE_GRACE_MS + 500);
  expect(report.stragglers.map((s) => s.name)).toEqual(['hangs']);
});

const POOLS = [
  // onError: the pokes report internal records as late failures; keep them off stderr.
  ['WorkerPool', () => new WorkerPool({ concurrency: 1, onError: () => {} })],
  ['PQueuePool', () => new PQueuePool(new PQueue({ concurrency: 1 }), { onError: () => {} })],
] as const;

// Not the ways in (run, submit, enqueued: they add work that waits its turn) or out (shutdown, stop).
const POOL_METHODS = POOLS.flatMap(([kind, make]) =>
  methodsOf(make())
    .filter((name) => !['run', 'submit', 'enqueued', 'shutdown', 'stop'].includes(name))
    .map((name) => [kind, name, make] as const),
);

test.each(POOL_METHODS)(
  'no method of a %s (%s), called with its own jobs, runs more tasks than its concurrency',
  async (_, name, make) => {
    const pool = make();
    const gates = [deferred(), deferred()];
    let running = 0;
    let most = 0;
    const task = (i: number) => async () => {
      running++;
      most = Math.max(most, running);
      await gates[i]!.promise;
      running--;
    };
    const runs = [pool.run(task(0)), pool.run(task(1))];
    for (const run of runs) run.catch(() => {});
    await ticks();
    const internals = pool as unknown as Record<string, unknown> & { running: { head: unknown } };
    // The line of queued jobs is #private: a queued job cannot be found to poke with.
    expect(internals.waiters, 'the line of queued jobs').toBeUndefined();
    const runningJob = internals.running.head;
    await poke(internals, [name], [[], [1], [runningJob], [runningJob, 'x', true]]);
    expect(most).toBe(1);
    expect(pool.active).toBeLessThanOrEqual(1);
    gates[0]!.resolve();
    gates[1]!.resolve();
    await Promise.allSettled(runs);
    expect(most).toBe(1);
    await pool.shutdown();
  },
);
