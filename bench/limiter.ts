// Workloads 1, 5 and 6: a concurrency limiter under immediately-resolving tasks (speed and its
// growth with the number of tasks), heap bytes per queued task, and the cost of aborting queued tasks.
import { Semaphore as AsyncMutexSemaphore } from 'async-mutex';
import { Effect } from 'effect';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { Semaphore } from '../src/index.js';
import { floorLimiter, floorLimiterInContext } from './floor/limiter.js';
import { collect, compare, type Measured } from './harness.js';

export type Limit = (fn: () => Promise<number>) => Promise<number>;
export type Contender = { name: string; make: (concurrency: number) => Limit };

const task = async () => 1;

export const limiters: Contender[] = [
  { name: 'floor', make: (c) => floorLimiter(c) },
  // Keeps the caller's async context, as every unwedge primitive must: the fair floor for them.
  { name: 'floor (keeps context)', make: (c) => floorLimiterInContext(c) },
  {
    name: 'unwedge Semaphore.run',
    make: (c) => {
      const sem = new Semaphore(c);
      return (fn) => sem.run(fn);
    },
  },
  { name: 'p-limit', make: (c) => pLimit(c) },
  {
    name: 'p-queue',
    make: (c) => {
      const queue = new PQueue({ concurrency: c });
      return (fn) => queue.add(fn) as Promise<number>;
    },
  },
];

/** Registers another limiter (WorkerPool.run joins from its own module). */
export function addLimiter(contender: Contender, after = 'unwedge Semaphore.run'): void {
  limiters.splice(limiters.findIndex((l) => l.name === after) + 1, 0, contender);
}

function workload(limit: Limit, items: number) {
  return async () => {
    const all = new Array<Promise<number>>(items);
    for (let i = 0; i < items; i++) all[i] = limit(task);
    await Promise.all(all);
  };
}

function effectWorkload(concurrency: number, items: number) {
  const range = Array.from({ length: items }, (_, i) => i);
  return () =>
    Effect.runPromise(Effect.forEach(range, () => Effect.promise(task), { concurrency, discard: true }));
}

/** Workload 1: `items` tasks through each limiter at each concurrency, interleaved rounds. */
export async function limiterBench(
  options: { items?: number; rounds?: number; sizes?: number[]; progress?: (t: string) => void } = {},
): Promise<Array<{ concurrency: number; items: number; results: Measured[] }>> {
  const items = options.items ?? 200_000;
  const out = [];
  for (const concurrency of options.sizes ?? [1, 16, 1024]) {
    const contenders: Array<{ name: string; run: () => Promise<unknown> }> = limiters.map((l) => ({
      name: l.name,
      run: workload(l.make(concurrency), items),
    }));
    contenders.push({ name: 'effect forEach', run: effectWorkload(concurrency, items) });
    contenders.push({
      name: 'Promise.all (no limit)',
      run: () => Promise.all(Array.from({ length: items }, task)),
    });
    out.push({
      concurrency,
      items,
      results: await compare(contenders, items, options.rounds ?? 5, options.progress),
    });
  }
  return out;
}

/** Cost per task as the number of tasks grows, at concurrency 1 (async-mutex's queue is O(n)). */
export async function growthBench(
  options: {
    sizes?: number[];
    rounds?: number;
    asyncMutexUpTo?: number;
    progress?: (t: string) => void;
  } = {},
): Promise<Array<{ items: number; results: Measured[] }>> {
  const out = [];
  for (const items of options.sizes ?? [20_000, 200_000, 1_000_000]) {
    const contenders = limiters
      .filter((l) => l.name === 'floor' || l.name.startsWith('unwedge') || l.name === 'p-limit')
      .map((l) => ({ name: l.name, run: workload(l.make(1), items) }));
    if (items <= (options.asyncMutexUpTo ?? 200_000)) {
      const am = new AsyncMutexSemaphore(1);
      contenders.push({
        name: 'async-mutex runExclusive',
        run: workload((fn) => am.runExclusive(fn), items),
      });
    }
    out.push({ items, results: await compare(contenders, items, options.rounds ?? 3, options.progress) });
  }
  return out;
}

