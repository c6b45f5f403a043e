// Workloads 1, 5 and 6: a concurrency limiter under immediately-resolving tasks (speed and its
// growth with the number of tasks), heap bytes per queued task, and the cost of aborting queued tasks.
// Before workload 1, two checks per limiter, untimed: it never runs more than its concurrency at
// once (and reaches it), and whether a task that waited in line runs in its caller's async context.
import { AsyncLocalStorage } from 'node:async_hooks';
import { newQueue } from '@henrygd/queue';
import { Semaphore as AsyncMutexSemaphore } from 'async-mutex';
import { Sema } from 'async-sema';
import { bulkhead } from 'cockatiel';
import { Effect } from 'effect';
import fastq from 'fastq';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { contextIsFree } from '../src/core/task.js';
import { Semaphore } from '../src/index.js';
import { floorLimiter, floorLimiterInContext, floorLimiterTracking } from './floor/limiter.js';
import { collect, compare, type Measured } from './harness.js';

export type Limit = (fn: () => Promise<number>) => Promise<number>;
export type Contender = {
  name: string;
  make: (concurrency: number) => Limit;
  /** Not run in the growth workload (1b) past this many tasks: its line costs O(n) per task. */
  growthUpTo?: number;
  /** Not run in workload 1 past this many tasks (same reason); its cost is in 1b. */
  limiterUpTo?: number;
};

const task = async () => 1;

/** The name of the floor that tracks each task's context (`floorLimiterTracking`). */
export const TRACKING_FLOOR = 'floor (keeps context, knows its task)';

export const limiters: Contender[] = [
  { name: 'floor', make: (c) => floorLimiter(c) },
  // Keeps the caller's async context, as every unwedge primitive must: the fair floor for them.
  { name: 'floor (keeps context)', make: (c) => floorLimiterInContext(c) },
  // Where deadlock detection is on by default (Node 24+), its floor, and the same call without it.
  ...(contextIsFree
    ? [{ name: TRACKING_FLOOR, make: (c: number) => floorLimiterTracking(c), growthUpTo: 0 }]
    : []),
  {
    name: 'unwedge Semaphore.run',
    make: (c) => {
      const sem = new Semaphore(c);
      return (fn) => sem.run(fn);
    },
  },
  ...(contextIsFree
    ? [
        {
          name: 'unwedge Semaphore.run (detectDeadlocks: false)',
          make: (c: number): Limit => {
            const sem = new Semaphore(c, { detectDeadlocks: false });
            return (fn) => sem.run(fn);
          },
          growthUpTo: 0,
        },
      ]
    : []),
  { name: 'p-limit', make: (c) => pLimit(c) },
  {
    name: 'p-queue',
    make: (c) => {
      const queue = new PQueue({ concurrency: c });
      return (fn) => queue.add(fn) as Promise<number>;
    },
  },
  {
    name: '@henrygd/queue',
    make: (c) => {
      const queue = newQueue(c);
      return (fn) => queue.add(fn);
    },
  },
  {
    name: 'fastq',
    make: (c) => {
      const queue = fastq.promise((fn: () => Promise<number>) => fn(), c);
      return (fn) => queue.push(fn);
    },
  },
  {
    name: 'async-sema',
    make: (c) => {
      const sema = new Sema(c);
      return async (fn) => {
        await sema.acquire();
        try {
          return await fn();
        } finally {
          sema.release();
        }
      };
    },
  },
  {
    // Its line is an array it shift()s, O(n) per task once long (13 µs per task at 20,000 queued,
    // 115 µs at 200,000 on Node 20): at 200,000 tasks workload 1 alone took 7 more minutes per Node
    // line, so it runs in 1b only, to 20,000 tasks (200,000 took 92 s more there).
    name: 'cockatiel bulkhead',
    make: (c) => {
      const policy = bulkhead(c, Number.POSITIVE_INFINITY);
      return (fn) => policy.execute(fn);
    },
    growthUpTo: 20_000,
    limiterUpTo: 20_000,
  },
];

