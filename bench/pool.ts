// WorkerPool.run beside the floor limiter, p-limit and p-queue: immediately-resolving tasks through
// concurrency 1, 16 and 1024 (interleaved rounds, GC before each), heap bytes per queued task, and
// the two costs its design avoids on the hot path: a per-task AbortSignal and AsyncLocalStorage.
//
//   node --expose-gc --import tsx bench/pool.ts [--items N] [--rounds R]
import { AsyncLocalStorage } from 'node:async_hooks';
import { pathToFileURL } from 'node:url';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { contextIsFree } from '../src/core/task.js';
import { WorkerPool } from '../src/pool/index.js';
import { floorLimiter, floorLimiterInContext } from './floor/limiter.js';
import { compare, type Measured, stats, table } from './harness.js';
import { addLimiter, bytesPerQueuedTask } from './limiter.js';

type Limit = (fn: () => Promise<number>) => Promise<number>;

const task = async () => 1;

/** A WorkerPool as a limiter; unbounded line, like the others (its default maxQueue is 1024). */
function workerPool(concurrency: number, asyncContext?: boolean): Limit {
  const pool = new WorkerPool({ concurrency, maxQueue: Number.POSITIVE_INFINITY, asyncContext });
  return (fn) => pool.run(fn);
}

// The benchmark suite (bench/run.ts) lists WorkerPool.run in its limiter tables too.
addLimiter({ name: 'unwedge WorkerPool.run', make: (c) => workerPool(c) });
// Where nested-run detection (`asyncContext`) is on by default (Node 24+), the same call without it.
if (contextIsFree) {
  addLimiter({
    name: 'unwedge WorkerPool.run (asyncContext: false)',
    make: (c) => workerPool(c, false),
    growthUpTo: 0,
  });
}

const contenders: Array<{ name: string; make: (concurrency: number) => Limit }> = [
  { name: 'floor', make: (c) => floorLimiter(c) },
  { name: 'floor (keeps context)', make: (c) => floorLimiterInContext(c) },
  { name: 'unwedge WorkerPool.run', make: (c) => workerPool(c) },
  { name: 'p-limit', make: (c) => pLimit(c) },
  {
    name: 'p-queue',
    make: (c) => {
      const queue = new PQueue({ concurrency: c });
      return (fn) => queue.add(fn) as Promise<number>;
    },
  },
];

function workload(limit: Limit, items: number) {
  return async () => {
    const all = new Array<Promise<number>>(items);
    for (let i = 0; i < items; i++) all[i] = limit(task);
    await Promise.all(all);
  };
}

/** `items` tasks through each contender at each concurrency, interleaved rounds. */
export async function poolRunBench(
  options: { items?: number; rounds?: number; sizes?: number[]; progress?: (t: string) => void } = {},
): Promise<Array<{ concurrency: number; items: number; results: Measured[] }>> {
  const items = options.items ?? 200_000;
  const out = [];
  for (const concurrency of options.sizes ?? [1, 16, 1024]) {
    const runs = contenders.map((c) => ({ name: c.name, run: workload(c.make(concurrency), items) }));
    out.push({
      concurrency,
      items,
      results: await compare(runs, items, options.rounds ?? 5, options.progress),
    });
  }
  return out;
}

/** Heap bytes per task waiting behind concurrency 1 (the caller's promise included), median of runs. */
export async function poolMemoryBench(
  options: { queued?: number; runs?: number } = {},
): Promise<Array<{ name: string; bytesPerTask: number }>> {
  const n = options.queued ?? 100_000;
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let run = 0; run < (options.runs ?? 3); run++) {
    for (const contender of contenders) {
      samples.get(contender.name)!.push(await bytesPerQueuedTask(contender.make(1), n));
    }
  }
  return [...samples].map(([name, values]) => ({ name, bytesPerTask: stats(values).median }));
}

/**
 * What the hot path avoids, measured: a task that declares its signal gets an AbortController of
 * its own (vs the pool's shared one), and `asyncContext: true` turns AsyncLocalStorage on for the
 * whole process. Run last: once on, AsyncLocalStorage stays on.
 */