/** Workload 5: heap bytes per task waiting behind a limit of 1 (the caller's promise included). */
export async function memoryBench(
  options: { queued?: number } = {},
): Promise<Array<{ name: string; bytesPerTask: number }>> {
  const n = options.queued ?? 100_000;
  const contenders: Array<{ name: string; make: (c: number) => Limit }> = [
    ...limiters,
    {
      name: 'async-mutex runExclusive',
      make: (c) => {
        const am = new AsyncMutexSemaphore(c);
        return (fn) => am.runExclusive(fn);
      },
    },
  ];
  const out = [];
  for (const contender of contenders) {
    out.push({ name: contender.name, bytesPerTask: await bytesPerQueuedTask(contender.make(1), n) });
  }
  return out;
}

/** Heap bytes per task (the caller's promise included) with `n` tasks queued behind `limit`'s one slot. */
export async function bytesPerQueuedTask(limit: Limit, n: number): Promise<number> {
  let release!: (value: number) => void;
  const gate = new Promise<number>((resolve) => {
    release = resolve;
  });
  const blocker = limit(() => gate);
  const queued = new Array<Promise<number>>(n);
  collect();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) queued[i] = limit(task);
  collect();
  const after = process.memoryUsage().heapUsed;
  release(0);
  await Promise.all([blocker, ...queued]);
  return (after - before) / n;
}

/** Aborts `n` signals, each with one listener, and waits for the rejections: Node's own part. */
async function abortSignals(n: number): Promise<void> {
  const controllers = Array.from({ length: n }, () => new AbortController());
  const pending = controllers.map(
    ({ signal }) =>
      new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
      ),
  );
  for (const c of controllers) c.abort();
  await Promise.allSettled(pending);
  await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Workload 6: `n` queued tasks each aborted through its own signal: time per abort, and heap after. */
export async function abortBench(options: { queued?: number } = {}) {
  const n = options.queued ?? 100_000;
  type Aborter = {
    name: string;
    submit: (signal: AbortSignal) => Promise<unknown>;
    release: () => Promise<void>;
  };
  const makers: Array<() => Aborter> = [
    () => {
      const sem = new Semaphore(1);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const blocker = sem.run(() => gate);
      return {
        name: 'unwedge Semaphore.run',
        submit: (signal) => sem.run(task, { signal }),
        release: async () => {
          release();
          await blocker;
        },
      };
    },
    () => {
      const queue = new PQueue({ concurrency: 1 });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const blocker = queue.add(() => gate);
      return {
        name: 'p-queue',
        submit: (signal) => queue.add(task, { signal }),
        release: async () => {
          release();
          await blocker;
        },
      };
    },
  ];
  // The first time a process aborts this many signals with listeners, Node grows internal
  // bookkeeping (~4.5 MiB at 100,000 here) that it keeps and reuses: whoever ran first was charged
  // for it (unwedge showed 5.2 MiB retained, measured first; 86 KiB measured second). Pay it here.
  await abortSignals(n);
  const out = [];
  for (const make of makers) {
    collect();
    const baseline = process.memoryUsage().heapUsed;
    const aborter = make();
    const controllers = Array.from({ length: n }, () => new AbortController());
    const pending = controllers.map((c) => aborter.submit(c.signal).catch(() => 'aborted'));
    const started = process.hrtime.bigint();
    for (const c of controllers) c.abort();
    const outcomes = await Promise.all(pending);
    const ns = Number(process.hrtime.bigint() - started);
    if (outcomes.some((o) => o !== 'aborted')) throw new Error(`${aborter.name}: a task was not aborted`);
    await aborter.release();
    controllers.length = 0;
    pending.length = 0;
    // Let Node drop its per-signal bookkeeping (it does so in a later turn, after a GC).
    for (let i = 0; i < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      collect();
    }
    out.push({
      name: aborter.name,
      nsPerAbort: ns / n,
      heapRetainedBytes: process.memoryUsage().heapUsed - baseline,
    });
  }
  return out;
}