/** Registers another limiter (WorkerPool.run joins from its own module), after the last of unwedge's. */
export function addLimiter(contender: Contender): void {
  limiters.splice(limiters.findLastIndex((l) => l.name.startsWith('unwedge')) + 1, 0, contender);
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

/** One row of workload 1: a contender's figures, with what the checks found for a limiter. */
export type LimiterRow = Measured & {
  /** Whether a task that waited in line ran in its caller's async context (limiters only). */
  keepsContext?: boolean;
  /** The most tasks it ran at once in the concurrency check (limiters only): the concurrency. */
  maxInFlight?: number;
};

/** Workload 1: `items` tasks through each limiter at each concurrency, interleaved rounds. */
export async function limiterBench(
  options: { items?: number; rounds?: number; sizes?: number[]; progress?: (t: string) => void } = {},
): Promise<Array<{ concurrency: number; items: number; results: LimiterRow[] }>> {
  const items = options.items ?? 200_000;
  const keeps = new Map<string, boolean>();
  for (const l of limiters) keeps.set(l.name, await keepsCallersContext(l.make));
  const out = [];
  for (const concurrency of options.sizes ?? [1, 16, 1024]) {
    const inFlight = new Map<string, number>();
    for (const l of limiters)
      inFlight.set(l.name, await maxInFlight(l.name, l.make(concurrency), concurrency));
    const contenders: Array<{ name: string; run: () => Promise<unknown> }> = limiters
      .filter((l) => l.limiterUpTo === undefined || items <= l.limiterUpTo)
      .map((l) => ({ name: l.name, run: workload(l.make(concurrency), items) }));
    contenders.push({ name: 'effect forEach', run: effectWorkload(concurrency, items) });
    contenders.push({
      name: 'Promise.all (no limit)',
      run: () => Promise.all(Array.from({ length: items }, task)),
    });
    const results = await compare(contenders, items, options.rounds ?? 5, options.progress);
    out.push({
      concurrency,
      items,
      results: results.map((r): LimiterRow => {
        const keepsContext = keeps.get(r.name);
        return keepsContext === undefined ? r : { ...r, keepsContext, maxInFlight: inFlight.get(r.name)! };
      }),
    });
  }
  return out;
}

/**
 * The concurrency check: `4 × concurrency + 3` tasks that each hold their slot until the next
 * macrotask, through `limit`. Returns the most that ran at once; throws unless that is exactly
 * `concurrency` (more: it does not limit; fewer: it does not run what it may).
 */
export async function maxInFlight(name: string, limit: Limit, concurrency: number): Promise<number> {
  let running = 0;
  let max = 0;
  const held = async () => {
    max = Math.max(max, ++running);
    await new Promise((resolve) => setImmediate(resolve));
    running--;
    return 1;
  };
  await Promise.all(Array.from({ length: 4 * concurrency + 3 }, () => limit(held)));
  if (max !== concurrency) {
    throw new Error(`${name}: ran ${max} tasks at once with a concurrency of ${concurrency}`);
  }
  return max;
}

/**
 * The context probe: with concurrency 1, a task started in context 'releaser-A' holds the slot; a
 * task submitted from context 'caller-B' waits behind it and reads the context it runs in. True if
 * it sees 'caller-B'; a context-blind limiter starts it from the releasing task, in 'releaser-A'.
 */
export async function keepsCallersContext(make: (concurrency: number) => Limit): Promise<boolean> {
  const als = new AsyncLocalStorage<string>();
  try {
    const limit = make(1);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const holder = als.run('releaser-A', () =>
      limit(async () => {
        await gate;
        return 0;
      }),
    );
    let seen: string | undefined;
    const queued = als.run('caller-B', () =>
      limit(async () => {
        seen = als.getStore();
        return 1;
      }),
    );
    release();
    await Promise.all([holder, queued]);
    return seen === 'caller-B';
  } finally {
    // An enabled AsyncLocalStorage doubles the cost of every promise on Node 20 (async_hooks) for
    // as long as it stays enabled; disabled, the workloads after the probe run as without it.
    als.disable();
  }
}

/**
 * Cost per task as the number of tasks grows, at concurrency 1. async-mutex's line and cockatiel's
 * are O(n) per task: each runs up to `quadraticUpTo` tasks (`not run` past it).
 */
export async function growthBench(
  options: { sizes?: number[]; rounds?: number; quadraticUpTo?: number; progress?: (t: string) => void } = {},
): Promise<Array<{ items: number; results: Measured[] }>> {
  const upTo = options.quadraticUpTo ?? 200_000;
  const out = [];
  for (const items of options.sizes ?? [20_000, 200_000, 1_000_000]) {
    const contenders = limiters
      .filter((l) => l.name !== 'floor (keeps context)' && l.name !== 'p-queue')
      .filter((l) => l.growthUpTo === undefined || items <= Math.min(l.growthUpTo, upTo))
      .map((l) => ({ name: l.name, run: workload(l.make(1), items) }));
    if (items <= upTo) {
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