export async function poolDesignBench(
  options: { items?: number; rounds?: number; concurrency?: number; progress?: (t: string) => void } = {},
) {
  const items = options.items ?? 200_000;
  const c = options.concurrency ?? 16;
  const signalTask = async (_signal: AbortSignal) => 1;
  const pool = new WorkerPool({ concurrency: c, maxQueue: Number.POSITIVE_INFINITY });
  const signals = await compare(
    [
      { name: 'floor', run: workload(floorLimiter(c), items) },
      { name: 'WorkerPool, task takes no signal (shared)', run: workload((fn) => pool.run(fn), items) },
      {
        name: 'WorkerPool, task declares its signal (own AbortController)',
        run: async () => {
          const all = new Array<Promise<number>>(items);
          for (let i = 0; i < items; i++) all[i] = pool.run(signalTask);
          await Promise.all(all);
        },
      },
    ],
    items,
    options.rounds ?? 5,
    options.progress,
  );
  let t = process.hrtime.bigint();
  for (let i = 0; i < items; i++) void new AbortController().signal;
  const abortControllerNs = Number(process.hrtime.bigint() - t) / items;
  // Now AsyncLocalStorage: on for the whole process from here.
  const storage = new AsyncLocalStorage<number>();
  storage.enterWith(0);
  const withContext = await compare(
    [
      { name: 'floor, AsyncLocalStorage on', run: workload(floorLimiter(c), items) },
      { name: 'WorkerPool, AsyncLocalStorage on', run: workload(workerPool(c), items) },
      { name: 'WorkerPool asyncContext: true', run: workload(workerPool(c, true), items) },
    ],
    items,
    options.rounds ?? 5,
    options.progress,
  );
  t = process.hrtime.bigint();
  for (let i = 0; i < items; i++) storage.run(i, noop);
  const alsRunNs = Number(process.hrtime.bigint() - t) / items;
  return { concurrency: c, items, signals, abortControllerNs, withContext, alsRunNs };
}

function noop(): void {}

const median = (rows: Measured[], name: string) => rows.find((r) => r.name === name)!.median;

/** Every figure for the report: speed ratios, bytes per queued task, and the design costs. */
export async function poolFigures(
  options: { items?: number; rounds?: number; progress?: (t: string) => void } = {},
) {
  const run = await poolRunBench(options);
  const memory = await poolMemoryBench();
  const design = await poolDesignBench(options);
  const bytes = (name: string) => memory.find((m) => m.name === name)!.bytesPerTask;
  const ratios = run.map(({ concurrency, results }) => {
    const pool = median(results, 'unwedge WorkerPool.run');
    return {
      concurrency,
      poolOverFloor: pool / median(results, 'floor'),
      pLimitOverPool: median(results, 'p-limit') / pool,
      pQueueOverPool: median(results, 'p-queue') / pool,
    };
  });
  const memoryRatio = bytes('unwedge WorkerPool.run') / bytes('floor');
  const targets = {
    withinFloor: ratios.every((r) => r.poolOverFloor <= 1.2),
    fasterThanPLimit: ratios.every((r) => r.pLimitOverPool >= 1.6),
    fasterThanPQueue: ratios.every((r) => r.pQueueOverPool >= 2.5),
    memory: memoryRatio <= 1.3,
  };
  return { run, memory, memoryRatio, design, ratios, targets };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? undefined : Number(process.argv[i + 1]);
  };
  const items = arg('--items') ?? 200_000;
  const figures = await poolFigures({
    items,
    rounds: arg('--rounds') ?? 5,
    progress: (t) => process.stderr.write(`${t}\r`),
  });
  for (const { concurrency, results } of figures.run) {
    console.log(table(`WorkerPool.run, ${items} tasks, concurrency ${concurrency}`, results, 'floor'));
  }
  console.log('### heap bytes per task queued behind concurrency 1 (100,000 queued)\n');
  console.log('| contender | bytes/task | × floor |\n|---|---:|---:|');
  const floorBytes = figures.memory.find((m) => m.name === 'floor')!.bytesPerTask;
  for (const m of figures.memory) {
    console.log(`| ${m.name} | ${m.bytesPerTask.toFixed(0)} | ${(m.bytesPerTask / floorBytes).toFixed(2)} |`);
  }
  const d = figures.design;
  console.log(`\n${table(`a task's signal, concurrency ${d.concurrency}`, d.signals, 'floor')}`);
  console.log(`new AbortController().signal alone: ${d.abortControllerNs.toFixed(0)} ns`);
  console.log(
    `\n${table('with AsyncLocalStorage on in the process', d.withContext, 'floor, AsyncLocalStorage on')}`,
  );
  console.log(`AsyncLocalStorage.run alone: ${d.alsRunNs.toFixed(0)} ns`);
  console.log('\ntargets:', JSON.stringify(figures.targets));
}
