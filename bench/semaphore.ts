// Limiter workload for the Semaphore: N immediately-resolving async tasks through `run` at
// concurrency 1, 16 and 1024, beside p-limit, async-mutex and the hand-written floor.
//
//   node --expose-gc --import tsx bench/semaphore.ts [--items N] [--rounds R]

import { pathToFileURL } from 'node:url';
import { Semaphore as AsyncMutexSemaphore } from 'async-mutex';
import pLimit from 'p-limit';
import { Semaphore } from '../src/index.js';
import { floorLimiter } from './floor/limiter.js';
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
}
