// Limiter workload for the Semaphore: N immediately-resolving async tasks through `run` at
// concurrency 1, 16 and 1024, beside p-limit, async-mutex and the hand-written floor.
//
//   node --expose-gc --import tsx bench/semaphore.ts [--items N] [--rounds R]

import { pathToFileURL } from 'node:url';
import { Semaphore as AsyncMutexSemaphore } from 'async-mutex';
import { Effect } from 'effect';
import pLimit from 'p-limit';
import { Semaphore } from '../src/index.js';
import { floorLimiter } from './floor/limiter.js';
import { FloorSemaphore } from './floor/semaphore.js';
import { compare, type Measured, table } from './harness.js';

const task = async () => 1;

function limiterWorkload(limit: (fn: () => Promise<number>) => Promise<number>, items: number) {
  return async () => {
    const all = new Array<Promise<number>>(items);
    for (let i = 0; i < items; i++) all[i] = limit(task);
    await Promise.all(all);
  };
}

export async function semaphoreRunBench(
  options: {
    items?: number;
    rounds?: number;
    sizes?: number[];
    asyncMutex?: boolean;
    progress?: (t: string) => void;
  } = {},
): Promise<Array<{ concurrency: number; results: Measured[] }>> {
  const items = options.items ?? 200_000;
  const out = [];
  for (const concurrency of options.sizes ?? [1, 16, 1024]) {
    const contenders = [
      { name: 'floor', run: limiterWorkload(floorLimiter(concurrency), items) },
      {
        name: 'unwedge Semaphore.run',
        run: (() => {
          const sem = new Semaphore(concurrency);
          return limiterWorkload((fn) => sem.run(fn), items);
        })(),
      },
      { name: 'p-limit', run: limiterWorkload(pLimit(concurrency), items) },
    ];
    if (options.asyncMutex) {
      const am = new AsyncMutexSemaphore(concurrency);
      contenders.push({
        name: 'async-mutex runExclusive',
        run: limiterWorkload((fn) => am.runExclusive(fn), items),
      });
    }
    const results = await compare(contenders, items, options.rounds ?? 5, options.progress);
    out.push({ concurrency, results });
  }
  return out;
}

/** Runs `pairs` acquire/release pairs split across `acquirers` concurrent loops. */
function pairsWorkload(acquireRelease: () => Promise<void>, pairs: number, acquirers: number) {
  return async () => {
    const each = Math.floor(pairs / acquirers);
    const loop = async () => {
      for (let i = 0; i < each; i++) await acquireRelease();
    };
    await Promise.all(Array.from({ length: acquirers }, loop));
  };
}

function effectPairs(permits: number, pairs: number, acquirers: number) {
  return () => {
    const each = Math.floor(pairs / acquirers);
    const program = Effect.gen(function* () {
      const sem = yield* Effect.makeSemaphore(permits);
      const loop = Effect.gen(function* () {
        for (let i = 0; i < each; i++) yield* sem.withPermits(1)(Effect.void);
      });
      yield* Effect.all(
        Array.from({ length: acquirers }, () => loop),
        { concurrency: 'unbounded', discard: true },
      );
    });
    return Effect.runPromise(program);
  };
}

/** Workload 2: acquire/release pairs, uncontended (1 acquirer) and contended (4 permits, 64 acquirers). */
export async function semaphorePairsBench(
  options: { pairs?: number; rounds?: number; progress?: (t: string) => void } = {},
) {
  const pairs = options.pairs ?? 1_000_000;
  const out = [];
  for (const [label, permits, acquirers] of [
    ['uncontended', 1, 1],
    ['contended: 4 permits, 64 acquirers', 4, 64],
  ] as const) {
    const sem = new Semaphore(permits);
    const floor = new FloorSemaphore(permits);
    const am = new AsyncMutexSemaphore(permits);
    const results = await compare(
      [
        {
          name: 'floor',
          run: pairsWorkload(
            async () => {
              await floor.acquire();
              floor.release();
            },
            pairs,
            acquirers,
          ),
        },
        {
          name: 'unwedge Semaphore',
          run: pairsWorkload(
            async () => {
              (await sem.acquire()).release();
            },
            pairs,
            acquirers,
          ),
        },
        {
          name: 'async-mutex Semaphore',
          run: pairsWorkload(
            async () => {
              const [, release] = await am.acquire();
              release();
            },
            pairs,
            acquirers,
          ),
        },
        { name: 'effect Semaphore', run: effectPairs(permits, pairs, acquirers) },
      ],
      pairs,
      options.rounds ?? 5,
      options.progress,
    );
    out.push({ label, permits, acquirers, results });
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? undefined : Number(process.argv[i + 1]);
  };
  const items = arg('--items') ?? 200_000;
  const runs = await semaphoreRunBench({
    items,
    rounds: arg('--rounds') ?? 5,
    progress: (t) => process.stderr.write(`${t}\r`),
  });
  for (const { concurrency, results } of runs) {
    console.log(table(`Semaphore.run, ${items} tasks, concurrency ${concurrency}`, results, 'floor'));
  }
  const pairs = arg('--pairs') ?? 1_000_000;
  for (const { label, results } of await semaphorePairsBench({ pairs, rounds: arg('--rounds') ?? 5 })) {
    console.log(table(`Semaphore acquire/release, ${pairs} pairs, ${label}`, results, 'floor', 'ns/pair'));
  }
}
